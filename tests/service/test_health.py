"""`GET /healthz`: the status it reports and when it answers 503."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from newsletter.db import Database
from newsletter.db import runs as run_log
from newsletter.db.papers import save_day
from newsletter.models import AnnouncementDay, Paper
from newsletter.service.health import ServiceState, health_status
from newsletter.web.health import healthz_route

UTC = dt.UTC
NOW = dt.datetime(2025, 8, 28, 6, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database.open(tmp_path / "state.db")


def healthy_state() -> ServiceState:
    state = ServiceState(started_at=NOW - dt.timedelta(hours=1))
    state.mark_running()
    state.record_tick(NOW - dt.timedelta(minutes=2), None)
    state.record_fetch(dt.date(2025, 8, 28), "done", None, NOW - dt.timedelta(minutes=3))
    return state


def client(db: Database, state: ServiceState, now: dt.datetime = NOW) -> TestClient:
    return TestClient(Starlette(routes=[healthz_route(lambda: health_status(db, state, now))]))


def test_a_healthy_service_reports_its_last_fetch_and_run(db: Database) -> None:
    paper = Paper("2508.00001", "T", ("A. Author",), "abstract", ("cs.CV",))
    save_day(db, AnnouncementDay(dt.date(2025, 8, 28), ("cs.CV",), (paper,)), source="feed",
             now=NOW - dt.timedelta(hours=5))
    record = run_log.start_run(db, run_log.RunRecord(kind="run", started_at=NOW - dt.timedelta(minutes=60),
                                                     digest_date=dt.date(2025, 8, 28)))
    record = replace(record, status="ok", subscribers_due=2, subscribers_served=2)
    run_log.finish_run(db, record, NOW - dt.timedelta(minutes=59))
    response = client(db, healthy_state()).get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["last_fetch"]["announcement_date"] == "2025-08-28"
    assert body["last_fetch"]["fetched_at"] == (NOW - dt.timedelta(hours=5)).isoformat()
    assert body["last_delivery_run"]["subscribers_served"] == 2
    assert body["last_delivery_run"]["digest_date"] == "2025-08-28"
    assert body["digests"] == {"due": 0, "due_since": None, "failed": 0, "unknown": 0}


def test_failures_are_reported_but_answer_200(db: Database) -> None:
    state = healthy_state()
    state.record_problems({"a@example.org": "HTTP 400"}, ["b@example.org"])
    code, body = health_status(db, state, NOW)
    assert code == 200
    assert body["status"] == "degraded"
    assert (body["digests"]["failed"], body["digests"]["unknown"]) == (1, 1)
    assert "example.org" not in json.dumps(body)  # /healthz answers anyone: counts, no addresses
    assert body["warnings"] == ["1 digest(s) failed", "1 delivery(ies) unknown"]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (ServiceState.mark_stopped, "the scheduler is not running"),
        (ServiceState.mark_stopping, "the service is stopping"),
        (lambda s: s.record_tick(NOW - dt.timedelta(minutes=30), None),
         "the delivery job has not run since"),
        (lambda s: s.record_fetch(dt.date(2025, 8, 28), "overdue", "stale feed", NOW),
         "the announcement of 2025-08-28 is overdue (see the log)"),
    ],
)
def test_a_service_not_doing_its_job_answers_503(
    db: Database, change: Callable[[ServiceState], None], problem: str
) -> None:
    state = healthy_state()
    change(state)
    response = client(db, state).get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "failing"
    assert any(problem in p for p in response.json()["problems"])


def test_digests_waiting_past_the_grace_period_answer_503(db: Database) -> None:
    state = healthy_state()
    state.record_due(3, NOW - dt.timedelta(minutes=20))
    state.record_due(3, NOW - dt.timedelta(minutes=5))  # still due: the clock does not restart
    assert health_status(db, state, NOW)[0] == 200
    code, body = health_status(db, state, NOW + dt.timedelta(minutes=11))
    assert code == 503
    assert "3 digest(s) due since" in body["problems"][-1]
    state.record_due(0, NOW)
    assert state.due_since is None


def test_an_unreadable_database_answers_503(db: Database) -> None:
    db.read().execute("DROP TABLE runs")
    code, body = health_status(db, healthy_state(), NOW)
    assert code == 503
    assert body["problems"][0] == "the database cannot be read (see the log)"


def test_unknown_state_fields_are_refused() -> None:
    with pytest.raises(AttributeError):
        healthy_state().nonsense = 1  # type: ignore[attr-defined]


def test_a_service_that_never_ticked_answers_503_once_three_intervals_have_passed(db: Database) -> None:
    state = ServiceState(started_at=NOW - dt.timedelta(minutes=17))
    state.mark_running()  # the scheduler runs, the delivery job never did
    state.record_fetch(dt.date(2025, 8, 28), "done", None, NOW)
    code, body = health_status(db, state, NOW)
    assert code == 503
    assert body["problems"] == [f"the delivery job has not run since {state.started_at.isoformat()}"]
    assert health_status(db, state, NOW - dt.timedelta(minutes=2))[0] == 200  # 15 minutes: still fine


def test_the_last_runs_errors_are_counted_not_quoted(db: Database) -> None:
    record = run_log.start_run(db, run_log.RunRecord(kind="run", started_at=NOW - dt.timedelta(minutes=9),
                                                     digest_date=dt.date(2025, 8, 28)))
    record = replace(record, status="failed", failures=2,
                     errors=["ada@example.org: HTTP 400", "grace@example.org: HTTP 400"])
    run_log.finish_run(db, record, NOW - dt.timedelta(minutes=8))
    code, body = health_status(db, healthy_state(), NOW)
    assert code == 200
    assert body["last_delivery_run"]["errors"] == 2
    assert body["last_delivery_run"]["failures"] == 2
    assert "example.org" not in json.dumps(body)


SECRET_URL = "https://digest:hunter2pw@feeds.example.net/atom/cs.CV?key=K3Y-s3cret&sig=abc"


def test_healthz_shows_states_and_counts_never_paths_urls_or_error_texts(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    roster = tmp_path / "private" / "subscribers.csv"
    state = healthy_state()
    state.record_fetch(dt.date(2025, 8, 28), "failed", f"HTTP 503 from {SECRET_URL}", NOW)
    state.record_tick(NOW, f"roster not found: {roster} (set NEWSLETTER_SUBSCRIBERS)")
    state.record_problems({"a@example.org": f"cannot write {tmp_path}/outbox: read-only"}, [])
    response = client(db, state).get("/healthz")
    assert response.status_code == 200
    text = response.text
    for leak in (str(tmp_path), "hunter2pw", "K3Y-s3cret", "feeds.example.net", "example.org", "HTTP 503"):
        assert leak not in text
    body = response.json()
    assert body["last_fetch"]["status"] == "failed"
    assert body["last_tick"]["status"] == "failed"
    assert body["warnings"] == ["the last fetch failed, retrying (see the log)",
                                "the last delivery tick failed (see the log)", "1 digest(s) failed"]

    state.record_fetch(dt.date(2025, 8, 28), "overdue", f"stale feed at {SECRET_URL}", NOW)
    db.read().execute("DROP TABLE runs")
    for _ in range(3):  # a container health check asks every few seconds: logged once
        code, body = health_status(db, state, NOW)
    assert code == 503
    assert str(tmp_path) not in json.dumps(body) and "hunter2pw" not in json.dumps(body)
    logged = [r.getMessage() for r in caplog.records if "database cannot be read" in r.getMessage()]
    assert len(logged) == 1 and "no such table: runs" in logged[0]
