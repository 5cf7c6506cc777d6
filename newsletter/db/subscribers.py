"""Per-address state kept in the database: unsubscribe tokens and the suppression list.

The roster CSV says who *should* get a digest; this says who must not, whatever the CSV says.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Literal

from newsletter.db import Database

SuppressionSource = Literal["reply", "one-click", "bounce", "complaint", "admin"]


def new_token() -> str:
    """160 random bits, lower-case base32: survives mail relays that fold the local part's case."""
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii").lower()


def feed_key(token: str) -> str:
    """The key of the reader's private feed: a one-way form of the token (160 bits, hex).

    The feed URL is handed to feed readers (often hosted services), so it must not carry the
    token, which also unsubscribes and is the reply address; from the key the token cannot be found.
    """
    return hashlib.sha256(b"arxiv-digest feed\0" + token.strip().lower().encode("ascii")).hexdigest()[:40]


def token_for(db: Database, email: str, now: dt.datetime) -> str:
    """The address's unsubscribe token, created on first use (its feed key stored with it)."""
    with db.tx() as conn:
        row = conn.execute("SELECT token, feed_key FROM subscriber_tokens WHERE email=?", (email,)).fetchone()
        if row is not None:
            if row["feed_key"] is None:  # a token from before the feed existed
                conn.execute("UPDATE subscriber_tokens SET feed_key=? WHERE email=?",
                             (feed_key(row["token"]), email))
            return str(row["token"])
        token = new_token()
        conn.execute("INSERT INTO subscriber_tokens(email, token, created_at, feed_key) VALUES (?, ?, ?, ?)",
                     (email, token, now.isoformat(), feed_key(token)))
        return token


def rotate_token(db: Database, email: str, now: dt.datetime) -> str:
    """A new token, and with it a new feed key: the old links all stop working."""
    token = new_token()
    with db.tx() as conn:
        conn.execute(
            "INSERT INTO subscriber_tokens(email, token, created_at, feed_key) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(email) DO UPDATE SET token=excluded.token, created_at=excluded.created_at,"
            " feed_key=excluded.feed_key",
            (email, token, now.isoformat(), feed_key(token)),
        )
    return token


def email_for_token(db: Database, token: str) -> str | None:
    row = db.read().execute(
        "SELECT email FROM subscriber_tokens WHERE token=?", (token.strip().lower(),)
    ).fetchone()
    return str(row["email"]) if row else None


@dataclass(frozen=True, slots=True)
class FeedReader:
    """Whose feed a key opens: the address and when its token was made."""

    email: str
    since: str


def reader_for_feed_key(db: Database, key: str) -> FeedReader | None:
    row = db.read().execute(
        "SELECT email, created_at FROM subscriber_tokens WHERE feed_key=?", (key.strip().lower(),)
    ).fetchone()
    return FeedReader(str(row["email"]), str(row["created_at"])) if row else None


@dataclass(frozen=True, slots=True)
class Suppression:
    email: str
    source: SuppressionSource
    at: str
    message_id: str | None
    detail: str
    confirmation_sent_at: str | None


def suppress(
    db: Database,
    email: str,
    source: SuppressionSource,
    now: dt.datetime,
    *,
    message_id: str | None = None,
    detail: str = "",
) -> bool:
    """Put an address on the suppression list; False when it was already there (kept as it was)."""
    with db.tx() as conn:
        cursor = conn.execute(
            "INSERT OR IGNORE INTO suppressions(email, source, at, message_id, detail)"
            " VALUES (?, ?, ?, ?, ?)",
            (email, source, now.isoformat(), message_id, detail),
        )
        return cursor.rowcount == 1


def unsuppress(db: Database, email: str) -> bool:
    with db.tx() as conn:
        return conn.execute("DELETE FROM suppressions WHERE email=?", (email,)).rowcount == 1


def is_suppressed(db: Database, email: str) -> bool:
    row = db.read().execute("SELECT 1 FROM suppressions WHERE email=?", (email,)).fetchone()
    return row is not None


def suppressions(db: Database) -> dict[str, Suppression]:
    rows = db.read().execute("SELECT * FROM suppressions ORDER BY at").fetchall()
    return {
        row["email"].lower(): Suppression(row["email"], row["source"], row["at"],
                                          row["message_id"], row["detail"],
                                          row["confirmation_sent_at"])
        for row in rows
    }


def mark_confirmation_sent(db: Database, email: str, now: dt.datetime) -> bool:
    """Claim the one confirmation email; False when it was already claimed."""
    with db.tx() as conn:
        cursor = conn.execute(
            "UPDATE suppressions SET confirmation_sent_at=? WHERE email=?"
            " AND confirmation_sent_at IS NULL",
            (now.isoformat(), email),
        )
        return cursor.rowcount == 1


def release_confirmation(db: Database, email: str) -> None:
    """Give back the claim of `mark_confirmation_sent` after the send failed, for a later try."""
    with db.tx() as conn:
        conn.execute("UPDATE suppressions SET confirmation_sent_at=NULL WHERE email=?", (email,))


def awaiting_confirmation(db: Database, sources: tuple[SuppressionSource, ...]) -> list[str]:
    """Suppressed addresses, from these sources, whose confirmation email has not gone out."""
    marks = ",".join("?" * len(sources))
    rows = db.read().execute(
        f"SELECT email FROM suppressions WHERE confirmation_sent_at IS NULL AND source IN ({marks})"  # noqa: S608
        " ORDER BY at",
        sources,
    ).fetchall()
    return [str(row["email"]) for row in rows]
