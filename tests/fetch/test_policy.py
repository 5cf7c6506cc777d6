"""The polite session's retry policy at its edges: the backoff cap, Retry-After, and its name."""

from __future__ import annotations

import datetime as dt
import socket

import pytest

from newsletter.fetch import HTTPStatusError, PoliteSession, RetryPolicy
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


def test_a_service_that_never_answers_is_not_said_to_have_answered() -> None:
    with socket.socket() as closed:  # a port nobody listens on: connection refused
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/api/query"
    for attempts, tries in ((1, ""), (2, " on all 2 attempts")):
        policy = RetryPolicy(attempts=attempts, backoff=0)
        session = PoliteSession(timeout=5, policy=policy, sleep=lambda _: None)
        with pytest.raises(HTTPStatusError) as caught:
            session.get(url)
        assert str(caught.value) == f"{url}: connection failed (ConnectionError){tries}"
        assert caught.value.status is None
