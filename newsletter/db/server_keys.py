"""The server's own secrets: random keys made on first use and kept in state.db (owner-only).

They sign what no reader token can, because there is no reader yet: the public sign-up form's
CSRF tokens and the confirmation links (newsletter/readers/signup.py). Losing the database loses
the keys too, which only voids forms and links still open then.
"""

from __future__ import annotations

import datetime as dt
import secrets

from newsletter.db import Database


def server_key(db: Database, purpose: str, now: dt.datetime) -> str:
    """The key for `purpose` (256 random bits, hex), created the first time it is asked for.

    Two processes asking at once get the same key: the first insert wins, both read it back."""
    with db.tx() as conn:
        conn.execute("INSERT OR IGNORE INTO server_keys(purpose, key, created_at) VALUES (?, ?, ?)",
                     (purpose, secrets.token_hex(32), now.isoformat()))
        row = conn.execute("SELECT key FROM server_keys WHERE purpose=?", (purpose,)).fetchone()
        return str(row["key"])
