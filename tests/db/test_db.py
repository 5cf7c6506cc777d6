"""The state database: migrations, transactions and the delivery state machine."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest

from newsletter.db import Database, DatabaseError, delivery_transitions, runs
from newsletter.db import deliveries as d
from newsletter.db import subscribers as s
from newsletter.db.papers import load_day, save_day
from newsletter.models import AnnouncementDay, Paper, Usage

NOW = dt.datetime(2025, 8, 28, 6, 0, tzinfo=dt.UTC)
DAY = dt.date(2025, 8, 28)


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database.open(tmp_path / "state.db")


def test_migrations_apply_once(tmp_path: Path) -> None:
    first = Database.open(tmp_path / "state.db").migrate()
    assert first >= 1
    assert Database.open(tmp_path / "state.db").migrate() == first


def test_an_unreadable_database_is_named(tmp_path: Path) -> None:
    (tmp_path / "state.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DatabaseError, match=r"cannot .* the state database .*state.db"):
        Database.open(tmp_path / "state.db")


def test_a_failed_transaction_leaves_nothing(db: Database) -> None:
    def fail_midway() -> None:
        with db.tx() as conn:
            conn.execute("INSERT INTO suppressions(email, source, at) VALUES ('a@x.org', 'admin', 'now')")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_midway()
    assert not s.is_suppressed(db, "a@x.org")


def test_days_round_trip_and_a_superset_fetch_serves_a_subset(db: Database) -> None:
    papers = (
        Paper("2508.00001", "T", ("A",), "abs", ("cs.CV",), version=2, announce_type="new"),
        Paper("2508.00002", "U", ("B",), "abs", ("cs.AI", "cs.CV"), announce_type="cross"),
    )
    save_day(db, AnnouncementDay(DAY, ("cs.CV", "cs.AI"), papers), source="test", now=NOW)
    assert load_day(db, DAY, ["cs.CV"]) == AnnouncementDay(DAY, ("cs.AI", "cs.CV"), papers)
    assert load_day(db, DAY, ["cs.LG"]) is None


def test_delivery_moves_once_and_a_crash_becomes_unknown(db: Database) -> None:
    args = {"paper_ids": ("2508.00001",), "message_id": "<m@x>", "now": NOW}
    assert delivery_transitions.begin(db, "a@x.org", DAY, **args)
    assert not delivery_transitions.begin(db, "A@X.org", DAY, **args)  # in flight: nobody else may send it
    assert [r.email for r in delivery_transitions.recover_interrupted(db, NOW)] == ["a@x.org"]
    assert d.get(db, "a@x.org", DAY).status == "unknown"  # type: ignore[union-attr]
    assert not delivery_transitions.begin(db, "a@x.org", DAY, **args)  # unknown is never resent blindly
    assert delivery_transitions.release_unknown(db, NOW) == ["a@x.org"]
    assert delivery_transitions.begin(db, "a@x.org", DAY, **args)
    delivery_transitions.mark_sent(db, "a@x.org", DAY, provider_id="sg-1", now=NOW)
    assert d.delivered_paper_ids(db, "A@x.org") == {"2508.00001"}
    assert not delivery_transitions.begin(db, "a@x.org", DAY, **args)


def test_a_failed_delivery_may_be_retried_but_a_suppressed_address_never(db: Database) -> None:
    args = {"paper_ids": (), "message_id": "<m@x>", "now": NOW}
    assert delivery_transitions.begin(db, "a@x.org", DAY, **args)
    delivery_transitions.mark_failed(db, "a@x.org", DAY, error="500", now=NOW)
    assert delivery_transitions.begin(db, "a@x.org", DAY, **args)
    assert d.get(db, "a@x.org", DAY).attempts == 2  # type: ignore[union-attr]
    s.suppress(db, "b@x.org", "one-click", NOW)
    assert not delivery_transitions.begin(db, "B@x.org", DAY, **args)


def test_tokens_are_long_random_and_stable(db: Database) -> None:
    token = s.token_for(db, "a@x.org", NOW)
    assert len(token) == 32 and token == token.lower()
    assert s.token_for(db, "A@X.ORG", NOW) == token
    assert s.email_for_token(db, token.upper()) == "a@x.org"
    assert s.rotate_token(db, "a@x.org", NOW) != token
    assert s.email_for_token(db, token) is None


def test_a_data_folder_that_cannot_exist_is_named(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(DatabaseError, match=r"NEWSLETTER_DATA_DIR\): Not a directory"):
        Database.open(tmp_path / "file" / "var" / "state.db")


def test_a_new_state_database_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    """It holds every reader's unsubscribe token and their replies."""
    db = Database.open(tmp_path / "var" / "state.db")
    db.close()
    for name in ("state.db", "state.db-wal", "state.db-shm"):
        path = tmp_path / "var" / name
        if path.exists():
            assert path.stat().st_mode & 0o777 == 0o600, name


def test_llm_spend_is_metered_as_it_comes_and_never_lowered_when_the_run_ends(db: Database) -> None:
    day, started = dt.date(2025, 8, 28), dt.datetime(2025, 8, 28, 11, tzinfo=dt.UTC)
    killed = runs.start_run(db, runs.RunRecord(kind="run", started_at=started, digest_date=day))
    meter = runs.usage_meter(db, killed)
    meter(Usage(1, 1000, 100, 0.25))
    meter(Usage(1, 500, 50, 0.5))
    assert runs.spend_on(db, day) == 0.75  # before the run ends: the daily budget sees it

    # A run whose summary knows less than was metered (its judge failed half-way) keeps the meter;
    # one that knows more (a judge that does not report as it goes) keeps its own total.
    less = runs.start_run(db, runs.RunRecord(kind="run", started_at=started, digest_date=day))
    runs.usage_meter(db, less)(Usage(2, 700, 70, 1.0))
    runs.finish_run(db, replace(less, llm_calls=1, cost_usd=0.5, status="ok"), started)
    more = runs.start_run(db, runs.RunRecord(kind="run", started_at=started, digest_date=day))
    runs.finish_run(db, replace(more, llm_calls=3, cost_usd=2.0, status="ok"), started)

    rows = db.read().execute("SELECT status, llm_calls, prompt_tokens, cost_usd FROM runs ORDER BY id")
    assert [tuple(r) for r in rows] == [("running", 2, 1500, 0.75), ("ok", 2, 700, 1.0), ("ok", 3, 0, 2.0)]
    assert runs.spend_on(db, day) == 3.75
    with pytest.raises(ValueError, match="not been started"):
        runs.usage_meter(db, runs.RunRecord(kind="run", started_at=started))
