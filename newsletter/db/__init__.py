"""All persistence: one SQLite file, numbered migrations, short transactions.

The repository modules beside this one (papers, scores, deliveries, subscribers, runs) hold the
queries; they all go through `Database.tx()`, so every write is all-or-nothing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

log = logging.getLogger(__name__)


class DatabaseError(Exception):
    """The state database cannot be opened, migrated or written (locked, disk full, read-only);
    the message names the file."""


def _migrations() -> list[tuple[int, str, str]]:
    """(number, name, SQL) of every migration shipped in db/migrations, in order."""
    found = []
    for entry in resources.files("newsletter.db").joinpath("migrations").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), name, entry.read_text(encoding="utf-8")))
    return sorted(found)


class Database:
    """A SQLite database with one connection per thread (the sender pool writes concurrently)."""

    busy_timeout = 30.0  # seconds a write waits for another process's transaction to end

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path | str) -> Database:
        db = cls(path)
        db.migrate()
        return db

    def _connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            on_disk = str(self.path) != ":memory:"
            try:
                if on_disk:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # the data folder is a file, read-only, or out of reach
                raise DatabaseError(
                    f"cannot create the folder of the state database {self.path.parent}"
                    f" (NEWSLETTER_DATA_DIR): {exc.strerror or exc}"
                ) from exc
            try:
                if on_disk:
                    # Owner-only, as SQLite's -wal/-shm files will be too: it holds every reader's
                    # unsubscribe token (enough to unsubscribe anyone) and their replies.
                    with contextlib.suppress(OSError):  # exists already, or sqlite says why not
                        os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
                conn = sqlite3.connect(
                    self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
                )
                conn.row_factory = sqlite3.Row
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA foreign_keys=ON")
                conn.execute("PRAGMA synchronous=NORMAL")
            except sqlite3.Error as exc:
                raise DatabaseError(f"cannot open the state database {self.path}: {exc}") from exc
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE): committed on success, rolled back on error."""
        conn = self._connect()
        if conn.in_transaction:  # nested use joins the outer transaction
            yield conn
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # SQLite may have rolled back already (disk full)
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as exc:  # locked past the timeout, disk full, read-only
            raise DatabaseError(f"cannot write the state database {self.path}: {exc}") from exc

    def read(self) -> sqlite3.Connection:
        """A connection for reads outside a transaction."""
        return self._connect()

    def migrate(self) -> int:
        """Apply the migrations not yet applied; returns the schema version."""
        conn = self._connect()
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS _migrations (number INTEGER PRIMARY KEY,"
                " name TEXT NOT NULL, applied_at TEXT DEFAULT CURRENT_TIMESTAMP)"
            )
            done = {row[0] for row in conn.execute("SELECT number FROM _migrations")}
            for number, name, sql in _migrations():
                if number in done:
                    continue
                log.info("applying migration %s", name)
                # executescript commits first, so wrap the script itself in a transaction.
                record = f"INSERT INTO _migrations(number, name) VALUES ({number}, '{name}');"  # noqa: S608
                conn.executescript(f"BEGIN IMMEDIATE;\n{sql}\n;{record}\nCOMMIT;")
            row = conn.execute("SELECT MAX(number) FROM _migrations").fetchone()
        except sqlite3.DatabaseError as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise DatabaseError(f"cannot migrate the state database {self.path}: {exc}") from exc
        return int(row[0] or 0)

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()
