"""The sign-up limits' attempt counter also counts criteria previews (migration 0017): a window
of attempts per key, refused past its limit with the wait until the next one is allowed."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

from newsletter.db import Database
from newsletter.db import signups as store

NOW = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)


def test_attempts_stored_before_the_migration_still_count(tmp_path: Path) -> None:
    """A database from before 0017 keeps its sign-up attempts, and takes preview ones after."""
    path = tmp_path / "state.db"
    with sqlite3.connect(Database.open(path).path) as conn:  # wind the schema back to before 0017
        conn.execute("DROP TABLE signup_attempts")
        conn.execute("CREATE TABLE signup_attempts (kind TEXT NOT NULL CHECK (kind IN ('address', 'client')),"
                     " key TEXT NOT NULL, at TEXT NOT NULL)")
        conn.execute("INSERT INTO signup_attempts VALUES ('client', 'k', ?)", (NOW.isoformat(),))
        conn.execute("DELETE FROM _migrations WHERE number = 17")
    db = Database.open(path)
    assert db.migrate() >= 17
    window = (dt.timedelta(hours=1), 1)
    assert store.admit(db, client="k", address="a", now=NOW, client_window=window,
                       address_window=window) == "client-limit"
    assert store.admit_within(db, kind="preview", key="k", now=NOW, windows=[(MINUTE, 1)]) is None


def test_a_key_past_its_limit_is_told_how_long_to_wait_and_nothing_is_recorded(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "state.db")
    windows = [(MINUTE, 2)]
    assert store.admit_within(db, kind="preview", key="k", now=NOW, windows=windows) is None
    later = NOW + dt.timedelta(seconds=10)
    assert store.admit_within(db, kind="preview", key="k", now=later, windows=windows) is None
    assert store.admit_within(db, kind="preview", key="other", now=later, windows=windows) is None
    for seconds in (30, 45):  # refusals are not counted: the wait runs from the first attempt
        wait = store.admit_within(db, kind="preview", key="k", now=NOW + dt.timedelta(seconds=seconds),
                                  windows=windows)
        assert wait == dt.timedelta(seconds=60 - seconds)
    assert store.admit_within(db, kind="preview", key="k", now=NOW + MINUTE, windows=windows) is None
    with db.tx() as conn:  # older than the longest window: forgotten
        kept = conn.execute("SELECT at FROM signup_attempts WHERE kind='preview' AND key='k'").fetchall()
    assert [row[0] for row in kept] == [later.isoformat(), (NOW + MINUTE).isoformat()]
