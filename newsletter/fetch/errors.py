"""What can go wrong when asking arXiv what it announced. Every failure names the URL it concerns."""

from __future__ import annotations

import datetime as dt


class FetchError(Exception):
    """The announcement could not be obtained; the run must not deliver anything built from it."""

    def __init__(self, message: str, *, url: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status


class HTTPStatusError(FetchError):
    """A request kept failing (bad status, timeout, refused connection) after bounded attempts."""


class FeedFormatError(FetchError):
    """The answer is not a usable Atom document (malformed XML, an HTML page, a DTD, no date)."""


class EmptyFeedError(FetchError):
    """The feed has the expected date but no entries: arXiv never announces nothing."""


class StaleFeedError(FetchError):
    """The feed still shows an older announcement than the one that should exist by now."""

    def __init__(self, message: str, *, url: str, feed_date: dt.date, want: dt.date) -> None:
        super().__init__(message, url=url)
        self.feed_date = feed_date
        self.want = want


class EmptyResultError(FetchError):
    """The API answered zero papers where papers were expected (its error feeds look like this)."""


class NotYetAnnouncedError(FetchError):
    """The requested date lies after the newest announcement that exists now."""


class InvalidCategoryError(FetchError, ValueError):
    """A category name is not of arXiv's form (e.g. `cs.CV`, `hep-th`, `math.AG`)."""


class NoAnnouncementError(Exception):
    """arXiv makes no announcement on this date (weekend or holiday): no digest, not a failure."""

    def __init__(self, day: dt.date, reason: str | None = None) -> None:
        if reason is not None:
            pass
        elif day.weekday() >= 5:
            reason = "arXiv announces Monday to Friday mornings, US Eastern"
        else:
            # The announcement dated `day` would come from the previous evening's mailing, which
            # carries the freeze of that day (of Friday, for a Monday announcement).
            freeze = day - dt.timedelta(days=3 if day.weekday() == 0 else 1)
            reason = f"arXiv holiday: no submission deadline on {freeze:%A %Y-%m-%d}"
        super().__init__(f"no arXiv announcement is dated {day:%A %Y-%m-%d} ({reason})")
        self.day = day


class UnshownDayError(NoAnnouncementError):
    """The feed has moved past a date it was never seen to show. Only the feed (or a listing)
    proves that a day existed: the holiday table alone may be missing a closure, and a day
    rebuilt from the API for a closure would hold the next day's papers. So it is not rebuilt."""

    def __init__(self, day: dt.date, feed_date: dt.date) -> None:
        super().__init__(day, f"the feed already shows {feed_date:%A %Y-%m-%d} and was never seen"
                         " showing this date, so it is not rebuilt from the API: arXiv was probably"
                         " closed (a closure the built-in holiday table lacks)")
        self.feed_date = feed_date
