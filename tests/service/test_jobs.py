"""The service's jobs driven tick by tick with a given `now`: real fetch from the loopback arXiv,
local ranking, outbox delivery, admin alerts. No scheduler and no sleeping."""

from __future__ import annotations

import datetime as dt
import email
import logging
import socket
import threading
from email import policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from newsletter.cli.app import app
from newsletter.db import Database, delivery_transitions
from newsletter.db import deliveries as delivery_store
from newsletter.db import subscribers as subscriber_store
from newsletter.db.papers import stored_dates
from newsletter.mail.base import PermanentSendError, Transport
from newsletter.mail.outbox import OutboxTransport
from newsletter.models import OutgoingEmail
from newsletter.service.context import ServiceContext, TransportGate
from newsletter.service.process import Service, describe_setup
from newsletter.settings import ConfigError, load_settings
from tests.conftest import make_site
from tests.fakes.arxiv_server import FakeArxiv
from tests.fakes.clock_serve import file_clock

UTC = dt.UTC
DAY = dt.date(2025, 8, 28)  # a Thursday; mailed Wednesday 20:00 EDT = 00:00 UTC on the 28th
READERS = [
    ("ada@example.org", "generation-segmentation-matting.md", "cs.CV", "Europe/Berlin"),
    ("grace@example.org", "spatial-intelligence-embodied.md", "cs.AI;cs.CV", "America/Los_Angeles"),
    ("alan@example.org", "vision-language-seven-topics.md", "cs.AI;cs.CV", "Asia/Tokyo"),
]
ADMIN = "admin@example.org"


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def site(tmp_path: Path, fake_arxiv: FakeArxiv, monkeypatch: pytest.MonkeyPatch) -> Path:
    rows = [f"{a},,criteria/{c},{cats},{tz},07:00," for a, c, cats, tz in READERS]
    return make_site(tmp_path, monkeypatch, rows, ARXIV_FEED_URL=fake_arxiv.feed_url,
                     ARXIV_API_URL=fake_arxiv.api_url, PUBLIC_URL="https://digest.example.org",
                     FROM_EMAIL="digest@example.org",
                     SEND_EMPTY="true",  # every reader gets a message, matches or not
                     ADMIN_EMAIL=ADMIN)


def make_service(
    site: Path, now: dt.datetime, transport: Transport | None = None
) -> tuple[Service, Clock, Database]:
    settings = load_settings()
    db = Database.open(settings.db_path)
    clock = Clock(now)
    return Service(ServiceContext.build(settings, db, clock=clock, transport=transport)), clock, db


class WithoutCopies:
    """The outbox as a transport that cannot look a send up afterwards, as SendGrid."""

    def __init__(self, folder: Path) -> None:
        self.outbox = OutboxTransport(folder)

    def send(self, email: OutgoingEmail) -> str:
        return self.outbox.send(email)


def step(service: Service, clock: Clock, now: dt.datetime) -> None:
    clock.now = now
    service.fetch.tick(now)
    service.delivery.tick(now)


def outbox(site: Path, day: dt.date = DAY) -> dict[str, Path]:
    folder = site / "var" / "outbox" / day.isoformat()
    return {p.name: p for p in sorted(folder.glob("*.eml"))} if folder.exists() else {}


def sent_at(db: Database, address: str, day: dt.date = DAY) -> dt.datetime | None:
    row = delivery_store.get(db, address, day)
    return dt.datetime.fromisoformat(row.sent_at) if row and row.sent_at else None


