"""The feed decides which day exists (issue 22): the service driven tick by tick on a fake clock,
fetching from the loopback arXiv, when the built-in holiday table is wrong either way."""

from __future__ import annotations

import datetime as dt
import email
from email import policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from newsletter.db import Database
from newsletter.db.papers import stored_dates
from newsletter.service.health import FetchStatus, health_status
from newsletter.service.process import Service
from tests.fakes.arxiv_server import FakeArxiv
from tests.service.test_jobs import ADMIN, Clock, make_service, outbox, sent_at, step

UTC = dt.UTC
BERLIN, LA, TOKYO = ZoneInfo("Europe/Berlin"), ZoneInfo("America/Los_Angeles"), ZoneInfo("Asia/Tokyo")
ZONES = {"ada@example.org": BERLIN, "grace@example.org": LA, "alan@example.org": TOKYO}


@pytest.fixture
def site(tmp_path: Path, fake_arxiv: FakeArxiv, monkeypatch: pytest.MonkeyPatch) -> Path:
    from tests.conftest import make_site
    from tests.service.test_jobs import READERS

    rows = [f"{a},,criteria/{c},{cats},{tz},07:00," for a, c, cats, tz in READERS]
    return make_site(tmp_path, monkeypatch, rows, ARXIV_FEED_URL=fake_arxiv.feed_url,
                     ARXIV_API_URL=fake_arxiv.api_url, PUBLIC_URL="https://digest.example.org",
                     FROM_EMAIL="digest@example.org", SEND_EMPTY="true", ADMIN_EMAIL=ADMIN)


def run_until(service: Service, clock: Clock, start: dt.datetime, end: dt.datetime,
              every: dt.timedelta = dt.timedelta(minutes=30)) -> list[tuple[dt.datetime, FetchStatus]]:
    """Tick both jobs from `start` to `end`; the fetch job's status at each tick."""
    statuses = []
    now = start
    while now < end:
        step(service, clock, now)
        statuses.append((now, service.context.state.fetch_status))
        now += every
    return statuses


def at_seven(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(7, 0), tzinfo=zone)


def assert_each_reader_once(db: Database, expected: dict[dt.date, dict[str, dt.datetime]]) -> None:
    for day, readers in expected.items():
        for address, when in readers.items():
            assert sent_at(db, address, day) == when, (day, address)
    rows = db.read().execute("SELECT email, digest_date, attempts FROM deliveries").fetchall()
    assert sorted((r["email"], r["digest_date"], r["attempts"]) for r in rows) == sorted(
        (a, d.isoformat(), 1) for d, readers in expected.items() for a in readers)


def alert_text(site: Path, day: dt.date, kind: str) -> str:
    path = outbox(site, day)[f"{ADMIN}.alert-{kind}.eml"]
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    return str(message.get_body(("plain",)).get_content())


def test_a_day_the_table_calls_a_holiday_is_served_when_the_feed_shows_it(
    site: Path, fake_arxiv: FakeArxiv
) -> None:
    # The table says arXiv closed on Thursday 2025-06-19, so no list is dated Friday the 20th.
    # arXiv announced one anyway: the feed shows it from Friday 00:00 US Eastern.
    thursday, friday = dt.date(2025, 6, 19), dt.date(2025, 6, 20)
    fake_arxiv.serve_feed(thursday)
    start = dt.datetime(2025, 6, 19, 4, 30, tzinfo=UTC)
    service, clock, db = make_service(site, start)
    run_until(service, clock, start, dt.datetime(2025, 6, 20, 4, 0, tzinfo=UTC))
    fake_arxiv.serve_feed(friday, papers_of=dt.date(2025, 7, 15))  # Friday 00:00 EDT
    statuses = run_until(service, clock, dt.datetime(2025, 6, 20, 4, 0, tzinfo=UTC),
                         dt.datetime(2025, 6, 21, 0, 0, tzinfo=UTC))

    assert statuses[1] == (dt.datetime(2025, 6, 20, 4, 30, tzinfo=UTC), "fetched")  # as the feed turns
    assert stored_dates(db, thursday) == {thursday, friday}
    assert fake_arxiv.seen("api") == []  # the feed's own day, not a rebuild
    assert_each_reader_once(db, {
        thursday: {"ada@example.org": at_seven(thursday, BERLIN), "grace@example.org": at_seven(thursday, LA),
                   "alan@example.org": at_seven(friday, TOKYO)},
        friday: {"ada@example.org": at_seven(friday, BERLIN), "grace@example.org": at_seven(friday, LA),
                 "alan@example.org": at_seven(dt.date(2025, 6, 21), TOKYO)},
    })
    # the disagreement is alerted once; no fetch trouble was
    kinds = db.read().execute("SELECT kind, key FROM alerts WHERE kind IN ('calendar', 'fetch')").fetchall()
    assert [tuple(r) for r in kinds] == [("calendar", "shown:2025-06-20")]
    text = " ".join(alert_text(site, friday, "calendar").split())
    assert "arXiv's feed shows an announcement dated Friday 2025-06-20; the built-in holiday table" \
        " says there is none. The feed is trusted" in text


