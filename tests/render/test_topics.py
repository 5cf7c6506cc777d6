"""Topic sections in the HTML digest; the Markdown part keeps the reference order and format."""

from __future__ import annotations

import dataclasses
import logging
import re

import lxml.html
import pytest

from newsletter.models import Digest
from newsletter.render import HTML_BUDGET, render_digest
from newsletter.render.topics import OTHER, group_by_topic
from tests.fakes.render_data import REPLY_TO, UNSUBSCRIBE_URL, seed_digest, topical_digest, vote_links

CRITERIA = "1. Image matting\n2. Video matting\n3. Diffusion"


def with_topics(digest: Digest, *topics: int | None) -> Digest:
    entries = tuple(
        dataclasses.replace(e, score=dataclasses.replace(e.score, topic=t))
        for e, t in zip(digest.entries, topics, strict=False)
    )
    return dataclasses.replace(digest, entries=entries + digest.entries[len(entries) :])


def rendered(digest: Digest, votes: bool = True) -> tuple[str, str]:
    links = vote_links(digest) if votes else None
    out = render_digest(digest, unsubscribe_url=UNSUBSCRIBE_URL, reply_to=REPLY_TO, vote_urls=links)
    return out.markdown, out.html


def sections(html: str) -> list[tuple[str, list[int]]]:
    """(heading, paper numbers as shown) of each topic section of the HTML."""
    tree = lxml.html.fromstring(html)
    return [
        (
            section.xpath("string(.//*[contains(@class, 'dg-topic-head')])").strip(),
            [int(b.text_content().rstrip(".")) for b in section.xpath(".//b[@class='dg-number']")],
        )
        for section in tree.xpath("//div[@class='dg-topic']")
    ]


def contents(html: str) -> list[tuple[str, str]]:
    tree = lxml.html.fromstring(html)
    return [
        (div.xpath("string(./a)").strip(), div.xpath("string(.//*[contains(@class, 'dg-toc-count')])"))
        for div in tree.xpath("//div[@class='dg-toc-topic']")
    ]


def test_sections_come_in_the_order_of_their_best_paper_and_other_closes() -> None:
    topics = {"a": 2, "b": None, "c": 1, "d": 2, "e": 9, "f": 1}
    groups = group_by_topic(list(topics), topics.get, CRITERIA)
    assert [(g.heading, g.items) for g in groups] == [
        ("Topic 2: Video matting", ("a", "d")),
        ("Topic 1: Image matting", ("c", "f")),
        (OTHER, ("b", "e")),  # topic 9 is not in the criteria
    ]
    assert [g.anchor for g in groups] == ["topic2", "topic1", "topic-other"]


@pytest.mark.parametrize(
    ("criteria", "topics"),
    [("Image matting, alpha mattes and trimaps.", [1, 1]), (CRITERIA, [None, None]), (CRITERIA, [7, None])],
)
def test_one_topic_criteria_or_no_known_topic_is_not_grouped(criteria: str, topics: list[int | None]) -> None:
    groups = group_by_topic(["a", "b"], dict(zip("ab", topics, strict=True)).get, criteria)
    assert [(g.heading, g.items) for g in groups] == [("", ("a", "b"))]


def test_grouped_html_keeps_every_papers_number_and_counts_each_topic_in_the_contents() -> None:
    digest = topical_digest()
    _, html = rendered(digest)
    found = sections(html)
    order = ["Topic 2", "Topic 1", "Topic 3", "Topic 4", OTHER]
    assert [heading.split(":")[0] for heading, _ in found] == order
    for heading, numbers in found:
        topics = {digest.entries[n].score.topic for n in numbers}
        assert topics == ({None} if heading == OTHER else {int(heading.split(":")[0][6:])})
    assert sorted(n for _, numbers in found for n in numbers) == list(range(30))
    assert contents(html) == [(h, f"·\u00a0{len(n)}\u00a0paper{'s' if len(n) > 1 else ''}") for h, n in found]
    tree = lxml.html.fromstring(html)
    for number, entry in enumerate(digest.entries):  # replies vote by these numbers
        (paper,) = tree.xpath(f"//div[@id='paper{number}']")
        assert paper.xpath("string(./b)") == f"{number}."
        assert entry.paper.arxiv_id in paper.text_content()
    assert ">Contents by topic</div>" in html


def test_the_markdown_part_is_the_reference_format_whatever_the_topics() -> None:
    plain = seed_digest("2025-08-28")
    topical = with_topics(plain, 3, None, 1, 4, 3, 2)
    assert rendered(topical)[0] == rendered(plain)[0]
    assert rendered(topical, votes=False)[0] == rendered(plain, votes=False)[0]
    assert sections(rendered(topical)[1]) and not sections(rendered(plain)[1])


def test_an_ungrouped_digest_renders_as_before() -> None:
    """No known topic: no section markup at all, and the contents keep their author lists."""
    plain = seed_digest("2025-08-28")
    _, html = rendered(with_topics(plain, 99))
    assert html == rendered(plain)[1]
    assert "dg-topic" not in html and ">Contents</div>" in html and "by topic" not in html


def test_topic_headings_from_the_criteria_are_escaped() -> None:
    base = seed_digest("2025-06-19")
    hostile = "1. Mattes <script>alert(1)</script> & masks\u202e\n2. Video </mj-text> matting"
    digest = with_topics(dataclasses.replace(base, subscriber=dataclasses.replace(
        base.subscriber, criteria=hostile)), 1, 2)  # fmt: skip
    _, html = rendered(digest)
    assert "<script>alert" not in html
    assert [h for h, _ in sections(html)][:2] == [
        "Topic 1: Mattes <script>alert(1)</script> & masks", "Topic 2: Video </mj-text> matting"
    ]


def test_a_full_grouped_day_fits_the_budget_without_compaction(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="newsletter.render.html")
    _, html = rendered(topical_digest())
    assert len(html.encode("utf-8")) <= HTML_BUDGET
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    cut = re.search(r"abstracts cut to (\d+) characters", caplog.text)
    assert cut and int(cut.group(1)) >= 290  # the ungrouped day: 310