def test_a_day_of_ticks_serves_each_reader_once_at_their_seven_oclock(site: Path) -> None:
    start = dt.datetime(2025, 8, 28, 4, 30, tzinfo=UTC)  # 00:30 US Eastern: the feed shows the 28th
    service, clock, db = make_service(site, start)
    now = start
    while now < dt.datetime(2025, 8, 28, 23, 45, tzinfo=UTC):
        step(service, clock, now)
        now += dt.timedelta(minutes=15)
    runs = db.read().execute("SELECT kind, digest_date FROM runs ORDER BY id").fetchall()
    assert next(tuple(r) for r in runs) == ("prepare", DAY.isoformat())  # scored right after the fetch
    expected = {
        "ada@example.org": dt.datetime(2025, 8, 28, 7, 0, tzinfo=ZoneInfo("Europe/Berlin")),
        "grace@example.org": dt.datetime(2025, 8, 28, 7, 0, tzinfo=ZoneInfo("America/Los_Angeles")),
        "alan@example.org": dt.datetime(2025, 8, 29, 7, 0, tzinfo=ZoneInfo("Asia/Tokyo")),
    }
    for address, when in expected.items():
        assert sent_at(db, address) == when, address
    messages = outbox(site)
    for address in expected:
        assert f"{address}.eml" in messages
    # one run per reader's morning, each for its one reader: never two digests for the day
    deliveries = db.read().execute("SELECT email, attempts FROM deliveries").fetchall()
    assert sorted((r["email"], r["attempts"]) for r in deliveries) == sorted((a, 1) for a in expected)
    # when the last reader is served, the admin gets the day's cost line, once
    cost = messages[f"{ADMIN}.alert-cost.eml"]
    message = email.message_from_bytes(cost.read_bytes(), policy=policy.default)
    assert message["To"] == ADMIN
    text = message.get_body(("plain",)).get_content()
    assert "2025-08-28: 3 digest(s) served, 0 failure(s); LLM 0 call(s)" in text
    assert db.read().execute("SELECT COUNT(*) FROM alerts WHERE kind='cost'").fetchone()[0] == 1


def test_readers_replies_reach_the_admin_once_each(site: Path) -> None:
    from newsletter.readers.feedback import record_feedback

    now = dt.datetime(2025, 8, 28, 10, 0, tzinfo=UTC)
    service, clock, db = make_service(site, now)
    record_feedback(db, email="grace@example.org", subject="Re: arXiv digest", now=now,
                    body="I left by mistake,\nplease add me back.\n\n> quoted digest", message_id="<g1@x>")
    record_feedback(db, email=ADMIN, subject="Re: alert", body="noted", now=now, message_id="<a1@x>")
    step(service, clock, now)
    step(service, clock, now + dt.timedelta(minutes=5))  # nothing new: no second alert
    mail = {n: p for n, p in outbox(site, now.date()).items() if ".alert-feedback" in n}
    assert list(mail) == [f"{ADMIN}.alert-feedback.eml"]
    message = email.message_from_bytes(next(iter(mail.values())).read_bytes(), policy=policy.default)
    assert message["Subject"] == "arXiv Digest: 1 new reply(ies) from readers"
    text = message.get_body(("plain",)).get_content()
    assert ("grace@example.org at 2025-08-28T10:00: Re: arXiv digest | I left by mistake, please add me"
            " back." in text)
    assert "noted" not in text  # the admin's own reply
    later = now + dt.timedelta(hours=1)
    record_feedback(db, email="ada@example.org", subject="Thanks", body="Great list today", now=later)
    step(service, clock, later)
    second = outbox(site, now.date())[f"{ADMIN}.alert-feedback-2.eml"].read_text()
    assert "ada@example.org" in second and "grace@example.org" not in second


def test_a_broken_roster_row_is_alerted_once_a_day_and_the_others_are_served(site: Path) -> None:
    csv = site / "subscribers.csv"
    csv.write_text(csv.read_text() + "typo@example.org,,criteria/missing.md,cs.CV,UTC,07:00,\n")
    ten_berlin = dt.datetime(2025, 8, 28, 10, 0, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)
    service, clock, db = make_service(site, ten_berlin)
    step(service, clock, ten_berlin)
    step(service, clock, ten_berlin + dt.timedelta(minutes=15))  # the next tick does not repeat it
    assert sent_at(db, "ada@example.org") == ten_berlin
    alert = outbox(site)[f"{ADMIN}.alert-roster.eml"]
    text = email.message_from_bytes(alert.read_bytes(), policy=policy.default).get_body(("plain",))
    assert text is not None and "line 5, column criteria" in text.get_content()
    assert "missing.md" in text.get_content()
    assert db.read().execute("SELECT COUNT(*) FROM alerts WHERE kind='roster'").fetchone()[0] == 1


