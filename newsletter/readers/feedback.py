"""Replies that are not an unsubscribe: stored for the admin, listed by `newsletter feedback`."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from newsletter.db import Database
from newsletter.db import feedback as feedback_db

log = logging.getLogger(__name__)

# A reply is read by a person, not archived: a pasted log or a forwarded thread gets cut here.
MAX_BODY_CHARS = 20_000
MAX_SUBJECT_CHARS = 500


@dataclass(frozen=True, slots=True)
class Feedback:
    id: int
    email: str
    received_at: dt.datetime
    subject: str
    body: str
    from_header: str
    message_id: str | None


def record_feedback(
    db: Database,
    *,
    email: str,
    subject: str,
    body: str,
    now: dt.datetime,
    message_id: str | None = None,
    from_header: str = "",
) -> bool:
    """Keep a reply; False when the same message (by Message-ID) was already kept."""
    stored = feedback_db.insert(
        db,
        email=email,
        received_at=now,
        subject=subject[:MAX_SUBJECT_CHARS],
        body=body[:MAX_BODY_CHARS],
        from_header=from_header[:MAX_SUBJECT_CHARS],
        message_id=message_id,
    )
    if not stored:
        log.info("feedback already stored (message re-posted)")
    return stored


def list_feedback(db: Database, *, email: str | None = None, limit: int | None = None) -> list[Feedback]:
    """Kept replies, newest first."""
    return [
        Feedback(
            id=row["id"],
            email=row["email"],
            received_at=dt.datetime.fromisoformat(row["received_at"]),
            subject=row["subject"],
            body=row["body"],
            from_header=row["from_header"],
            message_id=row["message_id"],
        )
        for row in feedback_db.select(db, email=email, limit=limit)
    ]
