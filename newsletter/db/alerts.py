"""The `alerts` table (migration 0008): which admin alerts went out, so each is sent once."""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Literal

from newsletter.db import Database

# sent; logged (no admin address); failed (the send was refused or broke)
Outcome = Literal["sent", "logged", "failed"]


def already_sent(db: Database, kind: str, key: str) -> bool:
    row = db.read().execute("SELECT 1 FROM alerts WHERE kind=? AND key=?", (kind, key)).fetchone()
    return row is not None


def claim(db: Database, kind: str, key: str, subject: str, now: dt.datetime, outcome: Outcome) -> bool:
    """Record the alert; False when (kind, key) was recorded before."""
    try:
        with db.tx() as conn:
            conn.execute(
                "INSERT INTO alerts(kind, key, subject, sent_at, outcome) VALUES (?, ?, ?, ?, ?)",
                (kind, key, subject, now.isoformat(), outcome),
            )
    except sqlite3.IntegrityError:
        return False
    return True


def mark_failed(db: Database, kind: str, key: str) -> None:
    with db.tx() as conn:
        conn.execute("UPDATE alerts SET outcome='failed' WHERE kind=? AND key=?", (kind, key))


def release(db: Database, kind: str, key: str) -> None:
    """Forget the alert, so the next attempt sends it again."""
    with db.tx() as conn:
        conn.execute("DELETE FROM alerts WHERE kind=? AND key=?", (kind, key))


def last_feedback_id(db: Database) -> int:
    """The newest feedback row already forwarded (a feedback alert's key is that row's id); 0 if none."""
    row = db.read().execute("SELECT MAX(CAST(key AS INTEGER)) FROM alerts WHERE kind='feedback'").fetchone()
    return int(row[0] or 0)


def last_sent_at(db: Database, kind: str) -> dt.datetime | None:
    """When the newest alert of `kind` was recorded (sent, logged or failed); None if never."""
    row = db.read().execute("SELECT MAX(sent_at) FROM alerts WHERE kind=?", (kind,)).fetchone()
    return dt.datetime.fromisoformat(row[0]) if row[0] else None
