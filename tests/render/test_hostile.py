"""Hostile paper text (issue 22, defects 9–11): Markdown structure, invisible characters, size.

The Markdown part is checked with a real CommonMark parser (markdown-it-py): what a reader's
Markdown viewer would make of it, not what a regex thinks.
"""

from __future__ import annotations

import dataclasses
import logging
import re

import lxml.html
import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from newsletter.models import Digest, DigestEntry, Paper, Score
from newsletter.render import HTML_BUDGET, digest_subject, render_digest
from newsletter.render.limits import SENSIBLE, author_list, capped_views
from newsletter.render.math import render_math
from newsletter.render.text import one_line
from newsletter.render.view import entry_views
from tests.fakes.render_data import REPLY_TO, UNSUBSCRIBE_URL, seed_digest, thirty_paper_digest, vote_links

_COMMONMARK = MarkdownIt("commonmark")  # raw HTML on, as in most renderers


def _render(digest: Digest) -> tuple[str, str, str]:
    rendered = render_digest(digest, unsubscribe_url=UNSUBSCRIBE_URL, reply_to=REPLY_TO)
    return rendered.subject, rendered.markdown, rendered.html


def _with_papers(*entries: DigestEntry) -> Digest:
    return dataclasses.replace(seed_digest("2025-08-28"), entries=entries)


def _entry(number: int, title: str, **fields: object) -> DigestEntry:
    comment = str(fields.pop("comment", "Fits criterion 1."))
    source = fields.pop("source", "llm")
    paper = Paper(
        arxiv_id=str(fields.pop("arxiv_id", f"2508.{90000 + number}")),
        title=title,
        authors=tuple(fields.pop("authors", ("Ada Lovelace", "Alan Turing"))),  # type: ignore[arg-type]
        abstract=str(fields.pop("abstract", "An ordinary abstract.")),
        categories=(str(fields.pop("category", "cs.CV")),),
    )
    assert not fields, fields
    return DigestEntry(paper, Score(paper.arxiv_id, 9, 6, comment, source=source))  # type: ignore[arg-type]


def _tokens(markdown: str) -> list[Token]:
    """Every token, inline children included, in document order."""
    out: list[Token] = []
    for token in _COMMONMARK.parse(markdown):
        out.append(token)
        out.extend(token.children or ())
    return out


def _links(tokens: list[Token]) -> list[tuple[str, str]]:
    """(href, text) of every link, the text as a renderer shows it."""
    links: list[tuple[str, str]] = []
    text: list[str] | None = None
    for token in tokens:
        if token.type == "link_open":
            links.append((str(token.attrGet("href")), ""))
            text = []
        elif token.type == "link_close" and text is not None:
            links[-1] = (links[-1][0], "".join(text))
            text = None
        elif text is not None:
            text.append(token.content)
    return links


# --- 9: paper text cannot break the Markdown structure ------------------------------------------

HOSTILE_TITLES = (
    "Evil](javascript:alert(1)) <script>alert(1)</script>",
    "[Nested](javascript:alert(1)) link and [another](https://evil.example)",
    "A code ` span that would reach the authors",
    "Ends in a backslash \\",
    "Already escaped \\[bracket\\] and \\](x) and \\<b>",
    "<http://evil.example/autolink> <!-- comment --> <b>bold</b>",
    "Math stays: $\\mathcal{O}(n^2)$, $x<y$, 61\\% and \\texttt{code}",
)
HOSTILE_ABSTRACT = (
    "Tracker ![x](http://evil.example/track.png) and ![y](http://evil.example/a(b).png 'title') and "
    "<img src='http://evil.example/t2.png'> and <IMG SRC=http://evil.example/t3.png "
    "and [click](javascript:alert(1)) and [rel](evil.html) and <script>alert(1)</script> and "
    "<javascript:alert(1)> and \\<i>x</i> but [code](https://github.com/x/y) and $x<y$ stay."
)


def _hostile_digest() -> Digest:
    entries = [_entry(i, title) for i, title in enumerate(HOSTILE_TITLES)]
    entries[0] = _entry(
        0,
        HOSTILE_TITLES[0],
        abstract=HOSTILE_ABSTRACT,
        authors=("Mallory](javascript:alert(1))", "<img src=http://evil.example/a.png>Eve", "`Trent"),
        comment="<script>x</script> ![t](http://evil.example/c.png) [go](data:text/html,x)",
        arxiv_id="2508.99999) [x](javascript:alert(1)) <b>",
    )
    return _with_papers(*entries)


