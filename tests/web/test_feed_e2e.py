"""End to end: real runs mail digests whose footer links the reader's feed; a feed parser reads
that link from the app and finds every paper of the digests of the last 30 days, as mailed."""

from __future__ import annotations

import datetime as dt
import email
import re
from email import policy
from email.message import EmailMessage
from pathlib import Path

import feedparser
import lxml.html
import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from newsletter.cli.app import app as cli
from newsletter.db import Database
from newsletter.db import deliveries as delivery_store
from newsletter.settings import load_settings
from newsletter.web.app import create_app
from tests.conftest import make_site
from tests.fakes.arxiv_server import FakeArxiv

ADA = "ada@example.org"
PUBLIC = "https://digest.example.org"
YESTERDAY, TODAY = dt.date(2025, 8, 27), dt.date(2025, 8, 28)


@pytest.fixture
def site(tmp_path: Path, fake_arxiv: FakeArxiv, monkeypatch: pytest.MonkeyPatch) -> Path:
    rows = [f"{ADA},,criteria/generation-segmentation-matting.md,cs.AI;cs.CV,UTC,07:00,"]
    return make_site(tmp_path, monkeypatch, rows, ARXIV_FEED_URL=fake_arxiv.feed_url,
                     ARXIV_API_URL=fake_arxiv.api_url, PUBLIC_URL=PUBLIC,
                     REPLY_DOMAIN="reply.example.org", FROM_EMAIL="digest@example.org")


def run_day(fake_arxiv: FakeArxiv, day: dt.date, papers_of: dt.date | None = None) -> EmailMessage:
    fake_arxiv.serve_feed(day, papers_of=papers_of)
    result = CliRunner().invoke(cli, ["run", "--date", day.isoformat()], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    path = Path("var") / "outbox" / day.isoformat() / f"{ADA}.eml"
    assert path.exists(), result.output
    return email.message_from_bytes(path.read_bytes(), policy=policy.default)  # type: ignore[return-value]


def feed_link(message: EmailMessage) -> str:
    """The feed URL, from both parts of the mail: they must agree."""
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    content = text.get_content()  # CRLF lines, as mail has them
    found = re.findall(r"Atom feed \(the link is yours alone\): (https://\S+?\.xml)\r?\n", content)
    assert len(found) == 1, content[-2000:]
    doc = lxml.html.fromstring(html.get_content())
    assert found[0] in {a.get("href") for a in doc.iter("a") if a.text_content() == "Atom feed"}
    return str(found[0])


def mailed_papers(message: EmailMessage) -> list[tuple[str, str]]:
    """(abs link, title) of each paper in the mail's HTML, in order."""
    html = message.get_body(("html",))
    assert html is not None
    doc = lxml.html.fromstring(html.get_content())
    return [(a.get("href"), a.text_content()) for a in doc.find_class("dg-title")]


def test_the_footer_link_opens_a_feed_of_every_mailed_paper(site: Path, fake_arxiv: FakeArxiv) -> None:
    yesterday = run_day(fake_arxiv, YESTERDAY, papers_of=dt.date(2025, 7, 15))
    today = run_day(fake_arxiv, TODAY)
    url = feed_link(today)
    assert feed_link(yesterday) == url  # one feed per reader
    assert url.startswith(f"{PUBLIC}/feed/")

    settings = load_settings()
    db = Database.open(settings.db_path)
    clock = [dt.datetime.combine(TODAY, dt.time(12), tzinfo=dt.UTC)]
    with TestClient(create_app(settings, db, clock=lambda: clock[0])) as client:
        response = client.get(url.removeprefix(PUBLIC))
        clock[0] += dt.timedelta(days=30)  # a month on, yesterday's digest has left the feed
        later = feedparser.parse(client.get(url.removeprefix(PUBLIC)).content)
    assert response.status_code == 200
    feed = feedparser.parse(response.content)
    assert not feed.bozo and feed.version == "atom10"

    expected = mailed_papers(today) + mailed_papers(yesterday)  # newest digest first
    assert len(mailed_papers(today)) > 0 and len(mailed_papers(yesterday)) > 0
    assert [(e.link, e.title) for e in feed.entries] == expected
    sent = [delivery_store.get(db, ADA, day) for day in (TODAY, YESTERDAY)]
    assert [e.link.rsplit("/", 1)[1] for e in feed.entries] == [
        paper_id for delivery in sent if delivery is not None for paper_id in delivery.paper_ids
    ]
    for entry in feed.entries:
        assert entry.authors and all(author.name for author in entry.authors)
        # the local ranker's scores (no LLM here) are shown as the estimates they are
        assert re.search(r"Relevance \d+/10, estimated locally \(no LLM judged it\)", entry.summary)
        assert "Novelty" not in entry.summary
    assert [(e.link, e.title) for e in later.entries] == mailed_papers(today)
    db.close()
