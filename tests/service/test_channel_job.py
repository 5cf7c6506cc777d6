"""The service's channel posts, tick by tick with a given `now`: each channel at its own send_at,
once; a channel that keeps failing is retried by a few ticks, then alerted, naming the channel and
never its URL; a bad row of channels.csv is alerted once a day and the others are served."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from newsletter.db import Database
from newsletter.db import channel_deliveries as channel_store
from newsletter.service.context import ServiceContext
from newsletter.service.process import Service
from newsletter.settings import load_settings
from tests.conftest import make_site
from tests.fakes.arxiv_server import FakeArxiv
from tests.fakes.chat_server import FakeChat

UTC = dt.UTC
DAY = dt.date(2025, 8, 28)
ADMIN = "admin@example.org"


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def site(
    tmp_path: Path, fake_arxiv: FakeArxiv, fake_chat: FakeChat, monkeypatch: pytest.MonkeyPatch
) -> Path:
    ada = "ada@example.org,,criteria/generation-segmentation-matting.md,cs.CV,UTC,06:00,"
    make_site(tmp_path, monkeypatch, [ada],
              ARXIV_FEED_URL=fake_arxiv.feed_url, ARXIV_API_URL=fake_arxiv.api_url,
              PUBLIC_URL="https://digest.example.org", FROM_EMAIL="digest@example.org", ADMIN_EMAIL=ADMIN,
              MIN_RELEVANCE="1", MAX_SEND_RUNS="3")
    hook = fake_chat.url.replace("http://", "json://")
    (tmp_path / "channels.csv").write_text(
        "name,url,criteria,categories,timezone,send_at,max_papers\n"
        f"berlin,{hook}/berlin,criteria/generation-segmentation-matting.md,cs.CV,Europe/Berlin,08:00,5\n"
        f"lab,{hook}/lab,*,,UTC,12:00,5\n"
        f"down,{hook}/down-s3cr3t,*,,UTC,09:00,5\n"
        f"broken,{hook}/x,criteria/missing.md,,,,\n")
    return tmp_path


def test_channels_are_posted_at_their_own_time_once_and_failures_alerted(
    site: Path, fake_chat: FakeChat
) -> None:
    fake_chat.broken["/down"] = "400"
    settings = load_settings()
    db = Database.open(settings.db_path)
    clock = Clock(dt.datetime(2025, 8, 28, 4, 30, tzinfo=UTC))
    service = Service(ServiceContext.build(settings, db, clock=clock))
    now = clock.now
    while now < dt.datetime(2025, 8, 28, 23, 45, tzinfo=UTC):
        clock.now = now
        service.fetch.tick(now)
        service.delivery.tick(now)
        now += dt.timedelta(minutes=15)
    rows = channel_store.for_date(db, DAY)
    assert rows["berlin"].status == "sent" and rows["lab"].status == "sent"
    sent_at = db.read().execute(
        "SELECT channel, sent_at FROM channel_deliveries WHERE status='sent'").fetchall()
    when = {r["channel"]: dt.datetime.fromisoformat(r["sent_at"]) for r in sent_at}
    assert when["berlin"] == dt.datetime(2025, 8, 28, 8, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert when["lab"] == dt.datetime(2025, 8, 28, 12, 0, tzinfo=UTC)
    assert fake_chat.posted_to("/berlin") == 1 and fake_chat.posted_to("/lab") == 1
    lab = next(r.body["message"] for r in fake_chat.accepted if "/lab" in r.path)
    assert "reached 1 reader" in lab  # ada's 06:00 digest, counted at noon
    # the failing channel: tried by MAX_SEND_RUNS ticks, then left for the admin
    assert rows["down"].status == "failed" and rows["down"].attempts == 3
    assert len([r for r in fake_chat.requests if "/down" in r.path]) == 3
    alerts = {r["kind"] + ":" + r["subject"] for r in db.read().execute("SELECT kind, subject FROM alerts")}
    assert any(a.startswith("roster:") and "channels.csv" in a for a in alerts), alerts
    assert any(a.startswith("run:") for a in alerts), alerts
    texts = "".join(p.read_text() for p in (site / "var" / "outbox" / DAY.isoformat()).glob(f"{ADMIN}*"))
    assert "channel down: the channel refused the message (HTTP 400)" in texts
    assert "s3cr3t" not in texts and "json://" not in texts
    assert "channels.csv line 5, column criteria" in texts
