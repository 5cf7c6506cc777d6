"""A service that was down for two days: its first tick after the restart still looks back
far enough to report the last announcement's failed digests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from newsletter.db import Database
from newsletter.db import deliveries as delivery_store
from newsletter.mail.base import PermanentSendError
from newsletter.models import OutgoingEmail
from newsletter.service.context import ServiceContext
from newsletter.service.process import Service
from newsletter.settings import load_settings
from tests.conftest import make_site
from tests.fakes.arxiv_server import FakeArxiv

UTC = dt.UTC
DAY = dt.date(2025, 8, 28)  # a Thursday; mailed Wednesday 20:00 EDT = 00:00 UTC on the 28th


class Refusing:
    """A transport whose every send is refused for good (e.g. a 400 from the provider)."""

    def send(self, message: OutgoingEmail) -> str:
        raise PermanentSendError("HTTP 400: invalid recipient")


@pytest.fixture
def site(tmp_path: Path, fake_arxiv: FakeArxiv, monkeypatch: pytest.MonkeyPatch) -> Path:
    rows = ["ada@example.org,,criteria/generation-segmentation-matting.md,cs.CV,Europe/Berlin,07:00,"]
    return make_site(tmp_path, monkeypatch, rows, ARXIV_FEED_URL=fake_arxiv.feed_url,
                     ARXIV_API_URL=fake_arxiv.api_url, PUBLIC_URL="https://digest.example.org",
                     FROM_EMAIL="digest@example.org", SEND_EMPTY="true")


def test_a_failure_before_an_outage_is_reported_after_the_restart(site: Path) -> None:
    settings = load_settings(max_send_runs=3)
    db = Database.open(settings.db_path)
    seven_berlin = dt.datetime(2025, 8, 28, 5, 0, tzinfo=UTC)
    before = Service(ServiceContext.build(settings, db, clock=lambda: seven_berlin, transport=Refusing()))
    assert before.fetch.tick(seven_berlin) == "fetched"
    before.delivery.tick(seven_berlin)
    row = delivery_store.get(db, "ada@example.org", DAY)
    assert row is not None and (row.status, row.attempts) == ("failed", 1)
    assert before.context.state.failed == {}  # not final yet: later ticks of the day would try again

    # down until Saturday morning (06:00 US Eastern): Thursday's window closed long ago
    restart = dt.datetime(2025, 8, 30, 10, 0, tzinfo=UTC)
    after = Service(ServiceContext.build(settings, db, clock=lambda: restart, transport=Refusing()))
    after.delivery.tick(restart)

    assert after.context.state.failed == {"ada@example.org": "HTTP 400: invalid recipient"}
    alerts = db.read().execute("SELECT subject, outcome FROM alerts WHERE kind='run'").fetchall()
    assert [tuple(a) for a in alerts] == [("arXiv Digest: 1 delivery problem(s) on 2025-08-28", "logged")]