def test_an_unreadable_roster_is_alerted_once_a_day_and_logged_once(
    site: Path, caplog: pytest.LogCaptureFixture
) -> None:
    csv = site / "subscribers.csv"
    csv.write_text(csv.read_text().replace("email,name", "e-mail,name", 1))  # a hand edit gone wrong
    start = dt.datetime(2025, 8, 28, 3, 0, tzinfo=UTC)
    service, _clock, db = make_service(site, start)
    with caplog.at_level("ERROR", logger="newsletter.service.delivery_job"):
        for minutes in range(0, 60, 5):
            assert service.delivery.tick(start + dt.timedelta(minutes=minutes)) == []
    assert len([r for r in caplog.records if "lacks the column" in r.getMessage()]) == 1
    tick_error = service.context.state.tick_error
    assert tick_error is not None and "lacks the column" in tick_error
    alerts = [n for n in outbox(site, DAY) if ".alert-" in n]
    assert alerts == [f"{ADMIN}.alert-roster.eml"]
    message = email.message_from_bytes(
        outbox(site, DAY)[alerts[0]].read_bytes(), policy=policy.default
    )
    assert message["Subject"] == "arXiv Digest: the subscriber list cannot be read on 2025-08-28"
    text = message.get_body(("plain",))
    assert text is not None and "lacks the column(s) email" in text.get_content()
    assert db.read().execute("SELECT COUNT(*) FROM alerts WHERE kind='roster'").fetchone()[0] == 1
    # the next announcement day, still broken: one more alert
    service.delivery.tick(dt.datetime(2025, 8, 29, 3, 0, tzinfo=UTC))  # Friday's announcement is out
    assert db.read().execute("SELECT COUNT(*) FROM alerts WHERE kind='roster'").fetchone()[0] == 2


def test_a_roster_broken_after_it_was_read_does_not_stop_the_fetch(site: Path, fake_arxiv: FakeArxiv) -> None:
    """The day is stored while the list is broken, so the readers are served once it is fixed."""
    fake_arxiv.serve_feed(dt.date(2025, 8, 27))  # not out yet at the first try
    start = dt.datetime(2025, 8, 28, 4, 35, tzinfo=UTC)
    service, clock, db = make_service(site, start)
    assert service.fetch.tick(start) == "failed"  # the roster was read: its categories are known
    csv = site / "subscribers.csv"
    good = csv.read_text()
    csv.write_text(good.replace("email,name", "e-mail,name", 1))
    fake_arxiv.serve_feed(DAY)
    later = clock.now = start + dt.timedelta(minutes=30)
    assert service.fetch.tick(later) == "fetched"
    assert stored_dates(db, DAY) == {DAY}
    csv.write_text(good)  # fixed: Ada (Berlin, 07:00) is served at the next tick, no fetch needed
    fixed = clock.now = start + dt.timedelta(hours=1)
    service.delivery.tick(fixed)
    assert sent_at(db, "ada@example.org") == fixed
    assert len([r for r in fake_arxiv.requests if r.target == "feed"]) == 2

    # a service started with the list already broken knows no categories: it says so, fetches nothing
    csv.write_text(good.replace("email,name", "e-mail,name", 1))
    friday = clock.now = dt.datetime(2025, 8, 29, 5, 0, tzinfo=UTC)
    fresh = Service(ServiceContext.build(load_settings(), db, clock=clock))
    assert fresh.fetch.tick(friday) == "failed"
    fetch_error = fresh.context.state.fetch_error or ""
    assert fetch_error.startswith("the subscriber list cannot be read, so nor its")
    assert len([r for r in fake_arxiv.requests if r.target == "feed"]) == 2


def test_a_restart_at_ten_sends_the_missed_digest_at_once(site: Path) -> None:
    ten_berlin = dt.datetime(2025, 8, 28, 10, 0, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)
    service, clock, db = make_service(site, ten_berlin)
    step(service, clock, ten_berlin)
    assert sent_at(db, "ada@example.org") == ten_berlin
    assert sent_at(db, "grace@example.org") is None  # 01:00 in Los Angeles
    assert sent_at(db, "alan@example.org") is None  # 17:00 in Tokyo: tomorrow morning's
    assert service.context.state.due == 0


