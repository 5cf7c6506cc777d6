"""Retention in the database: what goes, what is kept forever, and a prune stopped half-way."""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from newsletter.db import Database, deliveries, delivery_transitions, subscribers, votes
from newsletter.db import runs as run_log
from newsletter.db.alerts import claim
from newsletter.db.events import apply_events, parse_batch
from newsletter.db.papers import load_day, save_day
from newsletter.db.retention import prune
from newsletter.db.scores import DatabaseScoreCache
from newsletter.models import AnnouncementDay, Paper, Score

OLD, SHARED_OLD, NEW = dt.date(2024, 3, 4), dt.date(2024, 3, 5), dt.date(2025, 3, 4)
CUTOFF = dt.date(2025, 1, 1)
NOW = dt.datetime(2025, 3, 4, 12, 0, tzinfo=dt.UTC)
READER = "ada@example.org"


def paper(arxiv_id: str) -> Paper:
    return Paper(arxiv_id, f"Title {arxiv_id}", ("A. Author",), "An abstract.", ("cs.CV",))


def store(db: Database, day: dt.date, *ids: str) -> None:
    save_day(db, AnnouncementDay(day, ("cs.CV",), tuple(paper(i) for i in ids)), source="test", now=NOW)


def scored(db: Database, created: str, *ids: str) -> None:
    cache = DatabaseScoreCache(db)
    cache.put_many("model|v1", "criteria", [paper(i) for i in ids],
                   {i: Score(i, 7, 5, "fits", "llm") for i in ids})
    with db.tx() as conn:
        conn.executemany("UPDATE scores SET created_at=? WHERE arxiv_id=?", [(created, i) for i in ids])


def count(db: Database, table: str) -> int:
    return int(db.read().execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


@pytest.fixture
def db(tmp_path: Path) -> Database:
    db = Database.open(tmp_path / "state.db")
    store(db, OLD, "2403.00001", "2403.00002")
    store(db, SHARED_OLD, "2403.00003")
    store(db, NEW, "2503.00001", "2403.00003")  # an old paper listed again (a replacement)
    scored(db, "2024-03-04 06:00:00", "2403.00001", "2403.00002")
    scored(db, "2025-03-04 06:00:00", "2503.00001", "2403.00003")
    for day in (OLD, NEW):
        record = run_log.start_run(db, run_log.RunRecord(kind="run", started_at=NOW, digest_date=day))
        run_log.finish_run(db, replace(record, status="ok"), NOW)
    run_log.start_run(db, run_log.RunRecord(kind="run", started_at=NOW, digest_date=OLD))  # still running
    delivery_transitions.begin(db, READER, OLD, paper_ids=("2403.00001",), message_id="<m1>", now=NOW)
    delivery_transitions.mark_sent(db, READER, OLD, provider_id=None, now=NOW)
    subscribers.token_for(db, READER, NOW)
    subscribers.suppress(db, "gone@example.org", "reply", NOW - dt.timedelta(days=700))
    apply_events(db, parse_batch([{"event": "delivered", "email": READER, "sg_event_id": "e1"}]), NOW)
    claim(db, "cost", "2024-03-04", "cost", NOW - dt.timedelta(days=400), "sent")
    with db.tx() as conn:
        conn.execute("INSERT INTO feedback(email, received_at, body) VALUES (?, '2024-03-04', 'thanks')",
                     (READER,))
    # a vote on a paper whose day is pruned: what the reader taught stays
    votes.put(db, READER, "2403.00001", "up", source="click", digest_date=OLD, now=NOW)
    return db


def test_old_days_papers_scores_and_runs_go_and_the_rest_stays(db: Database) -> None:
    kept = {t: count(db, t) for t in ("subscriber_tokens", "suppressions", "deliveries", "delivered_papers",
                                      "feedback", "alerts", "events", "votes")}
    counts = prune(db, CUTOFF)
    assert (counts.days, counts.papers, counts.scores, counts.runs) == (2, 1, 2, 1)
    assert load_day(db, OLD, ["cs.CV"]) is None and load_day(db, SHARED_OLD, ["cs.CV"]) is None
    new = load_day(db, NEW, ["cs.CV"])
    assert new is not None and [p.arxiv_id for p in new.papers] == ["2503.00001", "2403.00003"]
    ids = {row[0] for row in db.read().execute("SELECT arxiv_id FROM papers")}
    # the old paper a kept day lists too stays, and so does the one the reader voted on
    assert ids == {"2503.00001", "2403.00003", "2403.00001"}
    scored_ids = {row[0] for row in db.read().execute("SELECT arxiv_id FROM scores")}
    assert scored_ids == {"2503.00001", "2403.00003"}
    assert [r["status"] for r in run_log.recent_runs(db)] == ["running", "ok"]
    assert {t: count(db, t) for t in kept} == kept  # kept forever
    assert deliveries.delivered_paper_ids(db, READER) == {"2403.00001"}
    assert subscribers.is_suppressed(db, "gone@example.org")
    assert [v.arxiv_id for v in votes.select(db, email=READER)] == ["2403.00001"]
    assert db.read().execute("PRAGMA foreign_key_check").fetchall() == []
    assert prune(db, CUTOFF) == type(counts)()  # nothing left to do


def test_a_prune_stopped_half_way_leaves_whole_days_and_the_next_finishes(db: Database) -> None:
    conn = db.read()
    conn.execute("CREATE TEMP TRIGGER disk_full BEFORE DELETE ON announcements WHEN old.date = ?"
                 " BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END".replace("?", f"'{SHARED_OLD}'"))
    with pytest.raises(sqlite3.DatabaseError):
        prune(db, CUTOFF, batch_days=1)
    # the first batch (OLD) went whole; the second (SHARED_OLD) is untouched, with its papers
    assert load_day(db, OLD, ["cs.CV"]) is None
    assert {row[0] for row in conn.execute("SELECT arxiv_id FROM papers WHERE arxiv_id LIKE '2403%'")} == {
        "2403.00003", "2403.00001"}  # and the paper the reader voted on
    shared = load_day(db, SHARED_OLD, ["cs.CV"])
    assert shared is not None and [p.arxiv_id for p in shared.papers] == ["2403.00003"]
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    conn.execute("DROP TRIGGER disk_full")
    assert prune(db, CUTOFF, batch_days=1).days == 1
    assert load_day(db, SHARED_OLD, ["cs.CV"]) is None
