"""The delivery job's report of a day: when a failed digest is alerted, when the day's cost line
goes out, and what a run stopped by the provider tells the admin. Ticks at a given `now`, the
loopback arXiv, the outbox."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from newsletter.db import Database
from newsletter.db import deliveries as delivery_store
from newsletter.db import subscribers as subscriber_store
from newsletter.mail.base import AuthSendError, PermanentSendError
from newsletter.mail.outbox import OutboxTransport
from newsletter.models import OutgoingEmail
from newsletter.service.context import ServiceContext
from newsletter.service.process import Service
from newsletter.settings import load_settings
from tests.conftest import make_site
from tests.fakes.arxiv_server import FakeArxiv

UTC = dt.UTC
DAY = dt.date(2025, 8, 28)
ADMIN = "admin@example.org"
ADA = "ada@example.org"  # Berlin, 07:00: her window for the 28th is 05:00–22:00 UTC


@pytest.fixture
def site(tmp_path: Path, fake_arxiv: FakeArxiv, monkeypatch: pytest.MonkeyPatch) -> Path:
    rows = [f"{ADA},,criteria/generation-segmentation-matting.md,cs.CV,Europe/Berlin,07:00,"]
    return make_site(tmp_path, monkeypatch, rows, ARXIV_FEED_URL=fake_arxiv.feed_url,
                     ARXIV_API_URL=fake_arxiv.api_url, PUBLIC_URL="https://digest.example.org",
                     FROM_EMAIL="digest@example.org", SEND_EMPTY="true", ADMIN_EMAIL=ADMIN)


class RefusingAda:
    """The outbox, except that every digest to Ada is refused (a 400 from the provider)."""

    def __init__(self, folder: Path) -> None:
        self.outbox = OutboxTransport(folder)

    def send(self, email: OutgoingEmail) -> str:
        if email.to == ADA:
            raise PermanentSendError("HTTP 400: invalid recipient")
        return self.outbox.send(email)


def alerts(db: Database) -> dict[str, str]:
    return {row["kind"]: row["subject"] for row in db.read().execute("SELECT kind, subject FROM alerts")}


def test_a_digest_that_failed_too_late_to_retry_is_alerted_and_the_day_is_closed(site: Path) -> None:
    settings = load_settings(max_send_runs=3)
    db = Database.open(settings.db_path)
    service = Service(ServiceContext.build(settings, db, transport=RefusingAda(settings.outbox_dir)))
    late = dt.datetime(2025, 8, 28, 21, 55, tzinfo=UTC)  # five minutes before Ada's window closes
    service.fetch.tick(late)
    service.delivery.tick(late)
    row = delivery_store.get(db, ADA, DAY)
    assert row is not None and (row.status, row.attempts) == ("failed", 1)
    assert "run" not in alerts(db)  # two more runs may still send it
    closed = late + dt.timedelta(minutes=10)
    service.delivery.tick(closed)  # the window closed after one try: that failure is final
    row = delivery_store.get(db, ADA, DAY)
    assert row is not None and row.attempts == 1
    assert service.context.state.failed == {ADA: "HTTP 400: invalid recipient"}
    assert alerts(db) == {"run": "arXiv Digest: 1 delivery problem(s) on 2025-08-28",
                          "cost": "arXiv Digest: cost of 2025-08-28: $0.00"}  # nobody left to serve


def test_a_start_after_every_window_closed_sends_no_empty_cost_line(site: Path) -> None:
    settings = load_settings()
    db = Database.open(settings.db_path)
    service = Service(ServiceContext.build(settings, db, transport=OutboxTransport(settings.outbox_dir)))
    night = dt.datetime(2025, 8, 28, 23, 0, tzinfo=UTC)  # 01:00 on the 29th in Berlin
    assert service.fetch.tick(night) == "fetched"  # scored ahead ("prepare"), with no LLM: free
    service.delivery.tick(night)
    assert delivery_store.get(db, ADA, DAY) is None
    assert alerts(db) == {}  # no "0 digest(s) served, $0.00" mail


def test_a_run_the_provider_stopped_is_alerted(site: Path) -> None:
    class Unauthorized:
        def send(self, email: OutgoingEmail) -> str:
            raise AuthSendError("HTTP 401: the API key was rejected")

    settings = load_settings()
    db = Database.open(settings.db_path)
    service = Service(ServiceContext.build(settings, db, transport=Unauthorized()))
    seven = dt.datetime(2025, 8, 28, 5, 0, tzinfo=UTC)
    service.fetch.tick(seven)
    [summary] = service.delivery.tick(seven)
    assert summary.aborted
    row = db.read().execute("SELECT subject, outcome FROM alerts WHERE kind='run'").fetchone()
    assert row is not None  # recorded though the alert itself could not go out through that provider
    assert tuple(row) == ("arXiv Digest: a delivery problem(s) on 2025-08-28", "failed")


def test_a_reader_who_left_costs_nothing_and_is_never_due(site: Path) -> None:
    csv = site / "subscribers.csv"
    csv.write_text(csv.read_text().replace(ADA, "Ada@Example.org"))  # the roster keeps the case
    settings = load_settings()
    db = Database.open(settings.db_path)
    seven = dt.datetime(2025, 8, 28, 5, 0, tzinfo=UTC)
    subscriber_store.suppress(db, ADA, "reply", seven - dt.timedelta(days=1))
    service = Service(ServiceContext.build(settings, db, transport=OutboxTransport(settings.outbox_dir)))
    for now in (seven, seven + dt.timedelta(minutes=5)):
        service.fetch.tick(now)
        service.delivery.tick(now)
    assert delivery_store.get(db, ADA, DAY) is None
    assert db.read().execute("SELECT kind FROM runs").fetchall() == []  # nothing scored, no run
    assert service.context.state.due == 0  # /healthz would count her as waiting, then answer 503
