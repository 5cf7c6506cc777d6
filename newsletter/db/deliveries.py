"""Deliveries: one row per (subscriber, digest date), moving pending → sending → sent | failed
(the moves are `delivery_transitions.py`'s). Here: the row, its states, and the reads of it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from dataclasses import dataclass
from typing import Literal

from newsletter.db import Database

Status = Literal["pending", "sending", "sent", "failed", "unknown", "empty"]
# A run may (re)start a delivery only from these; `unknown` needs the admin's --resend-unknown.
STARTABLE: tuple[Status, ...] = ("pending", "failed")
# The reader has had (or may have had) the day's digest: nothing more is due for that day.
HANDLED: tuple[Status, ...] = ("sent", "sending", "unknown", "empty")


@dataclass(frozen=True, slots=True)
class Delivery:
    email: str
    digest_date: dt.date
    digest_id: str
    status: Status
    paper_ids: tuple[str, ...]
    message_id: str | None
    provider_id: str | None
    error: str | None
    attempts: int
    updated_at: str
    sent_at: str | None

    def is_final(self, max_send_runs: int) -> bool:
        """Nothing more is tried for this digest: handled, or failed in `max_send_runs` runs
        (NEWSLETTER_MAX_SEND_RUNS), after which it is the admin's."""
        return self.status in HANDLED or (self.status == "failed" and self.attempts >= max_send_runs)


def delivery_from_row(r: sqlite3.Row) -> Delivery:
    return Delivery(
        email=r["email"],
        digest_date=dt.date.fromisoformat(r["digest_date"]),
        digest_id=r["digest_id"],
        status=r["status"],
        paper_ids=tuple(json.loads(r["paper_ids"])),
        message_id=r["message_id"],
        provider_id=r["provider_id"],
        error=r["error"],
        attempts=r["attempts"],
        updated_at=r["updated_at"],
        sent_at=r["sent_at"],
    )


def digest_id_for(email: str, digest_date: dt.date) -> str:
    """A stable id of one digest, sent to SendGrid as custom_args and used in Message-ID."""
    raw = f"{email.lower()}|{digest_date.isoformat()}".encode()
    return f"{digest_date:%Y%m%d}-{hashlib.sha256(raw).hexdigest()[:16]}"


def get(db: Database, email: str, digest_date: dt.date) -> Delivery | None:
    row = (
        db.read()
        .execute(
            "SELECT * FROM deliveries WHERE email=? AND digest_date=?",
            (email, digest_date.isoformat()),
        )
        .fetchone()
    )
    return delivery_from_row(row) if row else None


def for_date(db: Database, digest_date: dt.date) -> dict[str, Delivery]:
    rows = (
        db.read()
        .execute("SELECT * FROM deliveries WHERE digest_date=?", (digest_date.isoformat(),))
        .fetchall()
    )
    return {row["email"].lower(): delivery_from_row(row) for row in rows}


def with_status(db: Database, *statuses: Status) -> list[Delivery]:
    marks = ",".join("?" * len(statuses))
    rows = (
        db.read()
        .execute(
            f"SELECT * FROM deliveries WHERE status IN ({marks}) ORDER BY digest_date, email",  # noqa: S608
            statuses,
        )
        .fetchall()
    )
    return [delivery_from_row(row) for row in rows]


def count_under_write_lock(db: Database) -> int:
    """How many delivery rows there are, read while holding the write lock: proves the database
    can be written to (`newsletter check`) and writes nothing."""
    with db.tx() as conn:
        (count,) = conn.execute("SELECT COUNT(*) FROM deliveries").fetchone()
    return int(count)


def delivered_paper_ids(db: Database, email: str, *, other_than: dt.date | None = None) -> set[str]:
    """Papers some digest carried to `email`; with `other_than`, not counting that day's digest."""
    rows = db.read().execute(
        "SELECT arxiv_id FROM delivered_papers WHERE email=? AND digest_date IS NOT ?",
        (email, other_than.isoformat() if other_than else None),
    ).fetchall()
    return {row["arxiv_id"] for row in rows}


def last_deliveries(db: Database) -> dict[str, Delivery]:
    """Each address's newest delivery row."""
    rows = (
        db.read()
        .execute(
            "SELECT * FROM deliveries d WHERE digest_date = (SELECT MAX(digest_date) FROM deliveries"
            " WHERE email = d.email)"
        )
        .fetchall()
    )
    return {row["email"].lower(): delivery_from_row(row) for row in rows}


def covered_through(db: Database, email: str, *, before: dt.date) -> dt.date | None:
    """The newest digest date before `before` that `email` has had (or may have had): a digest
    covers the announcement days up to its date, so the next one starts after it. Failed rows do
    not count: their papers never went out, so the next digest carries those days."""
    marks = ",".join("?" * len(HANDLED))
    row = db.read().execute(
        f"SELECT MAX(digest_date) FROM deliveries WHERE email=? AND digest_date < ?"  # noqa: S608
        f" AND status IN ({marks})",
        (email, before.isoformat(), *HANDLED),
    ).fetchone()
    return dt.date.fromisoformat(row[0]) if row and row[0] else None
