"""Feed entries in the shapes arXiv has used: a primary category element, no announce type at all."""

from __future__ import annotations

import datetime as dt

from newsletter.fetch import parse_feed
from tests.fakes.atom import RefPaper, announcement_feed

URL = "https://rss.example.org/atom/cs.CV"


def feed(entry: str, *, updated: str = "2025-08-28T04:00:19+00:00") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<updated>{updated}</updated>{entry}</feed>"
    ).encode()


ENTRY = (
    "<entry><id>oai:arXiv.org:2508.00001v2</id><title>A title</title>"
    "<summary>Plain abstract without the announce prefix.</summary>"
    '<category term="cs.CV"/><category term="cs.LG"/>{extra}'
    "<published>2025-08-28T00:00:00-04:00</published><dc:creator>A. One</dc:creator></entry>"
)


def test_the_primary_category_element_comes_first() -> None:
    page = parse_feed(feed(ENTRY.format(extra='<arxiv:primary_category term="cs.LG"/>')), URL)
    [paper] = page.papers
    assert paper.categories == ("cs.LG", "cs.CV")
    assert paper.primary_category == "cs.LG"


def test_an_entry_without_any_announce_type_is_a_new_paper() -> None:
    page = parse_feed(feed(ENTRY.format(extra="")), URL)
    [paper] = page.papers
    assert (paper.arxiv_id, paper.version, paper.announce_type) == ("2508.00001", 2, "new")
    assert paper.abstract == "Plain abstract without the announce prefix."


def test_the_entries_publication_date_wins_over_the_feeds_update_time() -> None:
    # A feed written just before midnight US Eastern still carries the next morning's list.
    paper = RefPaper("2508.00001", "T", ("A. One",), "An abstract.", ("cs.CV",))
    day = dt.date(2025, 8, 28)
    body = announcement_feed(["cs.CV"], day, [(paper, "new")],
                             updated=dt.datetime(2025, 8, 28, 3, 59, tzinfo=dt.UTC))
    assert parse_feed(body, URL).date == day