def test_a_restart_the_next_day_does_not_send_yesterdays(site: Path, fake_arxiv: FakeArxiv) -> None:
    settings = load_settings()
    db = Database.open(settings.db_path)
    # the 28th was fetched, then the service was down all of the 28th (Berlin time)
    from newsletter.db.papers import save_day
    from newsletter.fetch import ArxivSource

    with ArxivSource(fake_arxiv.feed_url, fake_arxiv.api_url, timeout=5) as source:
        fetched = source.fetch_day(("cs.AI", "cs.CV"), want=DAY, now=dt.datetime(2025, 8, 28, 1, tzinfo=UTC))
    save_day(db, fetched, source="test")
    ten_next_day = dt.datetime(2025, 8, 29, 10, 0, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)
    service = Service(ServiceContext.build(settings, db, clock=Clock(ten_next_day)))
    service.delivery.tick(ten_next_day)  # the 29th is not fetched (the feed still shows the 28th)
    assert sent_at(db, "ada@example.org") is None
    assert sent_at(db, "grace@example.org") is None  # 01:00 on the 29th in LA: the 28th's window closed
    # Tokyo's window for the 28th is still open (until midnight of the 29th, Tokyo time): sent now
    assert sent_at(db, "alan@example.org") == ten_next_day


def test_a_stale_feed_is_retried_alerted_once_then_tried_hourly_until_it_is_back(
    site: Path, fake_arxiv: FakeArxiv, caplog: pytest.LogCaptureFixture
) -> None:
    fake_arxiv.serve_feed(dt.date(2025, 8, 27))  # an empty feed dated yesterday: unreadable, a failure
    start = dt.datetime(2025, 8, 28, 4, 35, tzinfo=UTC)  # 00:35 US Eastern: the feed should be new
    service, clock, db = make_service(site, start)
    with caplog.at_level(logging.INFO, logger="newsletter.service.fetch_job"):
        assert service.fetch.tick(start) == "failed"
        assert service.fetch.tick(start + dt.timedelta(hours=1)) == "failed"
    # the trouble is warned of once; the same trouble at the next try is routine
    assert [r.levelname for r in caplog.records if "failed (will retry)" in r.message] == ["WARNING", "INFO"]
    assert service.context.state.fetch_error
    assert "2025-08-27" in service.context.state.fetch_error
    assert service.fetch.tick(start + dt.timedelta(hours=9)) == "overdue"  # past the 8 h bound
    assert service.fetch.tick(start + dt.timedelta(hours=9, minutes=30)) == "overdue"
    assert service.fetch.tick(start + dt.timedelta(hours=10)) == "overdue"
    feed_requests = [r for r in fake_arxiv.requests if r.target == "feed"]
    assert len(feed_requests) == 4  # past the bound, one try an hour: at 9 h and 10 h, not at 9.5 h
    alerts = [n for n in outbox(site) if n.endswith(".alert-fetch.eml")]
    assert alerts == [f"{ADMIN}.alert-fetch.eml"]
    message = email.message_from_bytes(outbox(site)[alerts[0]].read_bytes(), policy=policy.default)
    text = message.get_body(("plain",)).get_content()
    assert "Thursday 2025-08-28 is still not stored 9.1 h after arXiv's feed should have shown it" in text
    assert db.read().execute("SELECT COUNT(*) FROM alerts WHERE kind='fetch'").fetchone()[0] == 1
    # and nothing is delivered from a day that was never fetched
    service.delivery.tick(start + dt.timedelta(hours=9))
    assert db.read().execute("SELECT COUNT(*) FROM deliveries").fetchone()[0] == 0
    assert "keeps trying once an hour" in text

    # the feed comes back at 16:35 Berlin time: the next hourly try stores the day, and the Berlin
    # reader, whose 28th is not over, gets it at once (Los Angeles and Tokyo at their 07:00)
    fake_arxiv.serve_feed(DAY)
    back = clock.now = start + dt.timedelta(hours=11)
    assert service.fetch.tick(back) == "fetched"
    assert service.context.state.fetch_status == "fetched" and service.context.state.fetch_error is None
    service.delivery.tick(back)
    assert sent_at(db, "ada@example.org") == back
    assert db.read().execute("SELECT COUNT(*) FROM alerts WHERE kind='fetch'").fetchone()[0] == 1


