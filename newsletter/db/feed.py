"""The entries of the readers' private feeds: each sent digest's papers as the digest showed them.

`record` keeps a digest's entries when it is composed (a recomposed day replaces them); `entries`
gives a reader's feed, only of the digests whose delivery is `sent`; `prune` drops what the feed
no longer shows. The papers and scores tables are not enough: they are pruned on their own
schedule, and author matches and local scores are never stored there.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from newsletter.db import Database

FEED_DAYS = 30  # the feed lists the digests of the last this many days
MAX_AUTHORS = 25  # names kept per paper; beyond that a last "… and N more"


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One paper of one digest, as shown there (one-line, capped text)."""

    arxiv_id: str
    category: str
    title: str
    authors: tuple[str, ...]
    relevance: int
    novelty: int
    comment: str
    source: str  # llm | local | author


@dataclass(frozen=True, slots=True)
class SentEntry:
    """A feed entry with its digest: the day, the digest's id and when it was sent."""

    digest_date: dt.date
    digest_id: str
    position: int
    sent_at: str
    entry: FeedEntry


def kept_authors(names: Sequence[str]) -> tuple[str, ...]:
    """At most MAX_AUTHORS names: a collaboration's 3,000 would make every entry huge."""
    if len(names) <= MAX_AUTHORS:
        return tuple(names)
    shown = MAX_AUTHORS - 1
    return (*names[:shown], f"… and {len(names) - shown:,} more")


def record(db: Database, email: str, digest_date: dt.date, entries: Sequence[FeedEntry]) -> bool:
    """The digest's entries, replacing any an earlier composition of the same day left; False
    (nothing changed) once that day's digest is sent: what a feed showed never changes, which
    keeps its ETag (see `FeedState`) honest."""
    day = digest_date.isoformat()
    rows = [
        (email, day, position, e.arxiv_id, e.category, e.title, json.dumps(list(kept_authors(e.authors))),
         e.relevance, e.novelty, e.comment, e.source)
        for position, e in enumerate(entries)
    ]
    with db.tx() as conn:
        sent = conn.execute("SELECT 1 FROM deliveries WHERE email=? AND digest_date=? AND status='sent'",
                            (email, day)).fetchone()
        if sent is not None:
            return False
        conn.execute("DELETE FROM feed_entries WHERE email=? AND digest_date=?", (email, day))
        conn.executemany(
            "INSERT INTO feed_entries(email, digest_date, position, arxiv_id, category, title, authors,"
            " relevance, novelty, comment, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    return True


def _sent_entry(row: sqlite3.Row) -> SentEntry:
    entry = FeedEntry(row["arxiv_id"], row["category"], row["title"], tuple(json.loads(row["authors"])),
                      row["relevance"], row["novelty"], row["comment"], row["source"])
    return SentEntry(dt.date.fromisoformat(row["digest_date"]), row["digest_id"], row["position"],
                     row["sent_at"], entry)


_SENT = (" FROM feed_entries f JOIN deliveries d ON d.email = f.email AND d.digest_date = f.digest_date"
         " WHERE f.email = ? AND f.digest_date >= ? AND d.status = 'sent' AND d.sent_at IS NOT NULL")


def entries(db: Database, email: str, since: dt.date) -> list[SentEntry]:
    """The reader's entries of digests dated `since` or later that were sent: newest digest first,
    each digest's papers in its order (best first)."""
    rows = db.read().execute(
        "SELECT f.*, d.digest_id, d.sent_at" + _SENT + " ORDER BY f.digest_date DESC, f.position",
        (email, since.isoformat()),
    ).fetchall()
    return [_sent_entry(row) for row in rows]


@dataclass(frozen=True, slots=True)
class FeedState:
    """What decides a feed's content, read without reading the entries: sent entries never change
    (`record`), so the feed changes only when a digest is sent (count and newest send) or one
    leaves the window (count and oldest day)."""

    count: int
    newest_sent: str | None
    oldest_date: str | None

    @classmethod
    def of(cls, sent: Sequence[SentEntry]) -> FeedState:
        if not sent:
            return cls(0, None, None)
        return cls(len(sent), max(e.sent_at for e in sent), min(e.digest_date for e in sent).isoformat())


def state(db: Database, email: str, since: dt.date) -> FeedState:
    """`FeedState.of(entries(db, email, since))`, from one aggregate query."""
    row = db.read().execute(
        "SELECT COUNT(*), MAX(d.sent_at), MIN(f.digest_date)" + _SENT, (email, since.isoformat())
    ).fetchone()
    return FeedState(int(row[0]), row[1], row[2])


def prune(db: Database, before: dt.date) -> int:
    """Drop the entries of digests dated before `before`; returns how many went."""
    with db.tx() as conn:
        return conn.execute("DELETE FROM feed_entries WHERE digest_date < ?", (before.isoformat(),)).rowcount
