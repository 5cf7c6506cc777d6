"""The service's daily prune: the days past NEWSLETTER_RETENTION_DAYS go, rows then folders, and a
reader never gets a paper twice because of it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter.cli.app import app
from newsletter.db import Database
from newsletter.db import deliveries as delivery_store
from newsletter.db import feed as feed_store
from newsletter.db.papers import load_day, save_day
from newsletter.mail.outbox import OutboxTransport
from newsletter.models import AnnouncementDay
from newsletter.service.context import ServiceContext
from newsletter.service.process import Service
from newsletter.settings import ConfigError, load_settings
from tests.conftest import make_site
from tests.fakes.arxiv_server import FakeArxiv

DAY = dt.date(2025, 8, 28)
LATER = dt.date(2025, 12, 3)  # a Wednesday, past 90 days after DAY
READER = "alan@example.org"
runner = CliRunner()


@pytest.fixture
def site(tmp_path: Path, fake_arxiv: FakeArxiv, monkeypatch: pytest.MonkeyPatch) -> Path:
    rows = [f"{READER},,criteria/vision-language-seven-topics.md,cs.AI;cs.CV,UTC,07:00,"]
    return make_site(tmp_path, monkeypatch, rows, ARXIV_FEED_URL=fake_arxiv.feed_url,
                     ARXIV_API_URL=fake_arxiv.api_url, PUBLIC_URL="https://digest.example.org",
                     REPLY_DOMAIN="reply.example.org", FROM_EMAIL="digest@example.org", RETENTION_DAYS="90")


def service(site: Path) -> tuple[Service, Database]:
    settings = load_settings()
    db = Database.open(settings.db_path)
    return Service(ServiceContext.build(settings, db, transport=OutboxTransport(settings.outbox_dir))), db


def test_a_reader_never_gets_a_paper_twice_after_its_day_was_pruned(site: Path) -> None:
    result = runner.invoke(app, ["run", "--date", DAY.isoformat()])
    assert result.exit_code == 0, result.output
    service_, db = service(site)
    first = delivery_store.get(db, READER, DAY)
    assert first is not None and first.status == "sent"
    had = set(first.paper_ids)
    assert had
    day = load_day(db, DAY, ["cs.AI", "cs.CV"])
    assert day is not None

    shown = feed_store.entries(db, READER, DAY)
    assert [s.entry.arxiv_id for s in shown] == list(first.paper_ids)  # the digest's, for the feed

    report = service_.retention.tick(dt.datetime.combine(LATER, dt.time(4), tzinfo=dt.UTC))
    assert report is not None and report.rows.days == 1 and report.folders == 1
    assert report.feed_entries == len(shown) and feed_store.entries(db, READER, DAY) == []
    assert load_day(db, DAY, ["cs.AI", "cs.CV"]) is None
    assert not (site / "var" / "outbox" / DAY.isoformat()).exists()
    assert delivery_store.delivered_paper_ids(db, READER) == had

    # the same papers announced again (say, as replacements) on a later day: none comes twice
    save_day(db, AnnouncementDay(LATER, day.categories, day.papers), source="test")
    result = runner.invoke(app, ["run", "--date", LATER.isoformat()])
    assert result.exit_code == 0, result.output
    again = delivery_store.get(db, READER, LATER)
    assert again is not None and again.status in ("sent", "empty")
    assert not set(again.paper_ids) & had  # (without the record, the same papers would come again)
    # and the pruned day itself is still known as sent: asked again, nothing is due
    result = runner.invoke(app, ["run", "--date", DAY.isoformat()])
    assert "Nothing due for 2025-08-28" in result.output
    db.close()


def test_rows_then_folders_and_only_dated_folders(site: Path) -> None:
    service_, db = service(site)
    outbox, preview = site / "var" / "outbox", site / "var" / "preview"
    for folder in (outbox / "2025-01-01", outbox / "2025-06-01", preview / "2025-01-02", outbox / "notes"):
        folder.mkdir(parents=True)
        (folder / "x.eml").write_text("x")
    (outbox / "2024-12-31").symlink_to(outbox / "notes")
    report = service_.retention.tick(dt.datetime(2025, 6, 1, 4, tzinfo=dt.UTC))  # keeps 2025-03-03 on
    assert report is not None and report.before == dt.date(2025, 3, 3) and report.folders == 2
    assert sorted(p.name for p in outbox.iterdir()) == ["2024-12-31", "2025-06-01", "notes"]
    assert list(preview.iterdir()) == []
    assert (outbox / "notes" / "x.eml").exists()
    db.close()


def test_retention_0_keeps_everything_and_below_a_week_is_refused(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_RETENTION_DAYS", "0")
    service_, db = service(site)
    (site / "var" / "outbox" / "2000-01-01").mkdir(parents=True)
    for day in (dt.date(2025, 5, 1), dt.date(2025, 5, 2)):  # 31 and 30 days before the tick
        feed_store.record(db, READER, day, [feed_store.FeedEntry("2505.00001", "cs.CV", "T", ("A",), 5, 5,
                                                                 "", "llm")])
    assert service_.retention.tick(dt.datetime(2025, 6, 1, tzinfo=dt.UTC)) is None
    assert (site / "var" / "outbox" / "2000-01-01").exists()
    # but the feed's entries go once the feed no longer shows them, whatever the retention
    rows = db.read().execute("SELECT digest_date FROM feed_entries").fetchall()
    assert [row[0] for row in rows] == ["2025-05-02"]
    db.close()
    assert load_settings().retention_days == 0
    monkeypatch.delenv("NEWSLETTER_RETENTION_DAYS")
    assert load_settings().retention_days == 365
    with pytest.raises(ConfigError, match=r"NEWSLETTER_RETENTION_DAYS: must be 0 .* or at least 7"):
        load_settings(retention_days=3)
