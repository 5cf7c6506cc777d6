"""ArxivSource.fetch_day end to end: real requests + lxml against the loopback fake of arXiv."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from newsletter.fetch import (
    EmptyFeedError,
    FeedFormatError,
    FetchError,
    HTTPStatusError,
    InvalidCategoryError,
    NoAnnouncementError,
    NotYetAnnouncedError,
    RetryPolicy,
    StaleFeedError,
    UnshownDayError,
)
from newsletter.fetch.source import folder_categories
from tests.fakes.arxiv_server import FakeArxiv, Reply
from tests.fakes.atom import announcement_feed, day_feed, load_day

DAY = dt.date(2025, 8, 28)
NOW = dt.datetime(2025, 8, 28, 11, 0, tzinfo=dt.UTC)  # 07:00 US Eastern that morning
CATS = ("cs.CV", "cs.AI")


def test_fetches_the_days_new_papers_and_cross_lists(fake_arxiv: FakeArxiv) -> None:
    day = fake_arxiv.source().fetch_day(CATS, want=DAY, now=NOW)
    reference = load_day(DAY)
    listed = {p.arxiv_id for p in reference if set(p.categories) & set(CATS)}
    assert day.date == DAY
    assert day.categories == ("cs.AI", "cs.CV")
    assert {p.arxiv_id for p in day.papers} == listed
    assert len(day.papers) == len(listed) == 135
    by_id = {p.arxiv_id: p for p in day.papers}
    for ref in reference:
        if ref.arxiv_id not in listed:
            continue
        got = by_id[ref.arxiv_id]
        assert got.title == " ".join(ref.title.split())
        assert got.abstract == " ".join(ref.abstract.split())
        assert got.authors == ref.authors
        assert got.categories == ref.categories
        assert got.version == 1
        assert got.announce_type == ("new" if ref.categories[0] in CATS else "cross")
    assert [r.path for r in fake_arxiv.requests] == ["/atom/cs.AI+cs.CV"]


def test_the_same_categories_in_any_order_fetch_the_same_url(fake_arxiv: FakeArxiv) -> None:
    source = fake_arxiv.source()
    source.fetch_day(["cs.AI", " cs.CV", "cs.AI"], want=DAY, now=NOW)
    source.fetch_day(("cs.CV", "cs.AI"), want=DAY, now=NOW)
    assert {r.path for r in fake_arxiv.requests} == {"/atom/cs.AI+cs.CV"}


@pytest.mark.parametrize(("want", "reason"), [(dt.date(2025, 8, 30), "Saturday"),
                                               (dt.date(2025, 8, 31), "Sunday")])
def test_a_weekend_is_no_announcement_and_asks_nothing(
    fake_arxiv: FakeArxiv, want: dt.date, reason: str
) -> None:
    now = dt.datetime.combine(want, dt.time(15, 0), tzinfo=dt.UTC)
    with pytest.raises(NoAnnouncementError, match=reason) as caught:
        fake_arxiv.source().fetch_day(CATS, want=want, now=now)
    assert not isinstance(caught.value, FetchError)
    assert fake_arxiv.requests == []


@pytest.mark.parametrize(
    ("want", "feed", "reason"),
    [
        (dt.date(2025, 9, 2), dt.date(2025, 8, 29), "no submission deadline on Monday 2025-09-01"),
        (dt.date(2025, 6, 20), dt.date(2025, 6, 19), "no submission deadline on Thursday 2025-06-19"),
    ],
)
def test_a_table_holiday_asks_the_feed_and_is_no_announcement_while_it_agrees(
    fake_arxiv: FakeArxiv, want: dt.date, feed: dt.date, reason: str
) -> None:
    fake_arxiv.serve_feed(feed)  # still the announcement before the closure
    now = dt.datetime.combine(want, dt.time(15, 0), tzinfo=dt.UTC)
    with pytest.raises(NoAnnouncementError, match=reason) as caught:
        fake_arxiv.source().fetch_day(CATS, want=want, now=now)
    assert not isinstance(caught.value, FetchError)
    assert [r.target for r in fake_arxiv.requests] == ["feed"]


def test_a_day_the_table_calls_closed_is_served_when_the_feed_shows_it(
    fake_arxiv: FakeArxiv, caplog: pytest.LogCaptureFixture
) -> None:
    # The table says arXiv closed on Thursday 2025-06-19 (no Friday announcement); the feed shows
    # one dated Friday: the feed is trusted.
    friday = dt.date(2025, 6, 20)
    fake_arxiv.serve_feed(friday, papers_of=dt.date(2025, 6, 19))
    now = dt.datetime(2025, 6, 20, 11, 0, tzinfo=dt.UTC)
    source = fake_arxiv.source()
    day = source.fetch_day(CATS, want=friday, now=now)
    assert day.date == friday and len(day.papers) > 50
    assert "a day the holiday table calls closed" in caplog.text
    assert source.fetch_latest(CATS).date == friday


def test_a_date_the_feed_never_showed_is_not_rebuilt_from_the_api(fake_arxiv: FakeArxiv) -> None:
    # The table expects 2025-08-28, but the feed has moved on and nothing says it ever showed it
    # (arXiv may have closed): a backfill would list the next day's papers as a day of their own.
    fake_arxiv.serve_feed(dt.date(2025, 9, 3))
    now = dt.datetime(2025, 9, 3, 15, 0, tzinfo=dt.UTC)
    with pytest.raises(UnshownDayError, match="feed already shows Wednesday 2025-09-03") as caught:
        fake_arxiv.source().fetch_day(CATS, want=DAY, now=now)
    assert isinstance(caught.value, NoAnnouncementError) and caught.value.feed_date == dt.date(2025, 9, 3)
    assert fake_arxiv.seen("api") == []


def test_a_stale_feed_is_a_failure(fake_arxiv: FakeArxiv) -> None:
    fake_arxiv.serve_feed(dt.date(2025, 7, 15))
    with pytest.raises(StaleFeedError, match="still dated 2025-07-15") as caught:
        fake_arxiv.source().fetch_day(CATS, want=DAY, now=NOW)
    assert isinstance(caught.value, FetchError)
    assert caught.value.feed_date == dt.date(2025, 7, 15)
    assert caught.value.want == DAY
    assert str(caught.value) == (
        f"{fake_arxiv.feed_url}/cs.AI+cs.CV: the feed is still dated 2025-07-15, but by"
        f" {NOW.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC the announcement dated {DAY} should be out;"
        " arXiv refreshes the feed around 00:00 US Eastern, retry later"
    )
    assert fake_arxiv.seen("api") == []  # never papered over with the API


def test_an_empty_feed_on_an_announcement_day_is_a_failure(fake_arxiv: FakeArxiv) -> None:
    fake_arxiv.script("feed", Reply.empty_feed(DAY))
    with pytest.raises(EmptyFeedError, match="lists no new papers"):
        fake_arxiv.source().fetch_day(CATS, want=DAY, now=NOW)


def test_a_feed_of_replacements_only_is_empty_unless_replacements_are_wanted(
    fake_arxiv: FakeArxiv,
) -> None:
    ref = load_day(DAY)[0]
    body = announcement_feed(["cs.CV"], DAY, [(ref, "replace")])
    fake_arxiv.script("feed", Reply.xml(body), Reply.xml(body))
    with pytest.raises(EmptyFeedError):
        fake_arxiv.source().fetch_day(["cs.CV"], want=DAY, now=NOW)
    day = fake_arxiv.source(include_replacements=True).fetch_day(["cs.CV"], want=DAY, now=NOW)
    assert [(p.arxiv_id, p.announce_type) for p in day.papers] == [(ref.arxiv_id, "replace")]


def test_503_503_200_succeeds_after_backing_off(fake_arxiv: FakeArxiv) -> None:
    fake_arxiv.script("feed", Reply.error(503), Reply.error(503))
    source = fake_arxiv.source(retry=RetryPolicy(attempts=3, backoff=2.0))
    day = source.fetch_day(CATS, want=DAY, now=NOW)
    assert len(day.papers) == 135
    assert len(fake_arxiv.seen("feed")) == 3
    assert fake_arxiv.clock.sleeps == [2.0, 4.0]  # exponential (jitter pinned to its maximum)


def test_jitter_spreads_the_backoff(fake_arxiv: FakeArxiv) -> None:
    fake_arxiv.script("feed", Reply.error(502), Reply.error(500))
    source = fake_arxiv.source(retry=RetryPolicy(backoff=2.0), jitter=lambda: 0.0)
    source.fetch_day(CATS, want=DAY, now=NOW)
    assert fake_arxiv.clock.sleeps == [1.0, 2.0]  # half the backoff at the low end of the jitter


def test_bounded_attempts_then_an_error_naming_url_and_status(fake_arxiv: FakeArxiv) -> None:
    fake_arxiv.script("feed", *[Reply.error(503)] * 5)
    with pytest.raises(HTTPStatusError) as caught:
        fake_arxiv.source(retry=RetryPolicy(attempts=4, backoff=1.0)).fetch_day(
            CATS, want=DAY, now=NOW
        )
    assert caught.value.status == 503
    assert caught.value.url == f"{fake_arxiv.feed_url}/cs.AI+cs.CV"
    assert "HTTP 503" in str(caught.value)
    assert f"{fake_arxiv.feed_url}/cs.AI+cs.CV" in str(caught.value)
    assert len(fake_arxiv.seen("feed")) == 4


def test_429_retry_after_is_honoured(fake_arxiv: FakeArxiv) -> None:
    fake_arxiv.script("feed", Reply.error(429, retry_after=17))
    fake_arxiv.source(retry=RetryPolicy(backoff=1.0)).fetch_day(CATS, want=DAY, now=NOW)
    assert fake_arxiv.clock.sleeps == [17.0]
    assert len(fake_arxiv.seen("feed")) == 2


def test_503_retry_after_as_an_http_date_is_honoured(fake_arxiv: FakeArxiv) -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=120)
    fake_arxiv.script("feed", Reply.error(503, retry_after=later.strftime("%a, %d %b %Y %H:%M:%S GMT")))
    fake_arxiv.source(retry=RetryPolicy(backoff=1.0)).fetch_day(CATS, want=DAY, now=NOW)
    [waited] = fake_arxiv.clock.sleeps
    assert 60 < waited <= 121  # about 120 s, whatever the backoff (1 s) says


def test_a_retry_after_beyond_reason_fails_at_once(fake_arxiv: FakeArxiv) -> None:
    fake_arxiv.script("feed", Reply.error(429, retry_after=86_400))
    with pytest.raises(HTTPStatusError, match="asks to retry after 86400 s") as caught:
        fake_arxiv.source().fetch_day(CATS, want=DAY, now=NOW)
    assert caught.value.status == 429
    assert fake_arxiv.clock.sleeps == []


def test_a_client_error_is_not_retried(fake_arxiv: FakeArxiv) -> None:
    fake_arxiv.script("feed", Reply.error(404))
    with pytest.raises(HTTPStatusError, match="HTTP 404") as caught:
        fake_arxiv.source().fetch_day(CATS, want=DAY, now=NOW)
    assert caught.value.status == 404
    assert len(fake_arxiv.seen("feed")) == 1


def test_a_slow_server_times_out_and_the_retry_succeeds(fake_arxiv: FakeArxiv) -> None:
    fake_arxiv.script("feed", Reply.slow(30))
    day = fake_arxiv.source(timeout=0.3, retry=RetryPolicy(backoff=0)).fetch_day(
        CATS, want=DAY, now=NOW
    )
    assert len(day.papers) == 135
    assert len(fake_arxiv.seen("feed")) == 2


def test_a_server_that_stays_slow_is_an_error(fake_arxiv: FakeArxiv) -> None:
    fake_arxiv.script("feed", Reply.slow(30), Reply.slow(30))
    with pytest.raises(HTTPStatusError, match=r"no answer within 0\.3 s"):
        fake_arxiv.source(timeout=0.3, retry=RetryPolicy(attempts=2, backoff=0)).fetch_day(
            CATS, want=DAY, now=NOW
        )


def test_a_refused_connection_is_an_error_naming_the_url() -> None:
    with FakeArxiv.running() as fake:
        source = fake.source(retry=RetryPolicy(attempts=2, backoff=0))
    # the server is gone now: nothing listens on its port
    with pytest.raises(HTTPStatusError, match="connection failed") as caught:
        source.fetch_day(CATS, want=DAY, now=NOW)
    assert caught.value.url == f"{fake.feed_url}/cs.AI+cs.CV"


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Reply.malformed(), "answered malformed XML"),
        (Reply.html(), "not an Atom feed"),
        (Reply(body=b""), "empty body"),
    ],
)
def test_garbage_is_a_feed_format_error_naming_the_url(
    fake_arxiv: FakeArxiv, reply: Reply, message: str
) -> None:
    fake_arxiv.script("feed", reply)
    with pytest.raises(FeedFormatError, match=message) as caught:
        fake_arxiv.source().fetch_day(CATS, want=DAY, now=NOW)
    assert f"{fake_arxiv.feed_url}/cs.AI+cs.CV" in str(caught.value)


def test_a_date_not_yet_announced_is_an_error(fake_arxiv: FakeArxiv) -> None:
    with pytest.raises(NotYetAnnouncedError, match="newest is dated 2025-08-28"):
        fake_arxiv.source().fetch_day(CATS, want=dt.date(2025, 8, 29), now=NOW)
    assert fake_arxiv.requests == []


@pytest.mark.parametrize("bad", [[], ["cs CV"], ["cs.CV+cs.AI"], ["../etc"], ["CS.cv"]])
def test_bad_categories_are_refused(fake_arxiv: FakeArxiv, bad: list[str]) -> None:
    with pytest.raises(InvalidCategoryError):
        fake_arxiv.source().fetch_day(bad, want=DAY, now=NOW)
    assert fake_arxiv.requests == []


def test_a_folder_without_the_exact_file_reads_the_one_holding_most_of_the_categories(
    fake_arxiv: FakeArxiv, tmp_path: Path
) -> None:
    """A folder feed has one file per saved category set. For a set without its file, the file
    holding most of it (then the fewest others) is read, and the day says what it holds: one
    reader's category the folder lacks must not stop the readers it covers."""
    folder = tmp_path / "feeds"
    folder.mkdir()
    (folder / "cs.AI+cs.CV").write_bytes(day_feed(["cs.AI", "cs.CV"], DAY, load_day(DAY)))
    (folder / "cs.CV").write_bytes(day_feed(["cs.CV"], DAY, load_day(DAY)))
    (folder / "README.md").write_text("not a feed")
    source = fake_arxiv.source()
    source.feed_url = str(folder)
    assert source.readable_categories(["cs.CV"]) == ("cs.CV",)
    assert source.readable_categories(["cs.AI"]) == ("cs.AI", "cs.CV")  # a superset serves whole
    assert source.readable_categories(["cs.AI", "cs.CV", "cs.LG"]) == ("cs.AI", "cs.CV")
    assert source.readable_categories(["cs.CV", "cs.LG"]) == ("cs.CV",)  # fewest others
    assert source.readable_categories(["cs.LG"]) == ("cs.LG",)  # nothing of it: the read fails
    day = source.fetch_day(["cs.AI", "cs.CV", "cs.LG"], want=DAY, now=NOW)
    assert day.categories == ("cs.AI", "cs.CV") and len(day.papers) == 135
    assert source.fetch_latest(["cs.AI", "cs.LG"]).categories == ("cs.AI", "cs.CV")
    assert folder_categories(str(folder)) == folder_categories(folder.as_uri()) == {"cs.AI", "cs.CV"}
    assert folder_categories("https://rss.arxiv.org/atom") is None
    assert fake_arxiv.requests == []


