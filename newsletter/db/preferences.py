"""Queries of the readers' own settings (migration 0014): overrides over the roster row.

Each value is text as the preferences page canonicalised it (`newsletter.readers.preferences`
parses it again when it applies it), with the time it was set. Every change is logged with the
values it replaced, which gives the page its undo and its replay guard: the reader's *revision*
(the id of their newest change) is part of each form's token, so a form posted twice, or one
from a page shown before a later change, changes nothing.

A changed criteria text lives here too, not in a file beside the roster: the roster's folder is
the admin's (and read-only in the Docker image's /config), the database is already the state a
backup must keep, `newsletter subscribers show` can print it from here, and the score cache is
keyed by the text itself, so where the text is kept does not matter to scoring.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass

from newsletter.db import Database


@dataclass(frozen=True, slots=True)
class Override:
    name: str
    value: str
    set_at: str


@dataclass(frozen=True, slots=True)
class Change:
    """One stored change: for each setting, the value before and after (None: no override)."""

    id: int
    email: str
    at: str
    fields: Mapping[str, tuple[str | None, str | None]]


def overrides(db: Database, email: str) -> dict[str, Override]:
    rows = db.read().execute(
        "SELECT name, value, set_at FROM reader_preferences WHERE email=?", (email.lower(),)
    ).fetchall()
    return {row["name"]: Override(row["name"], row["value"], row["set_at"]) for row in rows}


def all_overrides(db: Database) -> dict[str, dict[str, Override]]:
    """Every reader's overrides, by lower-cased address (one query for the whole roster)."""
    found: dict[str, dict[str, Override]] = {}
    for row in db.read().execute("SELECT email, name, value, set_at FROM reader_preferences"):
        found.setdefault(str(row["email"]).lower(), {})[row["name"]] = Override(
            row["name"], row["value"], row["set_at"])
    return found


def revision(db: Database, email: str) -> int:
    row = db.read().execute(
        "SELECT MAX(id) FROM reader_preference_changes WHERE email=?", (email.lower(),)
    ).fetchone()
    return int(row[0] or 0)


def last_change(db: Database, email: str) -> Change | None:
    row = db.read().execute(
        "SELECT id, email, at, fields FROM reader_preference_changes WHERE email=? ORDER BY id DESC LIMIT 1",
        (email.lower(),),
    ).fetchone()
    if row is None:
        return None
    fields = {name: (pair[0], pair[1]) for name, pair in json.loads(row["fields"]).items()}
    return Change(int(row["id"]), str(row["email"]), str(row["at"]), fields)


def change(
    db: Database, email: str, values: Mapping[str, str | None], *, now: dt.datetime, expected_revision: int
) -> int | None:
    """Set (a str) or drop (None) these overrides as one change; the new revision, or None (and
    nothing stored) when the reader's revision is no longer `expected_revision`."""
    address = email.lower()
    with db.tx() as conn:
        row = conn.execute("SELECT MAX(id) FROM reader_preference_changes WHERE email=?",
                           (address,)).fetchone()
        if int(row[0] or 0) != expected_revision:
            return None
        before = {
            r["name"]: r["value"]
            for r in conn.execute("SELECT name, value FROM reader_preferences WHERE email=?", (address,))
        }
        for name, value in values.items():
            if value is None:
                conn.execute("DELETE FROM reader_preferences WHERE email=? AND name=?", (address, name))
            else:
                conn.execute(
                    "INSERT INTO reader_preferences(email, name, value, set_at) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT(email, name) DO UPDATE SET value=excluded.value, set_at=excluded.set_at",
                    (address, name, value, now.isoformat()),
                )
        logged = {name: [before.get(name), value] for name, value in values.items()}
        cursor = conn.execute(
            "INSERT INTO reader_preference_changes(email, at, fields) VALUES (?, ?, ?)",
            (address, now.isoformat(), json.dumps(logged, sort_keys=True)),
        )
        return int(cursor.lastrowid or 0)
