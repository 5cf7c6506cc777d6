"""The HTML digest in a real browser: headless Chromium at phone and desktop widths.

Runs wherever Chromium is installed and always in CI (CI set): there a missing browser fails.
Screenshots go to $NEWSLETTER_ARTIFACTS (default tests/artifacts/, git-ignored) for a human look.
"""

from __future__ import annotations

import dataclasses
import html
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import lxml.html
import pytest

from newsletter.models import Digest, DigestEntry, Paper, Score
from newsletter.render import render_digest
from newsletter.render.math import render_math
from tests.fakes.browser import chromium_executable
from tests.fakes.render_data import REPLY_TO, UNSUBSCRIBE_URL, thirty_paper_digest, topical_digest, vote_links

pytestmark = pytest.mark.browser

WIDTHS = (375, 800)
_MAX_SHOT_HEIGHT = 32_000  # a 30-paper digest is ~21,000 px tall at 375 px
_MEASURE = Path(__file__).parents[1] / "data" / "render" / "measure.js"
# Read at import: conftest's autouse fixture clears NEWSLETTER_* before every test runs.
_ARTIFACTS_DIR = os.environ.get("NEWSLETTER_ARTIFACTS") or str(Path(__file__).parents[1] / "artifacts")


def _chromium() -> str:
    return chromium_executable()


