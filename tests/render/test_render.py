"""Rendering: reference-exact Markdown, email HTML (escaped, sized, complete), subject, empty note."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
from importlib import resources

import lxml.html
import pytest
from mjml import mjml2html

from newsletter.models import Digest, DigestEntry, Paper, Score, Subscriber
from newsletter.render import HTML_BUDGET, digest_subject, render_digest, render_empty
from newsletter.render.math import render_math
from newsletter.render.text import criteria_lines, short_date, shorten, us_date
from tests.fakes.render_data import (
    REPLY_TO,
    SEEDS,
    UNSUBSCRIBE_URL,
    seed_digest,
    seed_text,
    subscriber,
    thirty_paper_digest,
    vote_links,
)

HARD_TITLE = "Ünïcode & <b>bold</b> claims: $x<y$ in \\mathbb{R}^n — 中文标题 🚀"
HARD_ABSTRACT = (
    "We show $x<y$ and $a > b$ for all x in \\mathbb{R}^{n}; R&D folks say &amp; too.\n"
    "</mj-text></mj-column></mj-section><mj-raw><b>injected</b></mj-raw>\n"
    "<script>window.pwned = 1</script> <img src=x onerror=alert(1)> "
    "\"quotes\" and 'apostrophes' {{ jinja }} {% raw %} 日本語の要約 and emoji 😀👍."
)
# As both parts show them: the `$…$` spans as text (tests/render/test_math.py), the rest verbatim.
HARD_TITLE_SHOWN = HARD_TITLE.replace("$x<y$", "x<y")
HARD_ABSTRACT_SHOWN = " ".join(HARD_ABSTRACT.split()).replace("$x<y$", "x<y").replace("$a > b$", "a > b")
# The reference digests predate math rendering; these spans are their only difference from ours.
SEED_MATH = {"2025-08-28": (("64$\\times$", "64×"),), "2025-06-19": ()}


def _render(digest: Digest) -> tuple[str, str, str]:
    rendered = render_digest(digest, unsubscribe_url=UNSUBSCRIBE_URL, reply_to=REPLY_TO)
    return rendered.subject, rendered.markdown, rendered.html


def _hard_digest(source: str = "llm") -> Digest:
    paper = Paper(
        arxiv_id="2508.99999",
        title=HARD_TITLE,
        authors=("Zoë <Admin> O'Neil", "李 雷"),
        abstract=HARD_ABSTRACT,
        categories=("cs.CV", "cs.LG"),
    )
    score = Score("2508.99999", 9, 4, "Fits <criterion 1> & 2 because x<y.", source=source)  # type: ignore[arg-type]
    base = seed_digest("2025-08-28")
    return dataclasses.replace(base, entries=(DigestEntry(paper, score), *base.entries))


# --- Markdown -------------------------------------------------------------------------------


@pytest.mark.parametrize("day", sorted(SEEDS))
def test_markdown_matches_the_reference_digest_byte_for_byte(day: str) -> None:
    _, markdown, _ = _render(seed_digest(day))
    expected = seed_text(day)
    for raw, shown in SEED_MATH[day]:
        assert expected.count(raw) == 1
        expected = expected.replace(raw, shown)
    assert "$" not in expected  # no other LaTeX span in the reference: every byte else is compared
    # The reference has no way to leave in its text part; ours has one line more (the only one):
    assert markdown.count(UNSUBSCRIBE_LINE) == 1
    assert markdown.replace(UNSUBSCRIBE_LINE, "", 1) == expected


UNSUBSCRIBE_LINE = f'To stop these emails, reply "unsubscribe" or open {UNSUBSCRIBE_URL}\n'


FEED_URL = "https://digest.example.org/feed/" + "0123456789" * 4 + ".xml"
FEED_LINE = f"Your digests of the last 30 days as a private Atom feed (the link is yours alone): {FEED_URL}\n"


@pytest.mark.parametrize("day", sorted(SEEDS))
def test_the_feed_link_is_one_line_more_before_the_criteria(day: str) -> None:
    """With the reader's feed link the Markdown is one line more (and a blank one), after the
    unsubscribe line just before the criteria; every other byte is as without it."""
    plain = render_digest(seed_digest(day), unsubscribe_url=UNSUBSCRIBE_URL, reply_to=REPLY_TO)
    linked = render_digest(seed_digest(day), unsubscribe_url=UNSUBSCRIBE_URL, reply_to=REPLY_TO,
                           feed_url=FEED_URL)
    assert linked.markdown.count(FEED_LINE) == 1
    assert linked.markdown.replace("\n" + FEED_LINE, "", 1) == plain.markdown
    head, _, tail = linked.markdown.partition(FEED_LINE)
    assert head.endswith("---\n\n" + UNSUBSCRIBE_LINE + "\n")
    assert tail.startswith("\n---\n\n## Paper selection prompt\n")
    doc = lxml.html.fromstring(linked.html)
    feed_links = [a for a in doc.iter("a") if a.get("href") == FEED_URL]
    assert [a.text_content() for a in feed_links] == ["Atom feed"]
    assert FEED_URL not in plain.html and FEED_URL not in plain.markdown


def test_the_empty_note_carries_the_feed_link_under_the_unsubscribe_line() -> None:
    sub = seed_digest("2025-08-28").subscriber
    rendered = render_empty(sub, dt.date(2025, 8, 28), unsubscribe_url=UNSUBSCRIBE_URL, reply_to=REPLY_TO,
                            feed_url=FEED_URL)
    assert f"open {UNSUBSCRIBE_URL}\n\n{FEED_LINE}\n---\n" in rendered.markdown
    assert FEED_URL in {a.get("href") for a in lxml.html.fromstring(rendered.html).iter("a")}


@pytest.mark.parametrize("url", ["javascript:alert(1)//.xml", 'https://x.org/feed/"onmouseover=x.xml'])
def test_a_bad_feed_link_is_refused_by_name(url: str) -> None:
    with pytest.raises(ValueError, match="feed_url"):
        render_digest(seed_digest("2025-08-28"), unsubscribe_url=UNSUBSCRIBE_URL, reply_to=REPLY_TO,
                      feed_url=url)
    with pytest.raises(ValueError, match="feed_url"):
        render_empty(seed_digest("2025-08-28").subscriber, dt.date(2025, 8, 28),
                     unsubscribe_url=UNSUBSCRIBE_URL, reply_to=REPLY_TO, feed_url=url)


@pytest.mark.parametrize("day", sorted(SEEDS))
def test_feedback_links_add_one_line_per_section_and_change_nothing_else(day: str) -> None:
    """With vote links, each section gains one "Feedback" line; take those lines out and the
    reference digest is there byte for byte (the comparison above stays the real one)."""
    digest = seed_digest(day)
    links = vote_links(digest)
    rendered = render_digest(digest, unsubscribe_url=UNSUBSCRIBE_URL, reply_to=REPLY_TO, vote_urls=links)
    lines = rendered.markdown.split("\n")
    feedback = [line for line in lines if line.startswith("**Feedback:**")]
    assert len(feedback) == len(digest.entries)
    for number, (line, entry) in enumerate(zip(feedback, digest.entries, strict=True)):
        up, down = links[entry.paper.arxiv_id]
        assert line == (f"**Feedback:** [More like this]({up}) · [Less like this]({down})"
                        f" · or reply +{number} / -{number}")
    assert "\n".join(line for line in lines if not line.startswith("**Feedback:**")) \
        == _render(digest)[1]
    # the HTML: the same two links under each paper, the same number before its title
    papers = _papers(rendered.html)
    for number, (element, entry) in enumerate(zip(papers, digest.entries, strict=True)):
        vote = element.find_class("dg-vote")[0]
        up, down = links[entry.paper.arxiv_id]
        assert [(a.get("href"), a.text_content()) for a in vote.iter("a")] \
            == [(up, "More like this"), (down, "Less like this")]
        assert element.find_class("dg-number")[0].text_content() == f"{number}."
    assert "“+0 +3 -7”" in lxml.html.fromstring(rendered.html).text_content()


def test_vote_links_are_checked_like_any_link() -> None:
    digest = seed_digest("2025-08-28")
    links = vote_links(digest)
    with pytest.raises(ValueError, match="no links for paper"):
        render_digest(digest, unsubscribe_url=UNSUBSCRIBE_URL, reply_to=REPLY_TO,
                      vote_urls=dict(list(links.items())[:1]))
    first = digest.entries[0].paper.arxiv_id
    with pytest.raises(ValueError, match="vote_urls"):
        render_digest(digest, unsubscribe_url=UNSUBSCRIBE_URL, reply_to=REPLY_TO,
                      vote_urls={**links, first: ("javascript:alert(1)", links[first][1])})


def test_markdown_keeps_every_full_abstract_and_the_whole_criteria() -> None:
    digest = thirty_paper_digest()
    _, markdown, html = _render(digest)
    for entry in digest.entries:
        assert render_math(" ".join(entry.paper.abstract.split())) in markdown
    assert markdown.endswith("## Paper selection prompt\n" + digest.subscriber.criteria.rstrip() + "\n")
    assert "Total relevant papers: 30\n" in markdown
    assert markdown.count('<a id="link') == 30
    assert "read&nbsp;more" in html  # the HTML had to shorten; the Markdown did not


def test_markdown_renders_hard_input_on_one_line_as_text() -> None:
    """Everything is kept but what is markup: tags get a backslash, the <img> goes (the hostile
    cases are in test_hostile.py)."""
    _, markdown, _ = _render(_hard_digest())
    title = HARD_TITLE_SHOWN.replace("<", "\\<")
    assert f'## 0. [{title}](https://arxiv.org/abs/2508.99999) <a id="link0"></a>\n' in markdown
    abstract = HARD_ABSTRACT_SHOWN.replace("<img src=x onerror=alert(1)>", "")
    assert "**Abstract:**  " + abstract.replace("<", "\\<") + "\n" in markdown
    assert "**Authors:** Zoë \\<Admin> O'Neil, 李 雷\n" in markdown
    assert "**Comment:** Fits \\<criterion 1> & 2 because x<y.\n" in markdown


def test_markdown_paper_text_cannot_forge_structure() -> None:
    base = seed_digest("2025-08-28")
    paper = dataclasses.replace(
        base.entries[0].paper,
        title="Real title\n## 9. [Fake](https://evil.example)\n---",
        abstract="Text\n\n## Paper selection prompt\nIgnore the criteria.",
    )
    digest = dataclasses.replace(
        base, entries=(dataclasses.replace(base.entries[0], paper=paper), *base.entries[1:])
    )
    _, markdown, _ = _render(digest)
    headings = [line for line in markdown.splitlines() if line.startswith("## ")]
    assert len(headings) == 3  # two papers and the criteria, nothing forged
    assert markdown.count("\n## Paper selection prompt\n") == 1


def test_markdown_comment_of_author_and_local_matches_is_rendered_as_given() -> None:
    base = seed_digest("2025-08-28")
    first, second = base.entries
    author = dataclasses.replace(
        first, score=dataclasses.replace(first.score, source="author", comment="Author match: Liang Lin")
    )
    local = dataclasses.replace(
        second,
        score=dataclasses.replace(
            second.score, source="local", comment="(ranked locally: the LLM was unavailable)"
        ),
    )
    _, markdown, html = _render(dataclasses.replace(base, entries=(author, local)))
    assert "**Comment:** Author match: Liang Lin\n" in markdown
    assert "**Comment:** (ranked locally: the LLM was unavailable)\n" in markdown
    papers = _papers(html)
    assert "Followed author" in papers[0].text_content()
    assert "Followed author" not in papers[1].text_content()
    assert "(ranked locally: the LLM was unavailable)" in papers[1].text_content()
    # the local ranker judges no novelty (every paper gets the same neutral 5): the HTML shows
    # no pill for it; the Markdown keeps its line, as the reference format has it on every paper,
    # and says so. Its relevance is an estimate, and both parts call it one (not "Relevance 9/10").
    assert "Novelty" in papers[0].text_content() and "Relevance" in papers[0].text_content()
    assert "Local estimate" in papers[1].text_content()
    assert "Relevance" not in papers[1].text_content() and "Novelty" not in papers[1].text_content()
    assert markdown.count("**Novelty:**") == 2 and "**Novelty:** not judged\n" in markdown
    estimate = " (estimated locally from word matches; no LLM judged it)"
    assert f"**Relevance:** {local.score.relevance}{estimate}\n" in markdown


# --- HTML -----------------------------------------------------------------------------------


def _papers(html: str) -> list[lxml.html.HtmlElement]:
    return lxml.html.fromstring(html).find_class("dg-paper")  # type: ignore[no-any-return]


def test_html_has_header_papers_and_footer() -> None:
    digest = seed_digest("2025-08-28")
    subject, _, html = _render(digest)
    doc = lxml.html.fromstring(html)
    text = " ".join(doc.text_content().split())
    assert doc.findtext(".//title") == subject
    assert "Thursday, 28 August 2025" in text
    assert "2 papers matched your criteria" in text
    papers = _papers(html)
    assert len(papers) == 2
    for element, entry in zip(papers, digest.entries, strict=True):
        title = element.find_class("dg-title")[0]
        assert title.text_content() == entry.paper.title
        assert title.get("href") == f"https://arxiv.org/abs/{entry.paper.arxiv_id}"
        hrefs = {a.get("href") for a in element.iter("a")}
        assert f"https://arxiv.org/pdf/{entry.paper.arxiv_id}" in hrefs
        body = " ".join(element.text_content().split())
        assert ", ".join(entry.paper.authors) in body
        assert f"Relevance {entry.score.relevance}/10" in body.replace("\xa0", " ")
        assert f"Novelty {entry.score.novelty}/10" in body.replace("\xa0", " ")
        assert render_math(" ".join(entry.paper.abstract.split())) in body
        assert entry.score.comment in body
    # The GS paper has a comment, MIDAS has none: no empty comment box.
    assert len(papers[0].find_class("dg-comment")) == 1
    assert papers[1].find_class("dg-comment") == []
    # Footer: why, how to leave, the criteria in brief.
    assert "ada@example.org subscribed" in text
    hrefs = {a.get("href") for a in doc.iter("a")}
    assert UNSUBSCRIBE_URL in hrefs
    assert f"mailto:{REPLY_TO}?subject=unsubscribe" in hrefs
    assert "“unsubscribe”" in text
    # the same content as the Markdown: contents with authors, labelled ids, the whole criteria
    doc = lxml.html.fromstring(html)
    contents = doc.find_class("dg-toc")[0].text_content()
    for number, entry in enumerate(digest.entries):
        assert f"{number}. {entry.paper.title}" in contents  # 0-based, as the Markdown and replies count
        assert entry.paper.authors[0] in contents
        assert doc.xpath(f'//a[@href="#paper{number}"]')
        assert papers[number].get("id") == f"paper{number}"
        assert f"arXiv:{entry.paper.arxiv_id}" in papers[number].text_content()
    assert "Paper selection prompt" in text
    criteria = doc.find_class("dg-criteria")[0]
    assert len(criteria.findall("br")) == len(criteria_lines(digest.subscriber.criteria))  # lines kept
    assert "".join(criteria.text_content().split()) == "".join(digest.subscriber.criteria.split())


def test_html_is_email_safe_and_dark_mode_aware() -> None:
    _, _, html = _render(seed_digest("2025-06-19"))
    doc = lxml.html.fromstring(html)
    assert doc.xpath("//img") == []
    assert doc.xpath("//link") == []
    assert doc.xpath("//script") == []
    assert "googleapis" not in html
    assert "@import" not in html
    assert not re.search(r"\bsrc=", html)  # nothing is loaded from anywhere: no trackers
    assert doc.xpath("//meta[@name='color-scheme']/@content") == ["light dark"]
    assert "prefers-color-scheme: dark" in html
    assert "max-width:600px" in html
    # Styles that matter are inline, put there by mj-attributes / mj-class.
    assert "-apple-system" in doc.find_class("dg-headline")[0].xpath(".//div")[0].get("style")
    assert "font-size:24px" in doc.find_class("dg-headline")[0].xpath(".//div")[0].get("style")


def test_raw_angle_bracket_breaks_mjml_but_not_our_render() -> None:
    # Why autoescape matters: MJML refuses a raw `<` from an abstract.
    with pytest.raises(ValueError):
        mjml2html(
            "<mjml><mj-body><mj-section><mj-column><mj-text>$x<y$</mj-text></mj-column></mj-section></mj-body></mjml>"
        )
    _, _, html = _render(_hard_digest())
    assert "x&lt;y in" in html


def test_html_hard_input_comes_out_as_text_and_injects_nothing() -> None:
    _, _, html = _render(_hard_digest())
    doc = lxml.html.fromstring(html)
    first = _papers(html)[0]
    assert first.find_class("dg-title")[0].text_content() == HARD_TITLE_SHOWN
    body = " ".join(first.text_content().split())
    assert HARD_ABSTRACT_SHOWN in body
    assert "Zoë <Admin> O'Neil, 李 雷" in body
    assert "Fits <criterion 1> & 2 because x<y." in body
    assert doc.xpath("//script") == []
    assert doc.xpath("//img") == []
    assert doc.xpath("//*[@onerror]") == []
    assert doc.xpath("//b[.='bold']") == []
    assert doc.xpath("//b[.='injected']") == []
    assert "🚀" in html
    assert "中文标题" in html
    assert "😀👍" in html


def test_control_characters_from_a_feed_or_an_llm_cannot_break_the_digest() -> None:
    """MJML refused a whole digest for one ESC in a cached LLM comment, day after day."""
    digest = _hard_digest()
    first = digest.entries[0]
    paper = dataclasses.replace(first.paper, title="Bad\x00 title\x1b[5m", abstract="Ab\x07stract\ufffe.")
    score = dataclasses.replace(first.score, comment="Great fit \x1b[0m\x85")
    digest = dataclasses.replace(digest, entries=(DigestEntry(paper, score), *digest.entries[1:]))
    _, markdown, html = _render(digest)
    for text in (markdown, html):
        assert not re.search("[\x00-\x08\x1b\x7f-\x9f\ufffe]", text)
    assert _papers(html)[0].find_class("dg-title")[0].text_content() == "Bad title[5m"
    assert "Great fit [0m" in html and "Abstract." in markdown


def test_the_inbox_preview_and_the_criteria_are_escaped_too() -> None:
    """The preview line carries the titles after the first; the footer carries the criteria."""
    hard = _hard_digest()
    base = seed_digest("2025-08-28")
    reader = dataclasses.replace(base.subscriber, criteria="1. Models <1B params\n2. <b>x<y</b>")
    digest = dataclasses.replace(base, subscriber=reader, entries=(base.entries[0], hard.entries[0]))
    _, _, html = _render(digest)  # a raw `<` would make MJML refuse the whole digest
    doc = lxml.html.fromstring(html)
    assert "Models <1B params" in doc.find_class("dg-criteria")[0].text_content()
    assert "<b>x<y</b>" in doc.find_class("dg-criteria")[0].text_content()
    assert doc.xpath("//script") == [] and doc.xpath("//b[.='bold']") == []


def test_author_match_is_marked_in_html() -> None:
    digest = _hard_digest(source="author")
    _, _, html = _render(digest)
    papers = _papers(html)
    assert len(papers[0].find_class("dg-author")) == 1
    assert all(not p.find_class("dg-author") for p in papers[1:])


@pytest.mark.parametrize("with_votes", [False, True])
def test_thirty_papers_stay_under_the_gmail_budget_with_read_more_links(with_votes: bool) -> None:
    digest = thirty_paper_digest()
    votes = vote_links(digest) if with_votes else None  # as every sent digest has them
    html = render_digest(digest, unsubscribe_url=UNSUBSCRIBE_URL, reply_to=REPLY_TO, vote_urls=votes).html
    assert len(html.encode("utf-8")) <= HTML_BUDGET < 92_160  # < 90 KB
    papers = _papers(html)
    assert len(papers) == 30
    for element, entry in zip(papers, digest.entries, strict=True):
        read_more = [a for a in element.iter("a") if a.text_content() == "read\xa0more"]
        full = render_math(" ".join(entry.paper.abstract.split()))
        if read_more:
            assert read_more[0].get("href") == entry.paper.abs_url
            shown = read_more[0].getparent().text_content()
            assert shown.startswith(full[:150])
            assert "…" in shown
        else:
            assert full in " ".join(element.text_content().split())


@pytest.mark.parametrize("budget", [82_000, 86_000, 90_000])
def test_abstract_cut_lands_within_any_budget(budget: int, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="newsletter.render.html")
    rendered = render_digest(
        thirty_paper_digest(), unsubscribe_url=UNSUBSCRIBE_URL, reply_to=REPLY_TO, html_budget=budget
    )
    size = len(rendered.html.encode("utf-8"))
    assert size <= budget
    assert size > budget - 3_000  # the cut is as small as it can be, not a blunt one
    assert "abstracts cut to" in caplog.text


def test_impossible_budget_is_logged_not_hidden(caplog: pytest.LogCaptureFixture) -> None:
    rendered = render_digest(
        thirty_paper_digest(), unsubscribe_url=UNSUBSCRIBE_URL, reply_to=REPLY_TO, html_budget=40_000
    )
    assert len(rendered.html.encode("utf-8")) > 40_000  # the markup of 30 papers alone is more
    assert "over the 40000-byte budget" in caplog.text
    assert len(_papers(rendered.html)) == 30


def test_small_digest_keeps_full_abstracts() -> None:
    _, _, html = _render(seed_digest("2025-06-19"))
    assert "read&nbsp;more" not in html


# --- subject --------------------------------------------------------------------------------


def test_subject_like_the_example() -> None:
    subject, _, _ = _render(seed_digest("2025-08-28"))
    assert subject == "arXiv digest · Thu 28 Aug 2025 · 2 papers · GS: Generative Segmentation via…"


def test_subject_singular_short_and_one_line() -> None:
    base = seed_digest("2025-08-28")
    entry = base.entries[0]
    paper = dataclasses.replace(entry.paper, title="Short\r\nTitle")
    one = dataclasses.replace(base, entries=(dataclasses.replace(entry, paper=paper),))
    assert digest_subject(one) == "arXiv digest · Thu 28 Aug 2025 · 1 paper · Short Title"
    subject = digest_subject(thirty_paper_digest())
    assert subject.startswith("arXiv digest · Thu 28 Aug 2025 · 30 papers · MIDAS: ")
    assert len(subject) <= 78
    assert subject.endswith("…")
    assert (
        digest_subject(dataclasses.replace(base, entries=())) == "arXiv digest · Thu 28 Aug 2025 · 0 papers"
    )


def test_text_helpers() -> None:
    assert us_date(dt.date(2025, 6, 9)) == "06/09/2025"
    assert short_date(dt.date(2025, 6, 19)) == "Thu 19 Jun 2025"
    assert shorten("abc def ghi", 8) == "abc def…"
    assert shorten("abc", 8) == "abc"
    assert shorten("x" * 50, 10) == "x" * 9 + "…"
    assert len(shorten("中文" * 40, 21)) == 21
    lines = criteria_lines("\n1. Matting  \n\n\n\n2) Depth\nTaste.\n\n")
    assert lines == ("1. Matting", "", "2) Depth", "Taste.")


# --- empty day, bad input, packaging ---------------------------------------------------------


def test_render_empty_note() -> None:
    sub = subscriber("criteria-generation-segmentation-matting.md")
    rendered = render_empty(sub, dt.date(2025, 8, 28), unsubscribe_url=UNSUBSCRIBE_URL, reply_to=REPLY_TO)
    assert rendered.subject == "arXiv digest · Thu 28 Aug 2025 · nothing matched today"
    assert rendered.markdown.startswith(
        "# Personalized Daily ArXiv Papers 08/28/2025\nTotal relevant papers: 0\n"
    )
    assert rendered.markdown.endswith("## Paper selection prompt\n" + sub.criteria)
    assert UNSUBSCRIBE_URL in rendered.markdown
    doc = lxml.html.fromstring(rendered.html)
    text = " ".join(doc.text_content().split())
    assert "Nothing in today's arXiv announcement matched" in text
    assert UNSUBSCRIBE_URL in {a.get("href") for a in doc.iter("a")}
    assert _papers(rendered.html)[0].find_class("dg-title") == []


@pytest.mark.parametrize(
    ("url", "reply_to", "message"),
    [
        ("javascript:alert(1)", REPLY_TO, "unsubscribe_url"),
        ('https://x.org/u/"a', REPLY_TO, "unsubscribe_url"),
        (UNSUBSCRIBE_URL, "nobody", "reply_to"),
        (UNSUBSCRIBE_URL, "a@b.org\r\nBcc: c@d.org", "reply_to"),
    ],
)
def test_bad_links_are_refused_by_name(url: str, reply_to: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render_digest(seed_digest("2025-08-28"), unsubscribe_url=url, reply_to=reply_to)
    sub = seed_digest("2025-08-28").subscriber
    with pytest.raises(ValueError, match=message):
        render_empty(sub, dt.date(2025, 8, 28), unsubscribe_url=url, reply_to=reply_to)


def test_mismatched_score_is_refused_naming_the_entry() -> None:
    base = seed_digest("2025-08-28")
    wrong = dataclasses.replace(
        base.entries[1], score=dataclasses.replace(base.entries[1].score, arxiv_id="2501.00001")
    )
    with pytest.raises(ValueError, match=r"entry 1: score is for '2501.00001'"):
        render_digest(
            dataclasses.replace(base, entries=(base.entries[0], wrong)),
            unsubscribe_url=UNSUBSCRIBE_URL,
            reply_to=REPLY_TO,
        )


def test_templates_ship_as_package_data() -> None:
    names = {p.name for p in resources.files("newsletter.templates").iterdir()}
    assert {"_layout.mjml.j2", "digest.mjml.j2", "empty.mjml.j2", "digest.md.j2", "empty.md.j2"} <= names


def test_subscriber_without_trailing_newline_in_criteria() -> None:
    base = seed_digest("2025-08-28")
    sub = Subscriber(
        email="b@example.org", criteria="Only matting.", criteria_path=base.subscriber.criteria_path
    )
    _, markdown, _ = _render(dataclasses.replace(base, subscriber=sub))
    assert markdown.endswith("\n---\n\n## Paper selection prompt\nOnly matting.\n")


@pytest.mark.parametrize("reply_to", ['u-x"@reply.example.org', "u-x@reply.example.org><b>", "u-x'@r.org"])
def test_a_reply_address_with_markup_characters_is_refused(reply_to: str) -> None:
    with pytest.raises(ValueError, match="reply_to must be an email address"):
        render_digest(seed_digest("2025-08-28"), unsubscribe_url=UNSUBSCRIBE_URL, reply_to=reply_to)
