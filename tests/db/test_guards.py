"""The state database's guards: migrations are all-or-nothing, foreign keys hold, and the delivery
rows' admin paths touch only what they are asked to."""

from __future__ import annotations

import datetime as dt
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import newsletter.db
from newsletter.db import Database, DatabaseError, delivery_transitions
from newsletter.db import deliveries as d
from newsletter.db.papers import load_day, save_day
from newsletter.models import AnnouncementDay, Paper

NOW = dt.datetime(2025, 8, 28, 6, 0, tzinfo=dt.UTC)
DAY = dt.date(2025, 8, 28)


def begin(db: Database, email: str, day: dt.date) -> bool:
    return delivery_transitions.begin(db, email, day, paper_ids=("2508.00001",), message_id="<m@x>", now=NOW)


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database.open(tmp_path / "state.db")


def tables(db: Database) -> set[str]:
    rows = db.read().execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
    return {row[0] for row in rows}


def test_a_failing_migration_leaves_no_half_applied_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = newsletter.db._migrations()
    broken = "CREATE TABLE half_done (x INTEGER);\nINSERT INTO no_such_table VALUES (1);\n"
    monkeypatch.setattr(newsletter.db, "_migrations", lambda: [*shipped, (9998, "9998_broken.sql", broken)])
    path = tmp_path / "state.db"

    with pytest.raises(DatabaseError, match="no_such_table"):
        Database.open(path)

    db = Database(path)
    assert "half_done" not in tables(db)  # its first statement was rolled back with the rest
    numbers = {row[0] for row in db.read().execute("SELECT number FROM _migrations")}
    assert numbers == {number for number, _, _ in shipped}  # the shipped ones stand, 9998 is not done
    fixed = "CREATE TABLE half_done (x INTEGER);\n"
    monkeypatch.setattr(newsletter.db, "_migrations", lambda: [*shipped, (9998, "9998_fixed.sql", fixed)])
    assert db.migrate() == 9998  # once fixed, it applies from the start
    assert "half_done" in tables(db)


def paper(arxiv_id: str) -> Paper:
    return Paper(arxiv_id, f"Title {arxiv_id}", ("A",), "abs", ("cs.CV",), announce_type="new")


def test_fetching_a_day_again_replaces_its_papers(db: Database) -> None:
    """The old announcement row's papers go with it (ON DELETE CASCADE needs foreign keys on)."""
    first, second, third = paper("2508.00001"), paper("2508.00002"), paper("2508.00003")
    save_day(db, AnnouncementDay(DAY, ("cs.CV",), (first, second)), source="test", now=NOW)

    save_day(db, AnnouncementDay(DAY, ("cs.CV",), (third, second)), source="test", now=NOW)

    day = load_day(db, DAY, ["cs.CV"])
    assert day is not None
    assert [p.arxiv_id for p in day.papers] == ["2508.00003", "2508.00002"]


def test_foreign_keys_are_enforced_on_every_threads_connection(db: Database) -> None:
    def orphan() -> None:
        with db.tx() as conn:
            conn.execute(
                "INSERT INTO announcement_papers(date, categories, arxiv_id, version, announce_type,"
                " position) VALUES ('2025-08-28', 'cs.CV', 'nowhere', 1, 'new', 0)"
            )

    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        orphan()
    with ThreadPoolExecutor(1) as pool, pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        pool.submit(orphan).result()  # a sender thread gets its own connection
    assert db.read().execute("SELECT COUNT(*) FROM announcement_papers").fetchone()[0] == 0


def test_releasing_unknown_deliveries_of_one_date_leaves_the_other_dates(db: Database) -> None:
    other = DAY - dt.timedelta(days=1)
    for day in (other, DAY):
        assert begin(db, "a@x.org", day)
    delivery_transitions.recover_interrupted(db, NOW)

    assert delivery_transitions.release_unknown(db, NOW, digest_date=DAY) == ["a@x.org"]

    assert d.get(db, "a@x.org", DAY).status == "pending"  # type: ignore[union-attr]
    assert d.get(db, "a@x.org", other).status == "unknown"  # type: ignore[union-attr]
    assert delivery_transitions.release_unknown(db, NOW) == ["a@x.org"]  # without a date: every date
    assert d.get(db, "a@x.org", other).status == "pending"  # type: ignore[union-attr]


def test_a_delivery_settled_as_sent_keeps_no_stale_error(db: Database) -> None:
    assert begin(db, "a@x.org", DAY)
    delivery_transitions.mark_unknown(db, "a@x.org", DAY, error="connection reset after the request", now=NOW)
    assert d.get(db, "a@x.org", DAY).error  # type: ignore[union-attr]

    # SendGrid's events say it did go out
    assert delivery_transitions.resolve_unknown_as_sent(db, d.digest_id_for("a@x.org", DAY), NOW)

    row = d.get(db, "a@x.org", DAY)
    assert row is not None
    assert (row.status, row.error) == ("sent", None)
    assert d.delivered_paper_ids(db, "a@x.org") == {"2508.00001"}