def test_an_extra_holiday_is_no_announcement_and_no_alert(
    site: Path, fake_arxiv: FakeArxiv, monkeypatch: pytest.MonkeyPatch
) -> None:
    # arXiv closed on Thursday 2025-08-28 (a closure the built-in table lacks): no mailing that
    # evening, so Friday has no announcement and Thursday's stays the newest.
    monkeypatch.setenv("NEWSLETTER_ARXIV_EXTRA_HOLIDAYS", "2025-08-28")
    start = dt.datetime(2025, 8, 28, 4, 35, tzinfo=UTC)
    service, _clock, db = make_service(site, start)
    assert service.fetch.tick(start) == "fetched"
    night = dt.datetime(2025, 8, 29, 4, 35, tzinfo=UTC)  # Friday 00:35 US Eastern
    # The feed is looked at anyway (the table can be wrong); it still shows Thursday's, as the
    # table says: no announcement, no failure. Past the margin it is not asked again.
    for now in (night, night + dt.timedelta(hours=10)):
        assert service.fetch.tick(now) == "no announcement"
        assert service.context.state.fetch_want == dt.date(2025, 8, 29)
        assert service.context.state.fetch_error is None
    assert len(fake_arxiv.seen("feed")) == 2
    assert not [n for n in outbox(site) if ".alert-" in n]
    assert db.read().execute("SELECT COUNT(*) FROM alerts").fetchone()[0] == 0


class Refusing:
    """A transport whose every send is refused for good (e.g. a 400 from the provider)."""

    def __init__(self) -> None:
        self.calls = 0

    def send(self, message: OutgoingEmail) -> str:
        self.calls += 1
        raise PermanentSendError("HTTP 400: invalid recipient")


