"""A digest of several announcement days (weekly, or the first after a pause or a change of
frequency): the same reference structure, with the span named in the header and the subject;
a one-day digest exactly as before."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from newsletter.render import render_digest, render_empty
from newsletter.render.markdown import render_markdown
from newsletter.render.text import span_long, span_short, span_us
from tests.fakes.render_data import REPLY_TO, UNSUBSCRIBE_URL, seed_digest, seed_text

DAY = "2025-08-28"


def test_spans_are_named_shortly_across_months_and_years() -> None:
    d = dt.date
    assert span_short(d(2026, 12, 1), d(2026, 12, 5)) == "1–5 Dec 2026"
    assert span_long(d(2026, 12, 1), d(2026, 12, 5)) == "1–5 December 2026"
    assert span_long(d(2026, 11, 28), d(2026, 12, 4)) == "28 November – 4 December 2026"
    assert span_short(d(2026, 12, 29), d(2027, 1, 2)) == "29 Dec 2026 – 2 Jan 2027"
    assert span_us(d(2026, 12, 1), d(2026, 12, 5)) == "12/01/2026–12/05/2026"
    # one day: the daily formats
    assert span_short(None, d(2025, 8, 28)) == span_short(d(2025, 8, 28), d(2025, 8, 28)) == "Thu 28 Aug 2025"
    assert span_long(None, d(2025, 8, 28)) == "Thursday, 28 August 2025"
    assert span_us(None, d(2025, 8, 28)) == "08/28/2025"


def test_a_one_day_digest_is_the_daily_one_byte_for_byte() -> None:
    """(test_render.py compares the daily digest with the reference digests.)"""
    digest = seed_digest(DAY)
    daily = render_digest(digest, unsubscribe_url=UNSUBSCRIBE_URL, reply_to=REPLY_TO)
    assert render_digest(replace(digest, first=digest.date), unsubscribe_url=UNSUBSCRIBE_URL,
                         reply_to=REPLY_TO) == daily
    assert render_markdown(digest).split("\n", 1)[0] == seed_text(DAY).split("\n", 1)[0]


def test_a_weekly_digest_names_its_span_in_the_header_subject_and_headline() -> None:
    digest = seed_digest(DAY)
    weekly = replace(digest, first=dt.date(2025, 8, 22),
                     subscriber=replace(digest.subscriber, frequency="weekly", weekday=3))
    rendered = render_digest(weekly, unsubscribe_url=UNSUBSCRIBE_URL, reply_to=REPLY_TO)
    first, rest = rendered.markdown.split("\n", 1)
    assert first == "# Personalized Weekly ArXiv Papers 08/22/2025–08/28/2025"
    assert rest == render_digest(digest, unsubscribe_url=UNSUBSCRIBE_URL, reply_to=REPLY_TO).markdown.split(
        "\n", 1)[1]  # the rest of the reference structure unchanged
    assert rendered.subject.startswith(f"arXiv digest · 22–28 Aug 2025 · {len(digest.entries)} papers · ")
    assert "22–28 August 2025" in rendered.html
    assert "matched your criteria since your last digest" in rendered.html


def test_an_empty_span_says_which_days_had_nothing() -> None:
    reader = replace(seed_digest(DAY).subscriber, frequency="weekly")
    rendered = render_empty(reader, dt.date(2025, 8, 28), unsubscribe_url=UNSUBSCRIBE_URL,
                            reply_to=REPLY_TO, first=dt.date(2025, 8, 25))
    assert rendered.subject == "arXiv digest · 25–28 Aug 2025 · nothing matched"
    assert rendered.markdown.startswith("# Personalized Weekly ArXiv Papers 08/25/2025–08/28/2025\n")
    assert "Nothing in the arXiv announcements of 25–28 August 2025 matched" in rendered.markdown
    daily = render_empty(replace(reader, frequency="daily"), dt.date(2025, 8, 28),
                         unsubscribe_url=UNSUBSCRIBE_URL, reply_to=REPLY_TO)
    assert daily.subject == "arXiv digest · Thu 28 Aug 2025 · nothing matched today"
    assert "Nothing in today's arXiv announcement matched" in daily.markdown
