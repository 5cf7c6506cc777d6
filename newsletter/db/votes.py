"""Queries of the `votes` table (migration 0013): each reader's current vote per paper."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from newsletter.db import Database
from newsletter.db.papers import papers_by_id
from newsletter.models import Paper

Direction = Literal["up", "down"]
VoteSource = Literal["click", "reply", "admin", "seed"]
# new: no vote was stored; changed: the other direction was; same: this very vote was (idempotent)
Stored = Literal["new", "changed", "same"]


@dataclass(frozen=True, slots=True)
class Vote:
    email: str
    arxiv_id: str
    vote: Direction
    source: VoteSource
    digest_date: dt.date | None
    at: str


def _vote(row: sqlite3.Row) -> Vote:
    day = row["digest_date"]
    return Vote(row["email"], row["arxiv_id"], row["vote"], row["source"],
                dt.date.fromisoformat(day) if day else None, row["at"])


def put(
    db: Database,
    email: str,
    arxiv_id: str,
    vote: Direction,
    *,
    source: VoteSource,
    digest_date: dt.date | None,
    now: dt.datetime,
) -> Stored:
    """Store a vote. The same vote again changes nothing (a double click, a replayed link, a
    reply after a click keep the first row); the other direction replaces it."""
    day = digest_date.isoformat() if digest_date else None
    with db.tx() as conn:
        row = conn.execute("SELECT vote FROM votes WHERE email=? AND arxiv_id=?",
                           (email, arxiv_id)).fetchone()
        if row is not None and row["vote"] == vote:
            return "same"
        conn.execute(
            "INSERT INTO votes(email, arxiv_id, vote, source, digest_date, at) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(email, arxiv_id) DO UPDATE SET vote=excluded.vote, source=excluded.source,"
            " digest_date=excluded.digest_date, at=excluded.at",
            (email, arxiv_id, vote, source, day, now.isoformat()),
        )
        return "new" if row is None else "changed"


def get(db: Database, email: str, arxiv_id: str) -> Vote | None:
    row = db.read().execute("SELECT * FROM votes WHERE email=? AND arxiv_id=?", (email, arxiv_id)).fetchone()
    return _vote(row) if row else None


def remove(db: Database, email: str, arxiv_id: str) -> bool:
    with db.tx() as conn:
        return conn.execute("DELETE FROM votes WHERE email=? AND arxiv_id=?", (email, arxiv_id)).rowcount == 1


def clear(db: Database, email: str) -> int:
    """Forget every vote of one reader (their `reset`); returns how many went."""
    with db.tx() as conn:
        return conn.execute("DELETE FROM votes WHERE email=?", (email,)).rowcount


def select(db: Database, *, email: str | None = None, limit: int | None = None) -> list[Vote]:
    """Votes newest first, optionally of one reader."""
    sql = "SELECT * FROM votes"
    params: list[object] = []
    if email is not None:
        sql += " WHERE email=?"
        params.append(email)
    sql += " ORDER BY at DESC, arxiv_id"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [_vote(row) for row in db.read().execute(sql, params).fetchall()]


def seed_ids(db: Database, email: str) -> set[str]:
    """The papers the reader named as seeds: they know them, so no digest brings them as new."""
    rows = db.read().execute("SELECT arxiv_id FROM votes WHERE email=? AND source='seed'", (email,))
    return {row["arxiv_id"] for row in rows.fetchall()}


def digests_with(db: Database, email: str, arxiv_id: str) -> list[dt.date]:
    """The dates of the digests that went (or may have gone) to `email` carrying this paper,
    newest first. A digest's paper list is JSON in `deliveries.paper_ids`."""
    rows = db.read().execute(
        "SELECT d.digest_date FROM deliveries d, json_each(d.paper_ids) p"
        " WHERE d.email=? AND p.value=? AND d.status IN ('sent', 'sending', 'unknown')"
        " ORDER BY d.digest_date DESC",
        (email, arxiv_id),
    ).fetchall()
    return [dt.date.fromisoformat(row[0]) for row in rows]


def last_mailed_with(db: Database, email: str, arxiv_id: str) -> dt.datetime | None:
    """When a digest carrying this paper last went (or may have gone) to `email`."""
    row = db.read().execute(
        "SELECT MAX(COALESCE(d.sent_at, d.updated_at)) FROM deliveries d, json_each(d.paper_ids) p"
        " WHERE d.email=? AND p.value=? AND d.status IN ('sent', 'sending', 'unknown')",
        (email, arxiv_id),
    ).fetchone()
    return dt.datetime.fromisoformat(row[0]) if row and row[0] else None


def digest_papers(db: Database, email: str, digest_id: str) -> tuple[dt.date, tuple[str, ...]] | None:
    """The date and the papers, in the order shown, of one digest of `email` (by its digest id,
    as our Message-ID carries it); None when that reader had no such digest."""
    row = db.read().execute(
        "SELECT digest_date, paper_ids FROM deliveries WHERE digest_id=? AND email=?"
        " AND status IN ('sent', 'sending', 'unknown')",
        (digest_id, email),
    ).fetchone()
    if row is None:
        return None
    return dt.date.fromisoformat(row["digest_date"]), tuple(json.loads(row["paper_ids"]))


def taught(db: Database, emails: Sequence[str], limit: int = 2000) -> list[tuple[Paper, int]]:
    """What the readers' votes teach the ranker: (paper, +1 up | -1 down), newest first.

    A vote whose paper text is gone (never fetched) is left out; retention keeps voted papers."""
    if not emails:
        return []
    marks = ",".join("?" * len(emails))
    rows = db.read().execute(
        f"SELECT arxiv_id, vote FROM votes WHERE email IN ({marks}) ORDER BY at DESC, arxiv_id LIMIT ?",  # noqa: S608
        (*emails, limit),
    ).fetchall()
    papers = papers_by_id(db, [row["arxiv_id"] for row in rows])
    return [(papers[row["arxiv_id"]], 1 if row["vote"] == "up" else -1)
            for row in rows if row["arxiv_id"] in papers]