def test_failed_digests_are_retried_by_a_few_runs_then_alerted(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NEWSLETTER_ADMIN_EMAIL")
    settings = load_settings(admin_email="", max_send_runs=3)
    db = Database.open(settings.db_path)
    refusing = Refusing()
    start = dt.datetime(2025, 8, 28, 5, 0, tzinfo=UTC)  # 07:00 in Berlin
    service = Service(ServiceContext.build(settings, db, clock=Clock(start), transport=refusing))
    now = start
    for _ in range(6):
        service.fetch.tick(now)
        service.delivery.tick(now)
        now += dt.timedelta(minutes=5)
    row = delivery_store.get(db, "ada@example.org", DAY)
    assert row is not None
    assert (row.status, row.attempts) == ("failed", 3)
    assert refusing.calls == 3
    assert service.context.state.failed == {"ada@example.org": "HTTP 400: invalid recipient"}
    # no admin address: the alert is logged and remembered, not mailed
    outcome = db.read().execute("SELECT outcome FROM alerts WHERE kind='run'").fetchall()
    assert [r[0] for r in outcome] == ["logged"]


def test_an_unsubscribed_reader_is_skipped(site: Path) -> None:
    seven = dt.datetime(2025, 8, 28, 5, 0, tzinfo=UTC)
    service, clock, db = make_service(site, seven)
    subscriber_store.suppress(db, "ada@example.org", "reply", seven)
    step(service, clock, seven)
    assert delivery_store.get(db, "ada@example.org", DAY) is None
    assert "ada@example.org.eml" not in outbox(site)


def test_interrupted_sends_become_unknown_at_startup_and_are_alerted(site: Path) -> None:
    now = dt.datetime(2025, 8, 28, 5, 0, tzinfo=UTC)
    service, clock, db = make_service(site, now, WithoutCopies(site / "var" / "outbox"))
    delivery_transitions.begin(db, "ada@example.org", DAY, paper_ids=(), message_id="<m@x>", now=now)
    service.delivery.startup(now)
    row = delivery_store.get(db, "ada@example.org", DAY)
    assert row is not None
    assert row.status == "unknown"
    assert f"{ADMIN}.alert-run.eml" in outbox(site)
    step(service, clock, now)  # never resent blindly
    row = delivery_store.get(db, "ada@example.org", DAY)
    assert row is not None
    assert (row.status, row.attempts) == ("unknown", 1)
    assert service.context.state.unknown == ["ada@example.org"]


def test_an_interrupted_outbox_send_without_its_file_is_sent_after_a_restart(site: Path) -> None:
    now = dt.datetime(2025, 8, 28, 5, 0, tzinfo=UTC)
    service, clock, db = make_service(site, now)
    delivery_transitions.begin(db, "ada@example.org", DAY, paper_ids=(), message_id="<m@x>", now=now)
    service.delivery.startup(now)
    assert delivery_store.get(db, "ada@example.org", DAY).status == "pending"  # type: ignore[union-attr]
    assert f"{ADMIN}.alert-run.eml" not in outbox(site)  # settled for certain: nothing to alert
    step(service, clock, now)
    assert delivery_store.get(db, "ada@example.org", DAY).status == "sent"  # type: ignore[union-attr]
    assert "ada@example.org.eml" in outbox(site)


def test_an_outbox_send_interrupted_while_the_service_runs_is_settled_by_its_next_tick(site: Path) -> None:
    now = dt.datetime(2025, 8, 28, 5, 0, tzinfo=UTC)  # Ada's morning
    service, clock, db = make_service(site, now)
    service.delivery.startup(now)
    # A `newsletter run` beside the service was killed mid-send to Ada. The service's next run
    # (Grace's, at 07:00 in Los Angeles) looks through its gate at the outbox: no file, so Ada's
    # digest is sent on the next tick instead of waiting as `unknown` for --resend-unknown.
    delivery_transitions.begin(db, "ada@example.org", DAY, paper_ids=(), message_id="<m@x>", now=now)
    for later in (dt.datetime(2025, 8, 28, 14, 0, tzinfo=UTC), dt.datetime(2025, 8, 28, 14, 5, tzinfo=UTC)):
        step(service, clock, later)
    assert delivery_store.get(db, "ada@example.org", DAY).status == "sent"  # type: ignore[union-attr]
    assert {"ada@example.org.eml", "grace@example.org.eml"} <= set(outbox(site))
    assert service.context.state.unknown == []


def test_the_gate_refuses_new_sends_once_closed(tmp_path: Path) -> None:
    gate = TransportGate(OutboxTransport(tmp_path))
    message = OutgoingEmail(to="a@example.org", from_email="d@example.org", from_name="D", subject="s",
                            text="t", html="<p>t</p>", reply_to="u-x@example.org",
                            unsubscribe_url="https://x/unsubscribe/x", message_id="<1@x>",
                            date=dt.datetime(2025, 8, 28, tzinfo=UTC), digest_id="20250828-abc")
    assert Path(gate.send(message)).is_file()
    gate.close()
    with pytest.raises(PermanentSendError, match="stopping"):
        gate.send(message)


def test_options_come_from_the_settings_and_bad_ones_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_DELIVERY_INTERVAL", "0.5")
    monkeypatch.setenv("NEWSLETTER_OVERDUE_GRACE_MINUTES", "12")
    monkeypatch.setenv("NEWSLETTER_MAX_SEND_RUNS", "2")
    settings = load_settings()
    assert (settings.delivery_interval, settings.max_send_runs, settings.fetch_retry_interval) == (
        0.5, 2, 900.0)
    db = Database.open(tmp_path / "state.db")
    state = ServiceContext.build(settings, db, transport=OutboxTransport(tmp_path / "outbox")).state
    assert state.delivery_interval == dt.timedelta(seconds=0.5)
    assert state.overdue_grace == dt.timedelta(minutes=12)
    db.close()
    monkeypatch.setenv("NEWSLETTER_FETCH_RETRY_HOURS", "soon")
    with pytest.raises(ConfigError, match="NEWSLETTER_FETCH_RETRY_HOURS"):
        load_settings()
    monkeypatch.setenv("NEWSLETTER_FETCH_RETRY_HOURS", "1")
    monkeypatch.setenv("NEWSLETTER_DELIVERY_INTERVAL", "0")
    with pytest.raises(ConfigError, match="NEWSLETTER_DELIVERY_INTERVAL: Input should be greater than 0"):
        load_settings()


def test_the_test_clock_is_read_from_its_file(tmp_path: Path) -> None:
    path = tmp_path / "now"
    path.write_text("2025-08-28T07:05:00+02:00\n")
    fake = file_clock(path)
    assert fake() == dt.datetime(2025, 8, 28, 5, 5, tzinfo=UTC)
    path.write_text("2025-08-28T07:05:00")
    with pytest.raises(ValueError, match="UTC offset"):
        fake()


class Blocking:
    """Holds the first send until released, so a stop can arrive while it is in flight."""

    def __init__(self, inner: OutboxTransport) -> None:
        self.inner = inner
        self.started = threading.Event()
        self.release = threading.Event()
        self.sent: list[str] = []

    def send(self, message: OutgoingEmail) -> str:
        if not self.started.is_set():
            self.started.set()
            assert self.release.wait(30)
        self.sent.append(message.to)
        return self.inner.send(message)


def test_a_stop_lets_the_send_in_flight_finish_and_starts_no_new_one(site: Path) -> None:
    settings = load_settings(send_concurrency=1)
    db = Database.open(settings.db_path)
    blocking = Blocking(OutboxTransport(settings.outbox_dir))
    # 07:00 in Los Angeles: Ada (Berlin) and Grace (LA) are due; Alan (Tokyo) reads tomorrow
    now = dt.datetime(2025, 8, 28, 14, 0, tzinfo=UTC)
    service = Service(ServiceContext.build(settings, db, clock=Clock(now), transport=blocking))
    service.fetch.tick(now)
    worker = threading.Thread(target=service.delivery.tick, args=(now,))
    worker.start()
    assert blocking.started.wait(30)
    service.context.gate.close()  # what SIGTERM does
    blocking.release.set()
    worker.join(30)
    assert not worker.is_alive()
    rows = {r.email: r for r in (delivery_store.get(db, a, DAY) for a, *_ in READERS) if r is not None}
    first = blocking.sent[0]
    assert blocking.sent == [first]  # nothing new started after the stop
    assert rows[first].status == "sent"  # the one in flight finished and was recorded
    others = [r for email, r in rows.items() if email != first]
    assert others
    assert all(r.status == "failed" and r.error == TransportGate.STOPPING for r in others)
    # after a restart they go out (a stop is not the reader's fault)
    again = Service(ServiceContext.build(settings, db, clock=Clock(now + dt.timedelta(minutes=5))))
    again.delivery.tick(now + dt.timedelta(minutes=5))
    assert all(delivery_store.get(db, r.email, DAY).status == "sent" for r in others)  # type: ignore[union-attr]


def test_serve_on_a_port_in_use_is_one_line_naming_the_settings_and_nothing_runs(
    site: Path, fake_arxiv: FakeArxiv, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("NEWSLETTER_HOST", "127.0.0.1")
        monkeypatch.setenv("NEWSLETTER_PORT", str(port))
        result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"error: cannot listen on 127.0.0.1:{port} (NEWSLETTER_HOST, NEWSLETTER_PORT): Address already in use"
    )
    assert fake_arxiv.requests == []  # refused before the first fetch


def test_the_start_up_log_says_how_the_service_is_set_up(monkeypatch: pytest.MonkeyPatch) -> None:
    offline = describe_setup(load_settings())
    assert "mail via outbox " in offline and "local ranker only (no NEWSLETTER_LLM_MODEL)" in offline
    assert "no admin alerts" in offline
    monkeypatch.setenv("SENDGRID_API_KEY", "SG.secret-key")
    monkeypatch.setenv("NEWSLETTER_LLM_MODEL", "openai/gpt-4o-mini")
    monkeypatch.setenv("NEWSLETTER_LLM_API_KEY", "sk-secret")
    monkeypatch.setenv("NEWSLETTER_LLM_DAILY_BUDGET_USD", "0.5")
    monkeypatch.setenv("NEWSLETTER_ADMIN_EMAIL", "admin@example.org")
    online = describe_setup(load_settings())
    assert "mail via SendGrid (https://api.sendgrid.com)" in online
    assert "LLM openai/gpt-4o-mini ($0.5 a day)" in online and "alerts to admin@example.org" in online
    assert "secret" not in online
