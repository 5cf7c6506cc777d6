"""Links in the HTML digest carry the paper's URL as data: a hostile id from a feed cannot break
out of the href (or make MJML refuse the digest)."""

from __future__ import annotations

import dataclasses

import lxml.html

from newsletter.models import DigestEntry, Paper, Score
from newsletter.render import render_digest
from tests.fakes.render_data import REPLY_TO, UNSUBSCRIBE_URL, seed_digest

HOSTILE_ID = '2508.99999" onclick="alert(1)&x=1'


def test_a_hostile_paper_id_stays_inside_every_link() -> None:
    paper = Paper(HOSTILE_ID, "A title", ("A. Author",), "An abstract.", ("cs.CV",))
    base = seed_digest("2025-08-28")
    digest = dataclasses.replace(
        base, entries=(DigestEntry(paper, Score(HOSTILE_ID, 9, 5, "fits", source="llm")), *base.entries)
    )

    html = render_digest(digest, unsubscribe_url=UNSUBSCRIBE_URL, reply_to=REPLY_TO).html

    doc = lxml.html.fromstring(html)
    assert doc.xpath("//*[@onclick]") == []
    first = doc.find_class("dg-paper")[0]
    assert first.find_class("dg-title")[0].get("href") == paper.abs_url
    hrefs = [a.get("href") for a in first.iter("a")]
    assert paper.abs_url in hrefs and paper.pdf_url in hrefs
    assert all(h is None or h.startswith(("https://arxiv.org/", "#")) for h in hrefs)
