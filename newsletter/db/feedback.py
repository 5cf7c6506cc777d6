"""Queries of the `feedback` table (migration 0003): replies kept for the admin."""

from __future__ import annotations

import datetime as dt
import sqlite3

from newsletter.db import Database


def insert(
    db: Database,
    *,
    email: str,
    received_at: dt.datetime,
    subject: str,
    body: str,
    from_header: str,
    message_id: str | None,
) -> bool:
    """Store one reply; False when this message was already stored (a re-posted webhook)."""
    with db.tx() as conn:
        cursor = conn.execute(
            "INSERT OR IGNORE INTO feedback(email, received_at, subject, body, from_header, message_id)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (email, received_at.isoformat(), subject, body, from_header, message_id),
        )
        return cursor.rowcount == 1


def select(db: Database, *, email: str | None = None, limit: int | None = None) -> list[sqlite3.Row]:
    """Rows newest first, optionally for one address."""
    sql = "SELECT * FROM feedback"
    params: list[object] = []
    if email is not None:
        sql += " WHERE email=?"
        params.append(email)
    sql += " ORDER BY received_at DESC, id DESC"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return db.read().execute(sql, params).fetchall()


def after(db: Database, last_id: int) -> list[sqlite3.Row]:
    """Rows stored after the one with id `last_id`, oldest first."""
    return db.read().execute("SELECT * FROM feedback WHERE id > ? ORDER BY id", (last_id,)).fetchall()
