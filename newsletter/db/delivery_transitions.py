"""The moves of a delivery row: pending → sending → sent | failed, and `unknown` for a send whose
answer never came (see `deliveries.py` for the row and its reads).

Each transition is its own committed transaction, before and after the call to the provider, so
a crash between the two leaves `sending` behind — which the next run turns into `unknown` instead
of sending blindly a second time.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

from newsletter.db import Database
from newsletter.db.deliveries import STARTABLE, Delivery, Status, delivery_from_row, digest_id_for


def begin(
    db: Database,
    email: str,
    digest_date: dt.date,
    *,
    paper_ids: tuple[str, ...],
    message_id: str,
    now: dt.datetime,
    status: Status = "sending",
) -> bool:
    """Claim the delivery (→ `sending`, or `empty` for a day with nothing to send).

    False when it is not ours to send: already sent, in flight, unknown, or the address is
    suppressed — the suppression list is read in the same transaction, right before the send.
    """
    when = now.isoformat()
    with db.tx() as conn:
        if conn.execute("SELECT 1 FROM suppressions WHERE email=?", (email,)).fetchone():
            return False
        row = conn.execute(
            "SELECT status FROM deliveries WHERE email=? AND digest_date=?",
            (email, digest_date.isoformat()),
        ).fetchone()
        if row is not None and row["status"] not in STARTABLE:
            return False
        conn.execute(
            "INSERT INTO deliveries(email, digest_date, digest_id, status, paper_ids, message_id,"
            " attempts, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)"
            " ON CONFLICT(email, digest_date) DO UPDATE SET status=excluded.status,"
            " paper_ids=excluded.paper_ids, message_id=excluded.message_id, error=NULL,"
            " attempts=deliveries.attempts + 1, updated_at=excluded.updated_at",
            (
                email,
                digest_date.isoformat(),
                digest_id_for(email, digest_date),
                status,
                json.dumps(list(paper_ids)),
                message_id,
                when,
                when,
            ),
        )
        if status == "empty":
            conn.execute(
                "UPDATE deliveries SET sent_at=? WHERE email=? AND digest_date=?",
                (when, email, digest_date.isoformat()),
            )
    return True


def mark_sent(
    db: Database, email: str, digest_date: dt.date, *, provider_id: str | None, now: dt.datetime
) -> None:
    """Record the send and every paper in it (never the same paper twice to this reader)."""
    with db.tx() as conn:
        row = conn.execute(
            "SELECT paper_ids FROM deliveries WHERE email=? AND digest_date=?",
            (email, digest_date.isoformat()),
        ).fetchone()
        conn.execute(
            "UPDATE deliveries SET status='sent', provider_id=?, error=NULL, sent_at=?,"
            " updated_at=? WHERE email=? AND digest_date=?",
            (provider_id, now.isoformat(), now.isoformat(), email, digest_date.isoformat()),
        )
        ids = json.loads(row["paper_ids"]) if row else []
        conn.executemany(
            "INSERT OR IGNORE INTO delivered_papers(email, arxiv_id, digest_date) VALUES (?, ?, ?)",
            [(email, arxiv_id, digest_date.isoformat()) for arxiv_id in ids],
        )


def _settle(
    db: Database,
    email: str,
    digest_date: dt.date,
    status: Status,
    *,
    error: str,
    now: dt.datetime,
    only_from: str = "",
) -> None:
    guard = f" AND status='{only_from}'" if only_from else ""
    with db.tx() as conn:
        conn.execute(
            f"UPDATE deliveries SET status=?, error=?, updated_at=? WHERE email=? AND digest_date=?{guard}",  # noqa: S608
            (status, error, now.isoformat(), email, digest_date.isoformat()),
        )


def mark_failed(db: Database, email: str, digest_date: dt.date, *, error: str, now: dt.datetime) -> None:
    _settle(db, email, digest_date, "failed", error=error, now=now)


def mark_unknown(db: Database, email: str, digest_date: dt.date, *, error: str, now: dt.datetime) -> None:
    """The request went out but its answer did not come back: maybe sent. Never resent blindly."""
    _settle(db, email, digest_date, "unknown", error=error, now=now, only_from="sending")


def recover_interrupted(db: Database, now: dt.datetime) -> list[Delivery]:
    """Rows left in `sending` by a crash become `unknown`: maybe sent, maybe not. Never resent.

    Those SendGrid already told us about (an Event Webhook event for the digest id, which can
    arrive before this runs) are settled as sent instead and not returned.
    """
    with db.tx() as conn:
        rows = conn.execute("SELECT * FROM deliveries WHERE status='sending'").fetchall()
        conn.execute(
            "UPDATE deliveries SET status='unknown', updated_at=?,"
            " error='interrupted between the send and its record' WHERE status='sending'",
            (now.isoformat(),),
        )
    settled = set(settle_from_events(db, now))
    return [delivery_from_row(row) for row in rows if row["digest_id"] not in settled]


def settle_from_events(db: Database, now: dt.datetime) -> list[str]:
    """`unknown` deliveries that SendGrid reported events for were processed: mark them sent."""
    rows = (
        db.read()
        .execute(
            "SELECT DISTINCT d.digest_id FROM deliveries d JOIN events e ON e.digest_id = d.digest_id"
            " WHERE d.status = 'unknown'"
        )
        .fetchall()
    )
    return [str(row["digest_id"]) for row in rows if resolve_unknown_as_sent(db, row["digest_id"], now)]


def release_unknown(
    db: Database,
    now: dt.datetime,
    digest_date: dt.date | None = None,
    emails: Sequence[str] | None = None,
) -> list[str]:
    """On the admin's word (--resend-unknown): `unknown` rows go back to `pending`; only those of
    `emails` (any case) when given, so `--only` never releases other readers' digests too.
    Returns the released addresses."""
    wanted = {e.lower() for e in emails} if emails is not None else None
    day = digest_date.isoformat() if digest_date is not None else None
    with db.tx() as conn:
        rows = conn.execute("SELECT email, digest_date FROM deliveries WHERE status='unknown'").fetchall()
        chosen = [
            r
            for r in rows
            if day in (None, r["digest_date"]) and (wanted is None or str(r["email"]).lower() in wanted)
        ]
        conn.executemany(
            "UPDATE deliveries SET status='pending', updated_at=? WHERE email=? AND digest_date=?"
            " AND status='unknown'",
            [(now.isoformat(), r["email"], r["digest_date"]) for r in chosen],
        )
    return [str(r["email"]) for r in chosen]


def resolve_unknown_as_sent(db: Database, digest_id: str, now: dt.datetime) -> bool:
    """SendGrid told us it processed a digest we were unsure about."""
    with db.tx() as conn:
        row = conn.execute(
            "SELECT email, digest_date FROM deliveries WHERE digest_id=? AND status='unknown'",
            (digest_id,),
        ).fetchone()
    if row is None:
        return False
    mark_sent(db, row["email"], dt.date.fromisoformat(row["digest_date"]), provider_id=None, now=now)
    return True