def test_a_folder_serves_as_the_feed(fake_arxiv: FakeArxiv, tmp_path: Path) -> None:
    folder = tmp_path / "feeds"
    folder.mkdir()
    (folder / "cs.AI+cs.CV").write_bytes(day_feed(["cs.AI", "cs.CV"], DAY, load_day(DAY)))
    for base in (str(folder), folder.as_uri()):
        source = fake_arxiv.source()
        source.feed_url = base
        day = source.fetch_day(CATS, want=DAY, now=NOW)
        assert len(day.papers) == 135
    source.feed_url = str(folder)
    with pytest.raises(FetchError) as caught:
        source.fetch_day(["cs.LG"], want=DAY, now=NOW)
    assert str(caught.value) == (
        f"{folder / 'cs.LG'}: cannot read the feed file: No such file or directory"
        " (NEWSLETTER_ARXIV_FEED_URL is a folder holding cs.AI+cs.CV)"
    )
    earlier = dt.date(2025, 7, 15)
    (folder / "cs.AI+cs.CV").write_bytes(day_feed(["cs.AI", "cs.CV"], earlier, load_day(earlier)))
    with pytest.raises(StaleFeedError, match=r"; a feed file holds the one day it was saved on") as stale:
        source.fetch_day(CATS, want=DAY, now=NOW)
    assert str(stale.value).endswith("ask for that day with --date 2025-07-15")
    assert fake_arxiv.requests == []
