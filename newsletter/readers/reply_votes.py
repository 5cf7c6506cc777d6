"""Votes by reply: a reply whose own words are only votes (`+3 +7 -12`, `more 3 less 12`) or
`reset`. The numbers are those the digest shows (0-based, as the reference Markdown numbers its
papers; the HTML shows the same numbers), mapped through the digest the reply answers, found by
its In-Reply-To/References (our Message-ID carries the digest id). A reply that is not only votes,
or whose digest or numbers cannot be told, stays feedback for the admin: nothing is guessed.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from email.message import Message
from typing import Literal

from newsletter.db import Database
from newsletter.db import votes as vote_store
from newsletter.db.votes import Direction

log = logging.getLogger(__name__)

_UP_WORDS = {"more", "up", "like"}
_DOWN_WORDS = {"less", "down", "dislike"}
_RESET = re.compile(r"^\s*reset\s*[.!]?\s*$", re.IGNORECASE)
_TOKENS = re.compile(r"[+-]\s*#?\d+|\d+|[^\W\d_]+|\S")
_SEPARATORS = {",", ";", ".", "#", "/"}
_DIGEST_ID = re.compile(r"<(\d{8}-[0-9a-f]{16})\.digest@", re.IGNORECASE)
MAX_NUMBER = 999


def parse_votes(text: str) -> list[tuple[int, Direction]] | Literal["reset"] | None:
    """The votes a reader's words are made of, `reset`, or None when they say anything else."""
    if _RESET.match(text):
        return "reset"
    votes: list[tuple[int, Direction]] = []
    current: Direction | None = None
    pending = False  # a word waits for its number
    for token in _TOKENS.findall(text.lower()):
        if token[0] in "+-":
            number = int(token[1:].strip().lstrip("#"))
            votes.append((number, "up" if token[0] == "+" else "down"))
        elif token.isdigit() and current is not None:
            votes.append((int(token), current))
            pending = False
        elif token in _UP_WORDS or token in _DOWN_WORDS:
            if pending:
                return None
            current, pending = ("up" if token in _UP_WORDS else "down"), True
        elif token not in _SEPARATORS:
            return None
    if pending or not votes or any(n > MAX_NUMBER for n, _ in votes):
        return None
    return votes


def answered_digest_ids(headers: Message) -> list[str]:
    """Digest ids in In-Reply-To, then References (newest first): the digest a reply answers."""
    found: list[str] = []
    for name in ("In-Reply-To", "References"):
        ids = _DIGEST_ID.findall(str(headers.get(name, "") or ""))
        found.extend(reversed(ids) if name == "References" else ids)
    return [i.lower() for i in found]


Outcome = Literal["votes", "reset", "feedback"]


@dataclass(frozen=True, slots=True)
class ReplyVotes:
    outcome: Outcome
    recorded: int = 0
    why: str = ""  # when it stays feedback although it looked like votes


def handle_vote_reply(db: Database, email: str, words: str, headers: Message, now: dt.datetime) -> ReplyVotes:
    """Record the votes of a votes-only reply; `feedback` when the reply is something else."""
    parsed = parse_votes(words)
    if parsed is None:
        return ReplyVotes("feedback")
    if parsed == "reset":
        gone = vote_store.clear(db, email)
        log.info("a reader reset their votes (%d forgotten)", gone)
        return ReplyVotes("reset", gone)
    found = (vote_store.digest_papers(db, email, i) for i in answered_digest_ids(headers))
    digest = next((d for d in found if d), None)
    if digest is None:
        return ReplyVotes("feedback", why="votes, but the digest they answer is unknown")
    day, papers = digest
    if any(n >= len(papers) for n, _ in parsed):
        return ReplyVotes("feedback", why=f"votes for a number the {day} digest does not have")
    for number, vote in parsed:
        vote_store.put(db, email, papers[number], vote, source="reply", digest_date=day, now=now)
    log.info("recorded %d vote(s) by reply on the %s digest", len(parsed), day)
    return ReplyVotes("votes", len(parsed))