def test_markdown_paper_text_keeps_every_link_and_heading_where_it_belongs() -> None:
    digest = _hostile_digest()
    _, markdown, _ = _render(digest)
    tokens = _tokens(markdown)
    links = _links(tokens)
    count = len(digest.entries)
    toc, sections = links[:count], [link for link in links[count:] if link[0] != "https://github.com/x/y"]
    # the contents: one link per paper to its anchor, showing the title exactly as written
    # (math in it shown as text, as everywhere: test_math.py)
    assert toc == [(f"#link{i}", one_line(render_math(t))) for i, t in enumerate(HOSTILE_TITLES)]
    # each section: the same title linking to arXiv, nothing else
    assert [text for _, text in sections] == [one_line(render_math(t)) for t in HOSTILE_TITLES]
    assert all(href.startswith("https://arxiv.org/abs/") for href, _ in sections)
    assert " " not in sections[0][0] and ")" not in sections[0][0]  # the odd id is percent-encoded
    headings = [t for t in tokens if t.type == "heading_open"]
    assert [h.tag for h in headings] == ["h1"] + ["h2"] * (count + 1)  # the papers and the criteria


def test_markdown_drops_images_and_defuses_html_and_script_links() -> None:
    _, markdown, _ = _render(_hostile_digest())
    tokens = _tokens(markdown)
    assert [t for t in tokens if t.type == "image"] == []
    assert "evil.example/track.png" not in markdown and "evil.example/t2.png" not in markdown
    assert "evil.example/c.png" not in markdown and "evil.example/a.png" not in markdown
    # the only raw HTML left is our own anchor after each section title
    html = [t.content for t in tokens if t.type in ("html_inline", "html_block")]
    assert set(html) == {"</a>"} | {f'<a id="link{i}">' for i in range(len(HOSTILE_TITLES))}
    hrefs = {href for href, _ in _links(tokens)}
    assert not {h for h in hrefs if not h.startswith(("#link", "https://"))}  # no javascript:, data:
    assert "https://github.com/x/y" in hrefs  # a paper's own http(s) link is its text, kept
    # what a reader sees of the abstract: the words, the alt texts, the tags as text
    shown = next(t.content for t in tokens if t.type == "inline" and t.content.startswith("**Abstract:**"))
    assert "Tracker x and y and" in shown
    assert "x<y stay." in markdown  # an ordinary `<` is left as it is (in math shown as text)


def test_markdown_of_ordinary_text_is_left_alone() -> None:
    """The escaping touches only what would change the structure (the reference digests are
    compared byte for byte in test_render.py; these are odd-but-real arXiv texts)."""
    title = "Uncovering What Makes a `Good' Visual Descriptor"  # backticks are escaped in link text
    abstract = "Accuracy (61\\%) with $\\text{AP}_{50}$ on [1], [Zhang et al., 2025]; p < 0.05 and <10ms."
    _, markdown, _ = _render(_with_papers(_entry(0, title, abstract=abstract, authors=("R. O'Neil",))))
    assert "**Abstract:**  " + render_math(abstract) + "\n" in markdown
    assert "**Authors:** R. O'Neil\n" in markdown
    assert "0. [Uncovering What Makes a \\`Good' Visual Descriptor](#link0)\n" in markdown


def test_a_readers_criteria_text_is_inert_in_the_markdown_part() -> None:
    """The criteria can be a reader's own (settings page) or a sign-up form's: in the text part it
    loads no image, runs no tag and links nowhere but http(s), like paper text."""
    criteria = ("1. Matting <script>alert(1)</script> ![t](https://evil.example/track.png)\n"
                "2. [verify your account](javascript:alert(2)) and <img src=https://evil.example/i.png>")
    digest = _with_papers(_entry(0, "A paper"))
    digest = dataclasses.replace(digest, subscriber=dataclasses.replace(digest.subscriber, criteria=criteria))
    _, markdown, _ = _render(digest)
    tokens = _tokens(markdown)
    assert [t for t in tokens if t.type == "image"] == []
    assert "evil.example" not in markdown
    html = [t.content for t in tokens if t.type in ("html_inline", "html_block")]
    assert set(html) == {"</a>", '<a id="link0">'}
    assert not {h for h, _ in _links(tokens) if not h.startswith(("#link", "https://"))}
    assert "Matting \\<script>alert(1)\\</script>" in markdown  # still readable as text


# --- 10: bidirectional and zero-width characters -----------------------------------------------

INVISIBLE = (
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200b\u200c\u200d\u200e\u200f"
    "\ufeff\u2060\u2061\u2064\u061c\u180e\U000e0041"
)


