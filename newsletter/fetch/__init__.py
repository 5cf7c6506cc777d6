"""Fetching what arXiv announced: the announcement feed for today, the API for past days.

    from newsletter.fetch import ArxivSource, NoAnnouncementError, FetchError, StaleFeedError
    from newsletter.fetch.calendar import latest_announcement_date, is_announcement_date

    with ArxivSource(feed_url, api_url, timeout=30, include_replacements=False) as source:
        day = source.fetch_day(categories=("cs.AI", "cs.CV"), want=want, now=now)

NoAnnouncementError (weekend/holiday) is not a failure; every other exception is a FetchError.
The holiday table schedules the fetches and says when a feed is stale; the feed's own date says
which day exists (`fetch_latest`), and only days a feed showed are rebuilt from the API.
`AnnouncementSource` is what the daily cycle needs of a source (ArxivSource is the real one).
"""

import datetime as dt
from collections.abc import Collection, Sequence
from typing import Protocol

from newsletter.fetch.calendar import (
    FEED_LAG,
    KNOWN_HOLIDAYS,
    is_announcement_date,
    latest_announcement_date,
    latest_possible_date,
    next_mailing_time,
    submission_window,
)
from newsletter.fetch.errors import (
    EmptyFeedError,
    EmptyResultError,
    FeedFormatError,
    FetchError,
    HTTPStatusError,
    InvalidCategoryError,
    NoAnnouncementError,
    NotYetAnnouncedError,
    StaleFeedError,
    UnshownDayError,
)
from newsletter.fetch.feed import FeedPage, parse_feed
from newsletter.fetch.http import PoliteSession, RetryPolicy
from newsletter.fetch.source import ArxivSource, normalise_categories
from newsletter.models import AnnouncementDay


class AnnouncementSource(Protocol):
    """Where a day's papers come from; `close()` lets go of its connections."""

    def fetch_day(
        self, categories: Sequence[str], want: dt.date, now: dt.datetime, *, shown: Collection[dt.date] = ()
    ) -> AnnouncementDay: ...

    def fetch_latest(self, categories: Sequence[str]) -> AnnouncementDay: ...

    def close(self) -> None: ...


__all__ = [
    "FEED_LAG",
    "KNOWN_HOLIDAYS",
    "AnnouncementSource",
    "ArxivSource",
    "EmptyFeedError",
    "EmptyResultError",
    "FeedFormatError",
    "FeedPage",
    "FetchError",
    "HTTPStatusError",
    "InvalidCategoryError",
    "NoAnnouncementError",
    "NotYetAnnouncedError",
    "PoliteSession",
    "RetryPolicy",
    "StaleFeedError",
    "UnshownDayError",
    "is_announcement_date",
    "latest_announcement_date",
    "latest_possible_date",
    "next_mailing_time",
    "normalise_categories",
    "parse_feed",
    "submission_window",
]
