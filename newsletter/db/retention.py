"""Retention: what goes once it is older than NEWSLETTER_RETENTION_DAYS, and what never does.

Pruned: announcement days dated before the cut-off with their papers (unless a kept day lists the
paper too, or a reader voted on it), the scores of the papers gone or made before the cut-off, and
finished runs of days before it. Never touched: the suppression list and the tokens (an
unsubscribe holds forever), the deliveries and `delivered_papers` (which papers each reader
already had: no paper comes twice, however old), the feedback, the readers' votes (what the
ranker learns from; only the reader's `reset` or undo removes one), the alerts, SendGrid's events
and the audit days.

A batch of days is one transaction, so a prune stopped half-way leaves whole days, consistent;
the next prune takes the rest.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass

from newsletter.db import Database


@dataclass(frozen=True, slots=True)
class PruneCounts:
    days: int = 0  # announcement dates removed
    papers: int = 0
    scores: int = 0
    runs: int = 0

    def __add__(self, other: PruneCounts) -> PruneCounts:
        return PruneCounts(self.days + other.days, self.papers + other.papers, self.scores + other.scores,
                           self.runs + other.runs)


def old_dates(db: Database, before: dt.date) -> list[str]:
    rows = db.read().execute(
        "SELECT DISTINCT date FROM announcements WHERE date < ? ORDER BY date", (before.isoformat(),)
    ).fetchall()
    return [str(row[0]) for row in rows]


def _prune_days(conn: sqlite3.Connection, dates: list[str]) -> PruneCounts:
    marks = ",".join("?" * len(dates))
    # ON DELETE CASCADE takes the days' paper lists with them
    conn.execute(f"DELETE FROM announcements WHERE date IN ({marks})", dates)  # noqa: S608
    # a paper a reader voted on (or gave as a seed) keeps its text: the ranker learns from it
    papers = conn.execute(
        "DELETE FROM papers WHERE NOT EXISTS"
        " (SELECT 1 FROM announcement_papers ap WHERE ap.arxiv_id = papers.arxiv_id)"
        " AND NOT EXISTS (SELECT 1 FROM votes v WHERE v.arxiv_id = papers.arxiv_id)"
    ).rowcount
    return PruneCounts(days=len(dates), papers=papers)


def prune(db: Database, before: dt.date, *, batch_days: int = 20) -> PruneCounts:
    """Remove what is dated before `before` (see the module docstring); returns what went."""
    dates = old_dates(db, before)
    counts = PruneCounts()
    for start in range(0, len(dates), batch_days):
        with db.tx() as conn:
            counts += _prune_days(conn, dates[start : start + batch_days])
    with db.tx() as conn:
        scores = conn.execute(
            "DELETE FROM scores WHERE created_at < ? OR NOT EXISTS"
            " (SELECT 1 FROM papers p WHERE p.arxiv_id = scores.arxiv_id)",
            (before.isoformat(),),
        ).rowcount
        # a run still `running` may be a live one (or is closed as killed by the next run)
        runs = conn.execute(
            "DELETE FROM runs WHERE status != 'running'"
            " AND COALESCE(digest_date, substr(started_at, 1, 10)) < ?",
            (before.isoformat(),),
        ).rowcount
    return counts + PruneCounts(scores=scores, runs=runs)


def checkpoint(db: Database) -> None:
    """Move the write-ahead log into the file, so the file's size says what the data takes."""
    db.read().execute("PRAGMA wal_checkpoint(TRUNCATE)")


def free_bytes(db: Database) -> int:
    """How much of the file is pages freed by deletes, which SQLite fills again before it grows."""
    conn = db.read()
    (pages,) = conn.execute("PRAGMA freelist_count").fetchone()
    (size,) = conn.execute("PRAGMA page_size").fetchone()
    return int(pages) * int(size)


def vacuum(db: Database) -> None:
    """Give the freed pages back to the file system (rewrites the whole file; bench/retention.py)."""
    db.read().execute("VACUUM")
