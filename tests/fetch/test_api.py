"""Backfill and id lookups through the real `arxiv` package against the loopback fake API."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from newsletter.fetch import (
    EmptyResultError,
    FetchError,
    HTTPStatusError,
    RetryPolicy,
    parse_feed,
)
from tests.fakes.arxiv_server import FakeArxiv, Reply
from tests.fakes.atom import api_error_feed, day_feed, load_day

DATA = Path(__file__).parents[1] / "data" / "arxiv"
CATS = ("cs.CV", "cs.AI")


def feed_ids(day: dt.date, categories: tuple[str, ...] = CATS) -> set[str]:
    """The ids the announcement feed of `day` listed (what a backfill must reproduce)."""
    page = parse_feed(day_feed(sorted(categories), day, load_day(day)), "reference")
    return {p.arxiv_id for p in page.papers}


@pytest.mark.parametrize(
    ("day", "categories"),
    [
        (dt.date(2025, 8, 28), CATS),
        (dt.date(2025, 6, 19), CATS),
        (dt.date(2025, 8, 28), ("cs.CV",)),
        (dt.date(2025, 6, 19), ("cs.CL", "cs.GR")),
    ],
)
def test_a_past_day_the_feed_no_longer_serves_is_rebuilt_from_the_api(
    fake_arxiv: FakeArxiv, day: dt.date, categories: tuple[str, ...]
) -> None:
    fake_arxiv.serve_feed(dt.date(2025, 9, 3))  # the feed has moved on; it showed `day` before
    now = dt.datetime(2025, 9, 3, 15, 0, tzinfo=dt.UTC)
    rebuilt = fake_arxiv.source().fetch_day(categories, want=day, now=now, shown={day})
    assert rebuilt.date == day
    assert {p.arxiv_id for p in rebuilt.papers} == feed_ids(day, categories)
    assert len(rebuilt.papers) == len({p.arxiv_id for p in rebuilt.papers})
    assert not any(".9999" in p.arxiv_id for p in rebuilt.papers)  # the decoys were trimmed
    [api_call] = fake_arxiv.seen("api")
    assert "submittedDate:[" in api_call.query["search_query"]


def test_backfilled_papers_carry_the_api_fields(fake_arxiv: FakeArxiv) -> None:
    day = fake_arxiv.source().backfill(CATS, dt.date(2025, 8, 28))
    by_id = {p.arxiv_id: p for p in day.papers}
    paper = by_id["2508.19316"]
    assert paper.comment == "8 pages, 4 figures"
    assert paper.version == 1
    ref = next(p for p in load_day(dt.date(2025, 8, 28)) if p.arxiv_id == "2508.19316")
    assert paper.categories == ref.categories
    assert paper.authors == ref.authors
    assert paper.abstract == " ".join(ref.abstract.split())
    assert paper.announce_type == ("new" if ref.categories[0] in CATS else "cross")
    assert {p.announce_type for p in day.papers} == {"new", "cross"}


def test_a_late_cross_list_is_beyond_the_reach_of_a_backfill(fake_arxiv: FakeArxiv) -> None:
    """2412.11407 was listed on 2025-07-15 but submitted in 2024: no submission window finds it."""
    day = fake_arxiv.source().backfill(CATS, dt.date(2025, 7, 15))
    assert feed_ids(dt.date(2025, 7, 15)) - {p.arxiv_id for p in day.papers} == {"2412.11407"}
    assert {p.arxiv_id for p in day.papers} <= feed_ids(dt.date(2025, 7, 15))


def test_api_calls_are_paced_and_paged(fake_arxiv: FakeArxiv) -> None:
    source = fake_arxiv.source(page_size=40)  # the default api_delay: arXiv's 3 s
    day = source.backfill(CATS, dt.date(2025, 8, 28))
    assert len(day.papers) == 135
    starts = [call.query["start"] for call in fake_arxiv.seen("api")]
    assert starts == ["0", "40", "80", "120"]
    assert fake_arxiv.clock.sleeps == [3.0, 3.0, 3.0]


def test_the_api_delay_also_separates_lookups_from_backfills(fake_arxiv: FakeArxiv) -> None:
    source = fake_arxiv.source(api_delay=5.0)
    source.backfill(CATS, dt.date(2025, 8, 28))
    source.lookup(["2508.19316"])
    assert fake_arxiv.clock.sleeps == [5.0]


def test_api_429_retry_after_then_success(fake_arxiv: FakeArxiv) -> None:
    fake_arxiv.script("api", Reply.error(429, retry_after=11), Reply.error(503))
    day = fake_arxiv.source(retry=RetryPolicy(backoff=1.0)).backfill(CATS, dt.date(2025, 8, 28))
    assert len(day.papers) == 135
    assert len(fake_arxiv.seen("api")) == 3
    # 11 s as asked, then 2 s of backoff topped up to the 3 s pacing interval
    assert fake_arxiv.clock.sleeps == [11.0, 2.0, 1.0]


def test_api_keeps_failing_is_an_error_naming_url_and_status(fake_arxiv: FakeArxiv) -> None:
    fake_arxiv.script("api", *[Reply.error(503)] * 3)
    with pytest.raises(HTTPStatusError, match="HTTP 503 Service Unavailable on all 3 attempts") as caught:
        fake_arxiv.source(retry=RetryPolicy(attempts=3, backoff=0)).backfill(
            CATS, dt.date(2025, 8, 28)
        )
    assert caught.value.status == 503
    assert caught.value.url is not None
    assert caught.value.url.startswith(fake_arxiv.api_url + "?search_query=")


@pytest.mark.parametrize(
    "reply",
    [
        Reply.xml(api_error_feed("malformed query")),
        Reply.html(),
        Reply.malformed(),
        Reply(body=b""),
    ],
    ids=["error-feed", "html", "malformed", "empty"],
)
def test_zero_results_where_papers_are_expected_is_a_failure(
    fake_arxiv: FakeArxiv, reply: Reply
) -> None:
    fake_arxiv.script("api", reply)
    with pytest.raises(EmptyResultError, match="answered no papers") as caught:
        fake_arxiv.source().backfill(CATS, dt.date(2025, 8, 28))
    assert caught.value.url is not None
    assert caught.value.url.startswith(fake_arxiv.api_url)


def test_an_error_entry_that_survives_parsing_is_an_error(fake_arxiv: FakeArxiv) -> None:
    fake_arxiv.script("api", Reply.xml(api_error_feed("incorrect id format", dated=True)))
    with pytest.raises(FetchError, match="the API answered an error: incorrect id format"):
        fake_arxiv.source().backfill(CATS, dt.date(2025, 8, 28))


def test_a_window_with_nothing_in_it_is_a_failure(fake_arxiv: FakeArxiv) -> None:
    with pytest.raises(EmptyResultError):
        fake_arxiv.source().backfill(["math.AG"], dt.date(2025, 8, 28))


def test_garbage_on_a_later_page_is_an_error(fake_arxiv: FakeArxiv) -> None:
    fake_arxiv.script("api", Reply(), Reply.html())
    with pytest.raises(FetchError, match="empty page mid-way"):
        fake_arxiv.source(page_size=50).backfill(CATS, dt.date(2025, 8, 28))


def test_a_slow_api_times_out(fake_arxiv: FakeArxiv) -> None:
    fake_arxiv.script("api", Reply.slow(30), Reply.slow(30))
    with pytest.raises(HTTPStatusError, match=r"no answer within 0\.2 s"):
        fake_arxiv.source(timeout=0.2, retry=RetryPolicy(attempts=2, backoff=0)).backfill(
            CATS, dt.date(2025, 8, 28)
        )


def test_lookup_by_id_fills_what_the_feed_lacks(fake_arxiv: FakeArxiv) -> None:
    found = fake_arxiv.source().lookup(["2508.19316v1", "2508.19254", "2508.19316"], CATS)
    assert set(found) == {"2508.19316", "2508.19254"}
    assert found["2508.19254"].comment == "6 pages, 4 figures, NeurIPS Creative AI Track 2025"
    [call] = fake_arxiv.seen("api")
    assert call.query["id_list"] == "2508.19316,2508.19254"


def test_lookup_parses_a_recorded_arxiv_answer(fake_arxiv: FakeArxiv) -> None:
    recorded = json.loads((DATA / "api-id-list-1605.08386.json").read_text())
    fake_arxiv.script("api", Reply.xml(recorded["body"].encode()))
    paper = fake_arxiv.source().lookup(["1605.08386"])["1605.08386"]
    assert paper.title == "Heat-bath random walks with Markov bases"
    assert paper.authors == ("Caprice Stanley", "Tobias Windisch")
    assert paper.categories == ("math.CO", "math.ST")
    assert paper.comment == "20 pages, 3 figures"
    assert paper.announce_type == "cross"  # math.CO is not among the (no) requested categories


def test_lookup_of_unknown_ids_is_a_failure(fake_arxiv: FakeArxiv) -> None:
    with pytest.raises(EmptyResultError, match="found none of 1 ids"):
        fake_arxiv.source().lookup(["2508.00000"])