def test_a_closure_the_table_does_not_know_serves_no_day_and_waits_for_none(
    site: Path, fake_arxiv: FakeArxiv
) -> None:
    # arXiv closed on Thursday 2025-08-28 (unknown to the table): the feed stays on Thursday's list
    # through Friday and the weekend, then shows Monday 2025-09-01's.
    thursday, friday, monday = dt.date(2025, 8, 28), dt.date(2025, 8, 29), dt.date(2025, 9, 1)
    start = dt.datetime(2025, 8, 28, 4, 30, tzinfo=UTC)
    service, clock, db = make_service(site, start)
    margin = dt.datetime(2025, 8, 29, 12, 30, tzinfo=UTC)  # 8 h after Friday's list should show
    statuses = run_until(service, clock, start, margin)
    looks = len(fake_arxiv.seen("feed"))
    statuses += run_until(service, clock, margin, dt.datetime(2025, 8, 30, 0, 0, tzinfo=UTC))
    # past the margin the feed is asked once an hour (13:00 … 23:00), not at every tick
    assert len(fake_arxiv.seen("feed")) - looks == 11
    statuses += run_until(service, clock, dt.datetime(2025, 8, 30, 0, 0, tzinfo=UTC),  # the weekend
                          dt.datetime(2025, 9, 1, 4, 0, tzinfo=UTC), every=dt.timedelta(hours=4))
    by_time = dict(statuses)
    friday_shown = dt.datetime(2025, 8, 29, 4, 30, tzinfo=UTC)
    # within the staleness margin the feed on Thursday's list is only "waiting" (no failure, no
    # warning); past it, "stale": alerted once, and /healthz stays 200 (no restart fixes a closure)
    assert by_time[friday_shown] == "waiting"
    assert by_time[friday_shown + dt.timedelta(hours=7, minutes=30)] == "waiting"
    assert by_time[friday_shown + dt.timedelta(hours=8)] == "stale"
    assert by_time[dt.datetime(2025, 8, 31, 12, tzinfo=UTC)] == "stale"
    assert by_time[dt.datetime(2025, 9, 1, 0, tzinfo=UTC)] == "stale"
    service.context.state.mark_running()
    code, body = health_status(db, service.context.state, clock.now)
    assert code == 200 and body["status"] == "degraded", body
    assert body["last_fetch"]["status"] == "stale"
    text = alert_text(site, friday, "calendar")
    assert "expected an announcement dated Friday 2025-08-29" in text
    assert "still shows Thursday 2025-08-28" in text
    assert "add 2025-08-28 to NEWSLETTER_ARXIV_EXTRA_HOLIDAYS" in " ".join(text.split())

    fake_arxiv.serve_feed(monday, papers_of=dt.date(2025, 7, 15))  # Monday 00:00 EDT
    statuses = run_until(service, clock, dt.datetime(2025, 9, 1, 4, 0, tzinfo=UTC),
                         dt.datetime(2025, 9, 2, 0, 0, tzinfo=UTC))
    # the hourly look (still after Friday) or the look as Monday's list should show stores it
    assert [s for _, s in statuses[:2]].count("fetched") == 1
    assert stored_dates(db, thursday) == {thursday, monday}  # Friday never existed: not rebuilt
    assert fake_arxiv.seen("api") == []
    assert_each_reader_once(db, {
        thursday: {"ada@example.org": at_seven(thursday, BERLIN), "grace@example.org": at_seven(thursday, LA),
                   "alan@example.org": at_seven(friday, TOKYO)},
        monday: {"ada@example.org": at_seven(monday, BERLIN), "grace@example.org": at_seven(monday, LA),
                 "alan@example.org": at_seven(dt.date(2025, 9, 2), TOKYO)},
    })
    kinds = db.read().execute("SELECT kind, key FROM alerts WHERE kind IN ('calendar', 'fetch')").fetchall()
    assert [tuple(r) for r in kinds] == [("calendar", "missing:2025-08-29")]
    assert service.context.state.fetch_status == "done"
