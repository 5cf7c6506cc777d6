"""The announcement-feed parser, on arXiv's real feed and on hostile or odd documents."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from newsletter.fetch import FeedFormatError, parse_feed
from newsletter.fetch.feed import ANNOUNCE_TYPES, split_authors, strip_announce_prefix
from tests.fakes.atom import RefPaper, announcement_feed

DATA = Path(__file__).parents[1] / "data" / "arxiv"
URL = "https://rss.example.org/atom/cs.AI"


def real_feed() -> bytes:
    """The recorded rss.arxiv.org/atom/cs.AI of 2025-08-20 (the recording is cut off mid-entry)."""
    return (DATA / "atom-feed-cs.AI-2025-08-20.xml").read_bytes()


def repaired_feed() -> bytes:
    raw = real_feed()
    return raw[: raw.rindex(b"</entry>") + len(b"</entry>")] + b"\n</feed>\n"


def test_the_recorded_feed_is_cut_off_and_that_is_an_error_naming_the_url() -> None:
    with pytest.raises(FeedFormatError, match=r"rss\.example\.org/atom/cs\.AI answered malformed XML"):
        parse_feed(real_feed(), URL)


def test_real_feed_parses_into_papers() -> None:
    page = parse_feed(repaired_feed(), URL)
    assert page.date == dt.date(2025, 8, 20)
    assert len(page.papers) == 86
    assert sum(p.announce_type == "new" for p in page.papers) == 41
    assert sum(p.announce_type == "cross" for p in page.papers) == 45
    first = page.papers[0]
    assert first.arxiv_id == "2508.13167"
    assert first.version == 1
    assert first.title.startswith("Chain-of-Agents: End-to-End Agent Foundation Models")
    assert first.abstract.startswith("Recent advances in large language models (LLMs)")
    assert "Announce Type" not in first.abstract
    assert "\n" not in first.abstract
    assert first.authors[0] == "Weizhen Li"
    assert first.authors[-1] == "Wangchunshu Zhou"
    assert len(first.authors) == 30
    assert first.categories == ("cs.AI", "cs.CL")
    assert first.license == "http://creativecommons.org/licenses/by-nc-sa/4.0/"
    cross = next(p for p in page.papers if p.arxiv_id == "2508.13434")
    assert cross.announce_type == "cross"
    assert cross.primary_category == "cs.LG"
    assert all(p.categories and p.title and p.abstract and p.authors for p in page.papers)


def paper(arxiv_id: str, **changes: object) -> RefPaper:
    base: dict[str, object] = {
        "arxiv_id": arxiv_id, "title": f"Title {arxiv_id}", "authors": ("A. One", "B. Two"),
        "abstract": "An abstract.", "categories": ("cs.CV", "cs.AI"),
    }
    base.update(changes)
    return RefPaper(**base)  # type: ignore[arg-type]


DAY = dt.date(2025, 8, 28)


def test_replacements_are_left_out_unless_asked_for() -> None:
    body = announcement_feed(["cs.CV"], DAY, [
        (paper("2508.00001"), "new"),
        (paper("2508.00002", categories=("cs.LG", "cs.CV")), "cross"),
        (paper("2501.00003", version=3), "replace"),
        (paper("2501.00004", version=2, categories=("cs.LG", "cs.CV")), "replace-cross"),
    ])
    page = parse_feed(body, URL)
    assert [p.arxiv_id for p in page.papers] == ["2508.00001", "2508.00002"]
    assert page.skipped == 2
    everything = parse_feed(body, URL, keep=ANNOUNCE_TYPES)
    assert [(p.arxiv_id, p.version, p.announce_type) for p in everything.papers][2:] == [
        ("2501.00003", 3, "replace"), ("2501.00004", 2, "replace-cross")]


def test_a_paper_listed_twice_is_one_paper_and_new_wins() -> None:
    body = announcement_feed(["cs.AI", "cs.CV"], DAY, [
        (paper("2508.00002"), "cross"),
        (paper("2508.00001"), "new"),
        (paper("2508.00002"), "new"),
        (paper("2508.00001"), "cross"),
    ])
    page = parse_feed(body, URL)
    assert [(p.arxiv_id, p.announce_type) for p in page.papers] == [
        ("2508.00002", "new"), ("2508.00001", "new")]


def test_text_is_data_and_whitespace_is_normalised() -> None:
    body = announcement_feed(["cs.CV"], DAY, [(paper(
        "2508.00001",
        title="  <b>Bold</b> &amp; \n  wrapped   title ",
        abstract="Line one\n  line two <script>alert(1)</script>\t end.",
        authors=("Jos\\'e  N\u00fa\u00f1ez", "Z. Zed"),
    ), "new")])
    got = parse_feed(body, URL).papers[0]
    assert got.title == "<b>Bold</b> &amp; wrapped title"
    assert got.abstract == "Line one line two <script>alert(1)</script> end."
    assert got.authors == ("Jos\\'e N\u00fa\u00f1ez", "Z. Zed")


def test_an_empty_feed_is_dated_by_its_update_time() -> None:
    page = parse_feed(announcement_feed(["cs.CV"], DAY, []), URL)
    assert page.date == DAY
    assert page.papers == ()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty body"),
        (b"   \n", "empty body"),
        (b"<html><body>Service unavailable</body></html>", "<html> document, not an Atom feed"),
        (b"<?xml version='1.0'?><feed xmlns='http://www.w3.org/2005/Atom'><entry>", "malformed"),
        (b"\x89PNG\r\n\x1a\n", "malformed"),
        (b"<feed xmlns='http://www.w3.org/2005/Atom'><title>x</title></feed>", "no announcement date"),
    ],
)
def test_bad_documents_raise_feed_format_error_naming_the_url(body: bytes, message: str) -> None:
    with pytest.raises(FeedFormatError, match=message) as caught:
        parse_feed(body, URL)
    assert caught.value.url == URL
    assert URL in str(caught.value)


def test_entities_and_dtds_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    body = (
        f'<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY x SYSTEM "file://{secret}">]>'
        '<feed xmlns="http://www.w3.org/2005/Atom"><updated>2025-08-28T04:00:00+00:00</updated>'
        "<entry><id>oai:arXiv.org:2508.00001v1</id><title>&x;</title></entry></feed>"
    ).encode()
    with pytest.raises(FeedFormatError, match="DTD") as caught:
        parse_feed(body, URL)
    assert "TOP-SECRET" not in str(caught.value)
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>&lol2;</title></feed>'
    )
    with pytest.raises(FeedFormatError):
        parse_feed(bomb, URL)


def test_helpers() -> None:
    assert strip_announce_prefix("arXiv:2508.1v2 Announce Type: replace-cross \nAbstract:  Hi\n there") == (
        "Hi there", "replace-cross")
    assert strip_announce_prefix("Just text") == ("Just text", None)
    assert split_authors("A. One, B. Two, and C. Three") == ("A. One", "B. Two", "C. Three")
    assert split_authors("") == ()