def test_bidi_and_zero_width_characters_reach_neither_subject_nor_body() -> None:
    title = "Invoice \u202egnp.exe: Pay\u200dment \u2066Due\u2069\ufeff"
    entry = _entry(
        0,
        title,
        authors=("Z\u200be\u202ero",),
        abstract="Abs" + INVISIBLE + "tract.",
        comment="Fits\u2060 well" + INVISIBLE,
    )
    reader = dataclasses.replace(seed_digest("2025-08-28").subscriber, criteria="1. Mat\u202eting\u200b\n")
    digest = dataclasses.replace(_with_papers(entry), subscriber=reader)
    subject, markdown, html = _render(digest)
    for text in (subject, markdown.split("## Paper selection prompt")[0], html):
        assert not re.search(f"[{INVISIBLE}]", text), [c for c in text if c in INVISIBLE]
    assert subject.endswith(" · Invoice gnp.exe: Payment Due")
    doc = lxml.html.fromstring(html)
    assert doc.find_class("dg-title")[0].text_content() == "Invoice gnp.exe: Payment Due"
    assert doc.findtext(".//title") == subject
    assert "Abstract." in markdown and "Fits well" in markdown
    assert "1. Matting" in doc.find_class("dg-criteria")[0].text_content()


# --- 11: no paper text can push the HTML past Gmail's clipping --------------------------------


def _long(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


def _worst_entry(number: int, unit: str) -> DigestEntry:
    """Every field far past any cap, of the characters that cost the most bytes once escaped;
    the longest id and category forms arXiv has; the bigger "followed author" pill."""
    return _entry(
        number,
        _long(unit, 100_000),
        authors=tuple(_long(unit, 40) for _ in range(300)),
        abstract=_long(unit, 20_000),
        comment=_long(unit, 20_000),
        arxiv_id=f"cond-mat/06{number:05d}",
        category="cond-mat.stat-mech",
        source="author",
    )


@pytest.mark.parametrize("unit", ["&", "\"'<>", "😀 ", "论文标题 "])
def test_thirty_worst_case_papers_stay_under_the_budget(unit: str) -> None:
    digest = thirty_paper_digest()  # the real reader, criteria and date
    digest = dataclasses.replace(digest, entries=tuple(_worst_entry(i, unit) for i in range(30)))
    # with the feedback links every digest carries (two per paper)
    rendered = render_digest(digest, unsubscribe_url=UNSUBSCRIBE_URL, reply_to=REPLY_TO,
                             vote_urls=vote_links(digest))
    markdown, html = rendered.markdown, rendered.html
    assert len(html.encode("utf-8")) <= HTML_BUDGET
    assert len(lxml.html.fromstring(html).find_class("dg-vote")) == 30
    doc = lxml.html.fromstring(html)
    papers = doc.find_class("dg-paper")
    assert len(papers) == 30
    assert all(p.find_class("dg-title")[0].text_content().endswith("…") for p in papers)
    assert all("more" in p.text_content() for p in papers)  # "… and N more" authors, "read more"
    hrefs = {a.get("href") for a in doc.iter("a")}
    assert UNSUBSCRIBE_URL in hrefs and f"mailto:{REPLY_TO}?subject=unsubscribe" in hrefs
    assert len(markdown.encode("utf-8")) < 30 * 60_000  # the text part: titles capped too


def test_a_100_kb_title_is_capped_and_the_rest_of_the_day_kept(caplog: pytest.LogCaptureFixture) -> None:
    base = seed_digest("2025-08-28")
    first = base.entries[0]
    title = "Leave-One-Out " * 7_200  # ~100 KB: the HTML was 225 KB
    huge = dataclasses.replace(first, paper=dataclasses.replace(first.paper, title=title))
    digest = dataclasses.replace(base, entries=(huge, base.entries[1]))
    caplog.set_level(logging.INFO, logger="newsletter.render.html")
    _, markdown, html = _render(digest)
    assert len(html.encode("utf-8")) < 30_000
    shown = lxml.html.fromstring(html).find_class("dg-title")[0].text_content()
    assert shown.startswith("Leave-One-Out Leave-One-Out") and shown.endswith("…")
    assert len(shown) <= SENSIBLE.title
    assert "read&nbsp;more" not in html and caplog.text == ""  # no abstract had to give way
    assert f"[{shown}](#link0)" in markdown


def test_real_papers_never_reach_the_sensible_caps() -> None:
    for digest in (thirty_paper_digest(), seed_digest("2025-08-28"), seed_digest("2025-06-19")):
        assert capped_views(digest) == entry_views(digest)


def test_author_list_keeps_whole_names_and_counts_the_rest() -> None:
    names = ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra", "Barbara Liskov"]
    assert author_list(names, 1_000) == ", ".join(names)
    assert author_list(names, 45) == "Ada Lovelace, Alan Turing, … and 3 more"
    assert author_list(["A" * 500, "B"], 100).endswith("…")
    many = author_list([f"Name {i}" for i in range(2_500)], 80)
    shown, more = many.split(", … and ")
    assert len(shown.split(", ")) + int(more.removesuffix(" more").replace(",", "")) == 2_500
    assert len(many) <= 80


def test_subject_stays_one_short_line_for_a_huge_title() -> None:
    digest = _with_papers(_entry(0, "&" * 100_000))
    assert len(digest_subject(digest)) <= 78
