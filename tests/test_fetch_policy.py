"""The polite session's retry policy at its edges: the backoff cap, Retry-After, and its name."""

from __future__ import annotations

import datetime as dt

from newsletter.fetch import PoliteSession, RetryPolicy
from newsletter.fetch.http import USER_AGENT
from tests.fakes.arxiv_server import FakeArxiv, Reply

DAY = dt.date(2025, 8, 28)
NOW = dt.datetime(2025, 8, 28, 11, 0, tzinfo=dt.UTC)
CATS = ("cs.CV", "cs.AI")


def test_backoff_stops_growing_at_its_cap(fake_arxiv: FakeArxiv) -> None:
    fake_arxiv.script("feed", *[Reply.error(503)] * 3)
    policy = RetryPolicy(attempts=4, backoff=50.0, max_backoff=60.0)
    fake_arxiv.source(retry=policy).fetch_day(CATS, want=DAY, now=NOW)
    assert fake_arxiv.clock.sleeps == [50.0, 60.0, 60.0]


def test_a_short_retry_after_does_not_cut_the_backoff(fake_arxiv: FakeArxiv) -> None:
    fake_arxiv.script("feed", Reply.error(503, retry_after=0), Reply.error(429, retry_after=1))
    fake_arxiv.source(retry=RetryPolicy(backoff=4.0)).fetch_day(CATS, want=DAY, now=NOW)
    assert fake_arxiv.clock.sleeps == [4.0, 8.0]


def test_a_retry_after_of_exactly_the_limit_is_still_honoured(fake_arxiv: FakeArxiv) -> None:
    fake_arxiv.script("feed", Reply.error(429, retry_after=600))
    day = fake_arxiv.source(retry=RetryPolicy(backoff=1.0, max_retry_after=600.0)).fetch_day(
        CATS, want=DAY, now=NOW
    )
    assert len(day.papers) == 135
    assert fake_arxiv.clock.sleeps == [600.0]


def test_requests_name_the_service_not_the_http_library() -> None:
    session = PoliteSession(timeout=5)
    assert session.headers["User-Agent"] == USER_AGENT
    assert USER_AGENT.startswith("arxiv-digest/")
