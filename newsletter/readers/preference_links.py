"""The preferences page's link and form tokens (the same scheme as the vote links, readers/votes.py).

The link `<public url>/preferences/<reader token>/<stamp>.<MAC>` names the reader by their secret
token (the credential, as in the unsubscribe link) and carries a MAC, keyed by that token, over
when the digest holding it was made: an altered link, or one reader's token with another's MAC,
fails, and a link from a digest older than LINK_MAX_AGE has expired. Each form on the page carries
its purpose, the reader's settings revision (db/preferences.py) and a MAC over both and the time
the page was made (the CSRF token): good for FORM_MAX_AGE, and only while no other change came
between, so a replayed or stale form changes nothing.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from newsletter.db import Database
from newsletter.db import subscribers as subs
from newsletter.readers.votes import LINK_MAX_AGE, stamped, stamped_age

FORM_MAX_AGE = dt.timedelta(hours=24)
_CLOCK_SKEW = dt.timedelta(minutes=5)
_TOKEN = re.compile(r"[a-z0-9]{16,128}")

LinkRefusal = Literal["unknown-token", "forged", "expired"]
LINK_REFUSALS: dict[LinkRefusal, str] = {
    "unknown-token": "This link is not valid (any more). Open the settings link of your latest digest.",
    "forged": "This link has been altered. Open the settings link of your latest digest.",
    "expired": "This link has expired. Open the settings link of your latest digest.",
}
FormRefusal = Literal["forged", "expired"]


def link_mark(token: str, now: dt.datetime) -> str:
    return stamped(token, "prefs", "link", now)


def preferences_url(public_url: str, token: str, now: dt.datetime) -> str:
    """Stamped with the UTC day it was made, not the second: a digest composed twice the same day
    (a dry run, then the run) reads the same, and a year's expiry needs no finer time."""
    day = now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return f"{public_url}/preferences/{token}/{link_mark(token, day)}"


def check_link(db: Database, token: str, mark: str, now: dt.datetime) -> str | LinkRefusal:
    """Whose page a link opens (their address), or why it opens none. Reads only."""
    email = subs.email_for_token(db, token) if _TOKEN.fullmatch(token) else None
    if email is None:
        return "unknown-token"
    age = stamped_age(token, "prefs", "link", mark, now)
    if age is None:
        return "forged"
    if age > LINK_MAX_AGE:  # a stamp from the future is the token holder's own: harmless
        return "expired"
    return email


def form_token(token: str, purpose: str, revision: int, now: dt.datetime) -> str:
    return stamped(token, "prefs-form", f"{purpose}|{revision}", now)


def check_form(token: str, purpose: str, revision: str, value: str, now: dt.datetime) -> int | FormRefusal:
    """The revision a form was made at, or why it is refused (missing or altered: forged)."""
    if not revision.isdigit() or len(revision) > 18:
        return "forged"
    age = stamped_age(token, "prefs-form", f"{purpose}|{revision}", value, now)
    if age is None:
        return "forged"
    if age > FORM_MAX_AGE or age < -_CLOCK_SKEW:
        return "expired"
    return int(revision)
