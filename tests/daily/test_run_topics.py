"""A daily cycle sends topic sections in the HTML part and the reference order in the text part."""

from __future__ import annotations

import email
import re
from email import policy
from pathlib import Path

import lxml.html
import pytest
from typer.testing import CliRunner

from newsletter.cli.app import app
from tests.conftest import make_site
from tests.fakes.arxiv_server import FakeArxiv

DAY = "2025-08-28"


@pytest.fixture
def site(tmp_path: Path, fake_arxiv: FakeArxiv, monkeypatch: pytest.MonkeyPatch) -> Path:
    rows = ["alan@example.org,,criteria/vision-language-seven-topics.md,cs.AI;cs.CV,UTC,07:00,"]
    return make_site(tmp_path, monkeypatch, rows, ARXIV_FEED_URL=fake_arxiv.feed_url,
                     ARXIV_API_URL=fake_arxiv.api_url, PUBLIC_URL="https://digest.example.org",
                     REPLY_DOMAIN="reply.example.org", FROM_EMAIL="digest@example.org")


def test_the_sent_html_groups_the_locally_ranked_papers_by_topic_and_the_text_part_does_not(
    site: Path,
) -> None:
    result = CliRunner().invoke(app, ["run", "--date", DAY], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    (sent,) = (site / "var" / "outbox" / DAY).glob("*.eml")
    message = email.message_from_bytes(sent.read_bytes(), policy=policy.default)
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    tree = lxml.html.fromstring(message.get_body(("html",)).get_content())

    total = int(re.search(r"Total relevant papers: (\d+)", text).group(1))  # type: ignore[union-attr]
    text_order = [int(n) for n in re.findall(r"^## (\d+)\. ", text, re.M)]
    assert text_order == list(range(total)) and "Topic " not in text.split("## Paper selection")[0]
    headings = [h.text_content().strip() for h in tree.xpath("//div[@class='dg-topic-head']")]
    assert len(headings) >= 2 and all(re.match(r"Topic [1-7]: |Other$", h) for h in headings), headings
    numbers = tree.xpath("//div[@class='dg-topic']//b[@class='dg-number']")
    shown = [int(b.text_content().rstrip(".")) for b in numbers]
    assert sorted(shown) == list(range(total))
    tallies = tree.xpath("//*[contains(@class, 'dg-toc-count')]")
    counts = [int(re.sub(r"\D", "", c.text_content())) for c in tallies]
    sizes = [len(s.xpath(".//div[@class='dg-paper']")) for s in tree.xpath("//div[@class='dg-topic']")]
    assert counts == sizes
