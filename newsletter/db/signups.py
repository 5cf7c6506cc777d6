"""Sign-ups from the public page: the pending rows, the rate-limit attempts, the used form nonces.
The attempts also count the preferences page's criteria previews (`admit_within`).

The rules (limits, what a status means) live in newsletter/readers/signup.py; this is the SQL.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from newsletter.db import Database

SignupStatus = Literal["unconfirmed", "pending", "added"]
AttemptKind = Literal["address", "client", "preview"]
Admission = Literal["ok", "client-limit", "address-limit"]


@dataclass(frozen=True, slots=True)
class Signup:
    id: str
    email: str
    categories: tuple[str, ...]
    criteria: str  # '' when the reader named seed papers only
    seeds: tuple[str, ...]
    status: SignupStatus
    created_at: dt.datetime
    expires_at: dt.datetime
    confirmed_at: dt.datetime | None


def _signup(r: sqlite3.Row) -> Signup:
    confirmed = r["confirmed_at"]
    return Signup(
        id=str(r["id"]), email=str(r["email"]),
        categories=tuple(c for c in str(r["categories"]).split(",") if c),
        criteria=str(r["criteria"]), seeds=tuple(json.loads(r["seeds"])),
        status=r["status"], created_at=dt.datetime.fromisoformat(r["created_at"]),
        expires_at=dt.datetime.fromisoformat(r["expires_at"]),
        confirmed_at=dt.datetime.fromisoformat(confirmed) if confirmed else None,
    )


def create(db: Database, signup: Signup) -> None:
    with db.tx() as conn:
        conn.execute(
            "INSERT INTO signups(id, email, categories, criteria, seeds, status, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?, 'unconfirmed', ?, ?)",
            (signup.id, signup.email, ",".join(signup.categories), signup.criteria,
             json.dumps(list(signup.seeds)), signup.created_at.isoformat(), signup.expires_at.isoformat()),
        )


def get(db: Database, signup_id: str) -> Signup | None:
    row = db.read().execute("SELECT * FROM signups WHERE id=?", (signup_id,)).fetchone()
    return _signup(row) if row else None


def pending(db: Database) -> list[Signup]:
    """Confirmed sign-ups waiting for the admin, oldest confirmation first."""
    rows = db.read().execute("SELECT * FROM signups WHERE status='pending' ORDER BY confirmed_at, email")
    return [_signup(row) for row in rows.fetchall()]


def pending_for(db: Database, email: str) -> Signup | None:
    row = db.read().execute("SELECT * FROM signups WHERE status='pending' AND email=?", (email,)).fetchone()
    return _signup(row) if row else None


def mark(db: Database, signup_id: str, status: SignupStatus, now: dt.datetime) -> None:
    """Confirmed (`pending`) or done (`added`). A newer pending sign-up of the same address
    replaces an older one: the admin decides on what the reader asked for last."""
    with db.tx() as conn:
        if status == "pending":
            conn.execute("DELETE FROM signups WHERE status='pending' AND id<>?"
                         " AND email=(SELECT email FROM signups WHERE id=?)", (signup_id, signup_id))
        conn.execute("UPDATE signups SET status=?, confirmed_at=COALESCE(confirmed_at, ?) WHERE id=?",
                     (status, now.isoformat(), signup_id))


def drop(db: Database, signup_id: str) -> bool:
    with db.tx() as conn:
        return conn.execute("DELETE FROM signups WHERE id=?", (signup_id,)).rowcount == 1


def use_nonce(db: Database, nonce: str, now: dt.datetime) -> bool:
    """Record that a form was sent; False when its nonce was used before (a replay)."""
    with db.tx() as conn:
        cursor = conn.execute("INSERT OR IGNORE INTO signup_form_uses(nonce, at) VALUES (?, ?)",
                              (nonce, now.isoformat()))
        return cursor.rowcount == 1


def _count(conn: sqlite3.Connection, kind: AttemptKind, key: str, since: dt.datetime) -> int:
    row = conn.execute("SELECT COUNT(*) FROM signup_attempts WHERE kind=? AND key=? AND at>?",
                       (kind, key, since.isoformat())).fetchone()
    return int(row[0])


def admit(db: Database, *, client: str, address: str, now: dt.datetime,
          client_window: tuple[dt.timedelta, int], address_window: tuple[dt.timedelta, int]) -> Admission:
    """Count this sign-up against both limits, in one transaction: a client past its limit is
    refused before anything is recorded; otherwise both attempts are recorded, then the address's
    count decides. `client` and `address` are keys (MACs), never the values themselves."""
    with db.tx() as conn:
        if _count(conn, "client", client, now - client_window[0]) >= client_window[1]:
            return "client-limit"
        seen = _count(conn, "address", address, now - address_window[0])
        conn.executemany("INSERT INTO signup_attempts(kind, key, at) VALUES (?, ?, ?)",
                         [("client", client, now.isoformat()), ("address", address, now.isoformat())])
        return "address-limit" if seen >= address_window[1] else "ok"


def admit_within(db: Database, *, kind: AttemptKind, key: str, now: dt.datetime,
                 windows: Sequence[tuple[dt.timedelta, int]]) -> dt.timedelta | None:
    """Record one attempt of `kind` by `key` (a MAC) when every (window, limit) holds fewer than
    its limit, and answer None; past any limit, record nothing and answer how long until the
    oldest attempt that window counts leaves it. Attempts of `kind` older than the longest window
    are forgotten first, in the same transaction."""
    with db.tx() as conn:
        forget = now - max(window for window, _ in windows)
        conn.execute("DELETE FROM signup_attempts WHERE kind=? AND at<=?", (kind, forget.isoformat()))
        waits = []
        for window, limit in windows:
            seen = _count(conn, kind, key, now - window)
            if seen >= limit:
                row = conn.execute(  # the attempt whose leaving brings the count under the limit
                    "SELECT at FROM signup_attempts WHERE kind=? AND key=? AND at>? ORDER BY at"
                    " LIMIT 1 OFFSET ?", (kind, key, (now - window).isoformat(), seen - limit)).fetchone()
                waits.append(dt.datetime.fromisoformat(row[0]) + window - now)
        if waits:
            return max(waits)
        conn.execute("INSERT INTO signup_attempts(kind, key, at) VALUES (?, ?, ?)",
                     (kind, key, now.isoformat()))
        return None


def prune(db: Database, now: dt.datetime, *, attempts_before: dt.datetime,
          nonces_before: dt.datetime) -> None:
    """Forget what no rule reads any more: expired sign-ups (not those waiting for the admin),
    attempts older than the longest window, nonces of forms that have expired anyway."""
    with db.tx() as conn:
        conn.execute("DELETE FROM signups WHERE status<>'pending' AND expires_at<?", (now.isoformat(),))
        conn.execute("DELETE FROM signup_attempts WHERE at<?", (attempts_before.isoformat(),))
        conn.execute("DELETE FROM signup_form_uses WHERE at<?", (nonces_before.isoformat(),))