def _artifacts() -> Path:
    path = Path(_ARTIFACTS_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _run(browser: str, profile: Path, width: int, height: int, *args: str) -> str:
    command = [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}",
        f"--window-size={width},{height}", *args,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, f"chromium failed ({done.returncode}): {done.stderr[-2000:]}"
    return done.stdout


def _measure(browser: str, page: Path, profile: Path, width: int) -> dict[str, Any]:
    """Lay the page out `width` px wide and read the measuring script's report from the DOM.

    Headless Chromium will not make a window narrower than 500 px for --dump-dom, so the digest
    goes into an iframe of exactly `width` px (its own viewport: media queries see `width`).
    """
    script = f"<script>{_MEASURE.read_text(encoding='utf-8')}</script>"
    inner = page.read_text(encoding="utf-8").replace("</body>", script + "</body>")
    harness = page.with_name(f"probe-{width}.html")
    harness.write_text(
        '<!doctype html><html><body style="margin:0">'
        f'<iframe style="width:{width}px;height:900px;border:0;display:block" '
        f'srcdoc="{html.escape(inner, quote=True)}"></iframe></body></html>',
        encoding="utf-8",
    )
    dom = _run(
        browser,
        profile,
        max(width, 500) + 40,
        1000,
        "--virtual-time-budget=5000",
        "--dump-dom",
        harness.as_uri(),
    )
    found = lxml.html.fromstring(dom).xpath("//pre[@id='dg-measure']")
    assert found, f"the measuring script wrote no report at {width}px"
    report: dict[str, Any] = json.loads(found[0].text_content())
    return report


def _digest_with_hard_cases() -> Digest:
    base = thirty_paper_digest()
    nasty = Paper(
        arxiv_id="2508.99999",
        title="Ünïcode & <script>window.pwned=1</script> $x<y$ \\mathbb{R}^n — 中文标题 🚀 "
        "Supercalifragilisticexpialidocious-Without-Any-Break-Anywhere-In-This-Very-Long-Token",
        authors=("Zoë O'Neil", "李 雷"),
        abstract='A</mj-text> <img src=x onerror="window.pwned=2"> https://example.org/'
        + "a" * 120
        + " and 日本語の要約の文章が続きます" * 5,
        categories=("cs.CV",),
    )
    extra = DigestEntry(nasty, Score("2508.99999", 9, 9, "Author match: 李 雷", source="author"))
    return dataclasses.replace(base, entries=(*base.entries[:14], extra, *base.entries[14:29]))


def test_digest_in_headless_chromium(tmp_path: Path) -> None:
    browser = _chromium()
    digest = _digest_with_hard_cases()
    rendered = render_digest(digest, unsubscribe_url=UNSUBSCRIBE_URL, reply_to=REPLY_TO)
    page = tmp_path / "digest.html"
    page.write_text(rendered.html, encoding="utf-8")
    titles = [render_math(" ".join(e.paper.title.split())) for e in digest.entries]
    artifacts = _artifacts()

    for width in WIDTHS:
        report = _measure(browser, page, tmp_path / f"profile-{width}", width)
        assert report["viewport"] == width, report
        assert report["scrollWidth"] <= width, f"horizontal overflow at {width}px: {report}"
        assert report["overflowing"] == [], f"elements wider than {width}px: {report['overflowing']}"
        assert report["pwned"] is None, "paper text ran as script"
        assert [t["text"] for t in report["titles"]] == titles
        hidden = [t for t in report["titles"] if not t["visible"]]
        assert hidden == [], f"titles not visible at {width}px: {hidden}"
        height = min(int(report["height"]) + 20, _MAX_SHOT_HEIGHT)
        for scheme, flags in (("light", ()), ("dark", ("--force-dark-mode",))):
            shot = artifacts / f"digest-{width}px-{scheme}.png"
            _run(
                browser,
                tmp_path / f"profile-{width}-{scheme}",
                width,
                height,
                *flags,
                f"--screenshot={shot}",
                page.as_uri(),
            )
            assert shot.stat().st_size > 10_000, f"empty screenshot {shot}"


def test_measuring_script_catches_overflow_and_hidden_titles(tmp_path: Path) -> None:
    """The browser checks above can fail: a too-wide table and a covered title are caught."""
    browser = _chromium()
    page = tmp_path / "bad.html"
    page.write_text(
        "<!doctype html><html><head><meta name='viewport' content='width=device-width'></head>"
        "<body style='margin:0'><table width='640'><tr><td>wide</td></tr></table>"
        "<a class='dg-title' href='#'>Shown</a><br>"
        "<a class='dg-title' href='#' style='visibility:hidden'>Hidden</a>"
        "<div style='position:relative'><a class='dg-title' href='#'>Covered</a>"
        "<div style='position:absolute;inset:0;background:#fff'></div></div></body></html>",
        encoding="utf-8",
    )
    report = _measure(browser, page, tmp_path / "profile", 375)
    assert report["viewport"] == 375
    assert report["scrollWidth"] > 375
    assert report["overflowing"][0]["tag"] == "TABLE"
    assert [(t["text"], t["visible"]) for t in report["titles"]] == [
        ("Shown", True),
        ("Hidden", False),
        ("Covered", False),
    ]


@pytest.mark.parametrize("width", [375, 1280])
def test_feedback_links_show_under_every_paper_at_phone_and_desktop_width(tmp_path: Path, width: int) -> None:
    browser = _chromium()
    digest = _digest_with_hard_cases()
    rendered = render_digest(digest, unsubscribe_url=UNSUBSCRIBE_URL, reply_to=REPLY_TO,
                             vote_urls=vote_links(digest))
    page = tmp_path / "digest.html"
    page.write_text(rendered.html, encoding="utf-8")
    report = _measure(browser, page, tmp_path / "profile", width)
    assert report["scrollWidth"] <= width and report["overflowing"] == [], report["overflowing"]
    assert [v["text"] for v in report["votes"]] == ["More like this", "Less like this"] * len(digest.entries)
    hidden = [v for v in report["votes"] if not v["visible"]]
    assert hidden == [], f"feedback links not visible at {width}px: {hidden[:3]}"
    shot = _artifacts() / f"digest-votes-{width}px.png"
    _run(browser, tmp_path / "profile-shot", width, 1600, f"--screenshot={shot}", page.as_uri())
    assert shot.stat().st_size > 10_000


def test_topic_sections_fit_a_phone_and_the_contents_count_what_each_section_holds(tmp_path: Path) -> None:
    """The grouped HTML at 375 and 800 px: no horizontal overflow, each section's count in the
    contents is the number of papers under its heading, and every paper keeps its number."""
    browser = _chromium()
    digest = topical_digest()
    rendered = render_digest(digest, unsubscribe_url=UNSUBSCRIBE_URL, reply_to=REPLY_TO,
                             vote_urls=vote_links(digest))
    page = tmp_path / "digest.html"
    page.write_text(rendered.html, encoding="utf-8")
    topic_of = {number: entry.score.topic for number, entry in enumerate(digest.entries)}
    for width in WIDTHS:
        report = _measure(browser, page, tmp_path / f"profile-{width}", width)
        assert report["scrollWidth"] <= width and report["overflowing"] == [], report["overflowing"]
        sections, contents = report["sections"], report["contents"]
        assert len(sections) == 5 and sections[-1]["heading"] == "Other"
        assert [c["heading"] for c in contents] == [s["heading"] for s in sections]
        assert [c["count"] for c in contents] == [len(s["numbers"]) for s in sections]
        assert [c["target"] for c in contents] == [f"#{s['id']}" for s in sections]
        assert all(s["headingInside"] for s in sections), sections
        numbers = [n for s in sections for n in s["numbers"]]
        assert sorted(numbers) == list(range(len(digest.entries)))
        for section in sections:  # each section holds one topic's papers, best (lowest number) first
            assert section["numbers"] == sorted(section["numbers"])
            assert len({topic_of[n] for n in section["numbers"]}) == 1
        assert [s["numbers"][0] for s in sections[:-1]] == sorted(s["numbers"][0] for s in sections[:-1])
        assert len(report["titles"]) == len(digest.entries) and all(t["visible"] for t in report["titles"])
    shot = _artifacts() / "digest-topics-375px.png"
    _run(browser, tmp_path / "profile-shot", 375, 2400, f"--screenshot={shot}", page.as_uri())
    assert shot.stat().st_size > 10_000
