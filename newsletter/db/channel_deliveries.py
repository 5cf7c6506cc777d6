"""Channel deliveries: one row per (channel, digest date), claimed (→ sending) before the first
post and settled (→ sent / failed / unknown) after, each step its own committed transaction, as
`newsletter.db.deliveries` does for email. A crash between leaves `sending`, which the next run
turns into `unknown`: maybe posted, never posted again blindly.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from dataclasses import dataclass
from typing import Literal

from newsletter.db import Database

Status = Literal["sending", "sent", "failed", "unknown", "empty"]
HANDLED: tuple[Status, ...] = ("sent", "sending", "unknown", "empty")


@dataclass(frozen=True, slots=True)
class ChannelDelivery:
    channel: str
    digest_date: dt.date
    status: Status
    paper_ids: tuple[str, ...]
    parts: int
    parts_sent: int
    error: str | None
    attempts: int

    def is_final(self, max_send_runs: int) -> bool:
        return self.status in HANDLED or (self.status == "failed" and self.attempts >= max_send_runs)


def _row(r: sqlite3.Row) -> ChannelDelivery:
    return ChannelDelivery(r["channel"], dt.date.fromisoformat(r["digest_date"]), r["status"],
                           tuple(json.loads(r["paper_ids"])), r["parts"], r["parts_sent"], r["error"],
                           r["attempts"])


def for_date(db: Database, digest_date: dt.date) -> dict[str, ChannelDelivery]:
    rows = db.read().execute("SELECT * FROM channel_deliveries WHERE digest_date=?",
                             (digest_date.isoformat(),)).fetchall()
    return {str(r["channel"]).lower(): _row(r) for r in rows}


def with_status(db: Database, status: Status) -> list[ChannelDelivery]:
    rows = db.read().execute("SELECT * FROM channel_deliveries WHERE status=? ORDER BY digest_date, channel",
                             (status,)).fetchall()
    return [_row(r) for r in rows]


def begin(db: Database, channel: str, digest_date: dt.date, *, paper_ids: tuple[str, ...], parts: int,
          now: dt.datetime, status: Status = "sending") -> int | None:
    """Claim the day's post for `channel` (→ `sending`, or `empty`): the number of its messages
    already posted by an earlier try (a split digest goes on from there), or None when it is not
    ours to post (sent, in flight, unknown or empty)."""
    when, day = now.isoformat(), digest_date.isoformat()
    with db.tx() as conn:
        row = conn.execute("SELECT status, parts_sent, parts FROM channel_deliveries"
                           " WHERE channel=? AND digest_date=?", (channel, day)).fetchone()
        if row is not None and row["status"] != "failed":
            return None
        # A retry of the same split goes on after the parts already posted; a new split starts over.
        done = row["parts_sent"] if row is not None and row["parts"] == parts else 0
        conn.execute(
            "INSERT INTO channel_deliveries(channel, digest_date, status, paper_ids, parts, parts_sent,"
            " attempts, created_at, updated_at, sent_at) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?)"
            " ON CONFLICT(channel, digest_date) DO UPDATE SET status=excluded.status, error=NULL,"
            " paper_ids=excluded.paper_ids, parts=excluded.parts, parts_sent=excluded.parts_sent,"
            " attempts=channel_deliveries.attempts + 1, updated_at=excluded.updated_at,"
            " sent_at=excluded.sent_at",
            (channel, day, status, json.dumps(list(paper_ids)), parts, done, when, when,
             when if status == "empty" else None),
        )
    return int(done)


def mark_part_sent(
    db: Database, channel: str, digest_date: dt.date, parts_sent: int, now: dt.datetime
) -> None:
    """`parts_sent` messages of a split post are out: a retry goes on after them."""
    with db.tx() as conn:
        conn.execute("UPDATE channel_deliveries SET parts_sent=?, updated_at=?"
                     " WHERE channel=? AND digest_date=?",
                     (parts_sent, now.isoformat(), channel, digest_date.isoformat()))


def mark_sent(db: Database, channel: str, digest_date: dt.date, now: dt.datetime) -> None:
    with db.tx() as conn:
        conn.execute("UPDATE channel_deliveries SET status='sent', error=NULL, sent_at=?, updated_at=?"
                     " WHERE channel=? AND digest_date=?",
                     (now.isoformat(), now.isoformat(), channel, digest_date.isoformat()))


def mark_failed(db: Database, channel: str, digest_date: dt.date, *, error: str, now: dt.datetime,
                status: Literal["failed", "unknown"] = "failed") -> None:
    """`failed` (a later run tries again) or `unknown` (the post went out unanswered: not again)."""
    with db.tx() as conn:
        conn.execute("UPDATE channel_deliveries SET status=?, error=?, updated_at=?"
                     " WHERE channel=? AND digest_date=? AND status='sending'",
                     (status, error, now.isoformat(), channel, digest_date.isoformat()))


def recover_interrupted(db: Database, now: dt.datetime) -> list[ChannelDelivery]:
    """Posts a crash left in `sending` become `unknown` (maybe posted): returned, never reposted."""
    with db.tx() as conn:
        rows = conn.execute("SELECT * FROM channel_deliveries WHERE status='sending'").fetchall()
        conn.execute("UPDATE channel_deliveries SET status='unknown', updated_at=?,"
                     " error='interrupted between the post and its record' WHERE status='sending'",
                     (now.isoformat(),))
    return [_row(r) for r in rows]


def release_unknown(db: Database, now: dt.datetime, digest_date: dt.date | None = None) -> list[str]:
    """On the admin's word (--resend-unknown): `unknown` posts may be made again (→ failed)."""
    day = digest_date.isoformat() if digest_date else None
    with db.tx() as conn:
        rows = conn.execute("SELECT channel, digest_date FROM channel_deliveries WHERE status='unknown'"
                            " AND (? IS NULL OR digest_date=?)", (day, day)).fetchall()
        conn.execute("UPDATE channel_deliveries SET status='failed', attempts=0, updated_at=?"
                     " WHERE status='unknown' AND (? IS NULL OR digest_date=?)", (now.isoformat(), day, day))
    return [str(r["channel"]) for r in rows]


def posted_paper_ids(db: Database, channel: str, *, other_than: dt.date) -> set[str]:
    """Papers earlier days' posts carried to `channel` (it never gets the same paper twice)."""
    rows = db.read().execute(
        "SELECT paper_ids FROM channel_deliveries WHERE channel=? AND digest_date<>?"
        " AND status IN ('sent', 'unknown')", (channel, other_than.isoformat())).fetchall()
    return {arxiv_id for r in rows for arxiv_id in json.loads(r["paper_ids"])}


def reader_counts(db: Database, digest_date: dt.date) -> dict[str, int]:
    """For the lab view: each paper of `digest_date` → how many readers' digests carried it."""
    rows = db.read().execute("SELECT arxiv_id, COUNT(DISTINCT lower(email)) AS n FROM delivered_papers"
                             " WHERE digest_date=? GROUP BY arxiv_id", (digest_date.isoformat(),)).fetchall()
    return {str(r["arxiv_id"]): int(r["n"]) for r in rows}
