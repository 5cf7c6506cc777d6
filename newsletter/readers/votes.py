"""The reader's voice: "more like this" / "less like this" on a paper of their digest.

A vote comes from a link in the digest (`click`), a reply such as `+3 -7` (`reply`), the admin
(`admin`) or, later, seed papers (`seed`). Every path goes through `record_vote`, which refuses a
paper that none of the reader's digests carried, and is idempotent (the same vote twice changes
nothing). Links carry the reader's secret token (160 random bits, newsletter/db/subscribers.py)
and a MAC over paper and direction keyed by that token, so a link cannot be turned into a vote on
another paper or by another reader; the vote page's form carries a second, short-lived MAC (the
CSRF token), so only a POST made from that page records anything: a scanner's GET never does.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

from newsletter.db import Database
from newsletter.db import subscribers as subs
from newsletter.db import votes as vote_store
from newsletter.db.votes import Direction, Stored, VoteSource

# A link in a digest mailed longer ago than this has expired: it records nothing and says so.
# (From when it was mailed, not the announcement date: `newsletter run --date` of an old day sends
# links that must work.)
LINK_MAX_AGE = dt.timedelta(days=365)
# How long the button on a vote page stays good (the page's CSRF token).
FORM_MAX_AGE = dt.timedelta(hours=24)
_CLOCK_SKEW = dt.timedelta(minutes=5)
DIRECTIONS: tuple[Direction, ...] = ("up", "down")
LABELS: dict[Direction, str] = {"up": "More like this", "down": "Less like this"}

Refusal = Literal["unknown-token", "forged", "not-in-digest", "expired", "unsubscribed"]
REFUSALS: dict[Refusal, str] = {
    "unknown-token": "This link is not valid (any more): no vote was recorded.",
    "forged": "This link has been altered: no vote was recorded.",
    "not-in-digest": "This paper was never in your digest: no vote was recorded.",
    "expired": "This link has expired: no vote was recorded.",
    "unsubscribed": "This address gets no more digests (it unsubscribed): no vote was recorded.",
}


def _mac(key: str, message: str, length: int = 8) -> str:
    digest = hmac.new(key.encode(), message.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:length]).decode("ascii").rstrip("=").lower()


def _same(given: str, expected: str) -> bool:
    """Constant-time; as bytes, since a str compare refuses the non-ASCII a forged URL may hold."""
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("ascii"))


def link_signature(token: str, arxiv_id: str, vote: Direction) -> str:
    """40 bits binding a link to one paper and one direction, keyed by the reader's token (the
    token is the credential; this only makes an altered link fail). Short: 60 links a digest."""
    return _mac(token, f"vote|{arxiv_id}|{vote}", length=5)


def link_mark(token: str, arxiv_id: str, vote: Direction) -> str:
    """The link's middle part: `u` or `d`, then the signature."""
    return vote[0] + link_signature(token, arxiv_id, vote)


def vote_url(public_url: str, token: str, arxiv_id: str, vote: Direction) -> str:
    """`<public url>/v/<reader token>/<u|d><signature>/<arXiv id>`: short, as a digest has 60."""
    return f"{public_url}/v/{token}/{link_mark(token, arxiv_id, vote)}/{quote(arxiv_id, safe='/')}"


def vote_urls(public_url: str, token: str, arxiv_ids: tuple[str, ...]) -> dict[str, tuple[str, str]]:
    """Per paper, its (more like this, less like this) links, as the renderer takes them."""
    return {i: (vote_url(public_url, token, i, "up"), vote_url(public_url, token, i, "down"))
            for i in arxiv_ids}


def stamped(token: str, kind: str, subject: str, now: dt.datetime) -> str:
    """`<unix time>.<MAC>`: a MAC keyed by the reader's token over what it is for (`kind`, and
    `subject`: a paper, a form's purpose) and when it was made. The vote page's CSRF token, and
    the preferences page's link and form tokens (readers/preference_links.py)."""
    stamp = str(int(now.timestamp()))
    return f"{stamp}.{_mac(token, f'{kind}|{stamp}|{subject}')}"


def stamped_ok(token: str, kind: str, subject: str, value: str, now: dt.datetime,
               max_age: dt.timedelta) -> bool:
    """`value` is `stamped(token, kind, subject, t)` for a `t` at most `max_age` ago."""
    return stamped_age(token, kind, subject, value, now) is not None and _fresh(value, now, max_age)


def stamped_age(token: str, kind: str, subject: str, value: str, now: dt.datetime) -> dt.timedelta | None:
    """How old a genuine stamped value is; None when it is not genuine (altered, another reader's)."""
    stamp, _, mac = value.partition(".")
    if not stamp.isdigit() or len(stamp) > 12:
        return None
    if not _same(mac, _mac(token, f"{kind}|{stamp}|{subject}")):
        return None
    return now - dt.datetime.fromtimestamp(int(stamp), tz=dt.UTC)


def _fresh(value: str, now: dt.datetime, max_age: dt.timedelta) -> bool:
    issued = dt.datetime.fromtimestamp(int(value.partition(".")[0]), tz=dt.UTC)
    return now - max_age <= issued <= now + _CLOCK_SKEW


def form_token(token: str, arxiv_id: str, now: dt.datetime) -> str:
    """`<time>.<MAC>`: a MAC keyed by `token` over the time and `arxiv_id`. Any secret key and
    subject serve: the sign-up page keys it with a server key over its purpose (readers/signup.py)."""
    return stamped(token, "form", arxiv_id, now)


def form_token_ok(token: str, arxiv_id: str, value: str, now: dt.datetime, *,
                  max_age: dt.timedelta = FORM_MAX_AGE) -> bool:
    return stamped_ok(token, "form", arxiv_id, value, now, max_age)


@dataclass(frozen=True, slots=True)
class LinkTarget:
    """What a valid link names: whose vote, on which paper, from which digest."""

    email: str
    arxiv_id: str
    vote: Direction
    digest_date: dt.date


def check_link(db: Database, token: str, mark: str, arxiv_id: str, now: dt.datetime) -> LinkTarget | Refusal:
    """Whom a vote link speaks for, or why it speaks for no one. Reads only."""
    email = subs.email_for_token(db, token) if re.fullmatch(r"[a-z0-9]{16,128}", token) else None
    if email is None:
        return "unknown-token"
    direction: Direction = "up" if mark[:1] == "u" else "down"
    if mark[:1] not in ("u", "d") or not _same(mark, link_mark(token, arxiv_id, direction)):
        return "forged"
    if subs.is_suppressed(db, email):  # "your digest will learn" would be untrue; said only to a valid link
        return "unsubscribed"
    dates = vote_store.digests_with(db, email, arxiv_id)
    if not dates:
        return "not-in-digest"
    mailed = vote_store.last_mailed_with(db, email, arxiv_id)
    if mailed is not None and now - mailed > LINK_MAX_AGE:
        return "expired"
    return LinkTarget(email, arxiv_id, direction, dates[0])


class VoteRefused(ValueError):
    """A vote that must not be stored; the message says why, naming reader and paper."""


def record_vote(
    db: Database,
    email: str,
    arxiv_id: str,
    vote: Direction,
    *,
    source: VoteSource,
    now: dt.datetime,
) -> Stored:
    """Store a vote on a paper one of the reader's digests carried (the newest such digest is
    recorded with it). Raises VoteRefused for any other paper."""
    if vote not in DIRECTIONS:
        raise VoteRefused(f"a vote is 'up' or 'down', not {vote!r}")
    dates = vote_store.digests_with(db, email, arxiv_id)
    if not dates:
        raise VoteRefused(f"{arxiv_id} was never in a digest sent to {email}: no vote recorded")
    return vote_store.put(db, email, arxiv_id, vote, source=source, digest_date=dates[0], now=now)


def undo_vote(db: Database, email: str, arxiv_id: str) -> bool:
    return vote_store.remove(db, email, arxiv_id)
