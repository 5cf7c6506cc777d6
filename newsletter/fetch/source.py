"""ArxivSource: what arXiv announced on one date, from the feed or, for past days, from the API."""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit

from newsletter.fetch import api
from newsletter.fetch.calendar import (
    is_announcement_date,
    latest_possible_date,
    submission_window,
)
from newsletter.fetch.errors import (
    EmptyFeedError,
    EmptyResultError,
    FetchError,
    InvalidCategoryError,
    NoAnnouncementError,
    NotYetAnnouncedError,
    StaleFeedError,
    UnshownDayError,
)
from newsletter.fetch.feed import ANNOUNCE_TYPES, DEFAULT_TYPES, FeedPage, parse_feed
from newsletter.fetch.http import PoliteSession, RetryPolicy
from newsletter.models import AnnouncementDay, Paper
from newsletter.taxonomy import category_problem

log = logging.getLogger(__name__)

ARXIV_API_DELAY = 3.0  # seconds between API calls, as arXiv's terms of use ask


def normalise_categories(categories: Iterable[str]) -> tuple[str, ...]:
    """Sorted, deduplicated, validated: the feed URL and the stored day do not depend on order."""
    cleaned = sorted({c.strip() for c in categories if c.strip()})
    if not cleaned:
        raise InvalidCategoryError("no arXiv category given")
    for category in cleaned:
        if problem := category_problem(category):
            raise InvalidCategoryError(problem)
    return tuple(cleaned)


def local_folder(feed_url: str) -> Path | None:
    """The folder NEWSLETTER_ARXIV_FEED_URL names (a path or `file://` URL), else None."""
    split = urlsplit(feed_url)
    if split.scheme.lower() not in ("", "file"):
        return None
    path = Path(unquote(split.path)) if split.scheme else Path(feed_url)
    return path if path.is_dir() else None


def folder_feeds(folder: Path) -> list[tuple[str, ...]]:
    """The category sets of a feed folder's files (`cs.AI+cs.CV`); other names are left out."""
    feeds = []
    for path in sorted(folder.iterdir()):
        try:
            cats = normalise_categories(path.name.split("+"))
        except InvalidCategoryError:
            continue
        if path.is_file() and "+".join(cats) == path.name:
            feeds.append(cats)
    return feeds


def folder_categories(feed_url: str) -> frozenset[str] | None:
    """Every category a folder feed holds a file for; None when the feed is not a folder (arXiv's
    own feed serves every category)."""
    folder = local_folder(feed_url)
    if folder is None:
        return None
    return frozenset(c for cats in folder_feeds(folder) for c in cats)


class ArxivSource:
    """Fetches announcement days. One instance holds one polite HTTP session; close() it."""

    def __init__(
        self,
        feed_url: str,
        api_url: str,
        timeout: float = 30.0,
        include_replacements: bool = False,
        *,
        api_delay: float = ARXIV_API_DELAY,
        retry: RetryPolicy | None = None,
        overlap: dt.timedelta = dt.timedelta(hours=1),
        page_size: int = 500,
        extra_holidays: Iterable[dt.date] = (),
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.feed_url = feed_url.rstrip("/")
        self.api_url = api_url
        self.include_replacements = include_replacements
        self.overlap = overlap
        self.extra_holidays = frozenset(extra_holidays)
        self.keep = ANNOUNCE_TYPES if include_replacements else DEFAULT_TYPES
        policy = retry or RetryPolicy()
        self._feed_session = PoliteSession(
            timeout=timeout, policy=policy, sleep=sleep, monotonic=monotonic, jitter=jitter
        )
        self._api_session = PoliteSession(
            timeout=timeout,
            min_interval=api_delay,
            policy=policy,
            sleep=sleep,
            monotonic=monotonic,
            jitter=jitter,
        )
        self._client = api.make_client(self._api_session, api_url, page_size)

    def close(self) -> None:
        self._feed_session.close()
        self._api_session.close()

    def __enter__(self) -> ArxivSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the feed -------------------------------------------------------------------------------

    def feed_location(self, categories: Sequence[str]) -> str:
        return f"{self.feed_url}/{'+'.join(normalise_categories(categories))}"

    def readable_categories(self, categories: Sequence[str]) -> tuple[str, ...]:
        """The categories whose feed is read for `categories`: they themselves, except from a
        folder feed that has no file for them. Then its file holding most of them (then the fewest
        others) stands in, so one reader's category the folder lacks does not stop the readers it
        covers; the day's `categories` say what it holds, and the caller names who is missing."""
        cats = normalise_categories(categories)
        folder = local_folder(self.feed_url)
        if folder is None or (folder / "+".join(cats)).exists():
            return cats
        wanted = set(cats)
        best = max(folder_feeds(folder), key=lambda held: (len(wanted & set(held)), -len(held)), default=())
        if not wanted & set(best):  # nothing of theirs: the read fails and names the folder
            return cats
        log.warning("the feed folder %s has no file %s: reading %s, which lacks %s", folder,
                    "+".join(cats), "+".join(best), ", ".join(sorted(wanted - set(best))))
        return best

    def _read_feed(self, location: str) -> bytes:
        scheme = urlsplit(location).scheme.lower()
        if scheme in ("http", "https"):
            return self._feed_session.get(location).content
        path = Path(unquote(urlsplit(location).path)) if scheme == "file" else Path(location)
        if scheme not in ("", "file"):
            raise FetchError(f"{location}: unsupported feed URL scheme {scheme!r}", url=location)
        try:
            return path.read_bytes()
        except OSError as exc:
            where = ""
            if path.parent.is_dir():  # a folder feed: say which category files it does hold
                held = ", ".join(sorted(p.name for p in path.parent.iterdir())[:10]) or "nothing"
                where = f" (NEWSLETTER_ARXIV_FEED_URL is a folder holding {held})"
            raise FetchError(
                f"{path}: cannot read the feed file: {exc.strerror}{where}", url=location
            ) from exc

    def fetch_feed(self, categories: Sequence[str]) -> FeedPage:
        """The feed as it is now, whatever its date."""
        location = self.feed_location(categories)
        page = parse_feed(self._read_feed(location), location, keep=self.keep)
        log.info("feed %s: dated %s, %d papers kept, %d entries left out",
                 location, page.date, len(page.papers), page.skipped)
        return page

    # --- one announcement day -------------------------------------------------------------------

    def fetch_latest(self, categories: Sequence[str]) -> AnnouncementDay:
        """The day the feed shows now, dated by the feed itself (whatever the holiday table says).

        EmptyFeedError when it lists no new paper; other FetchErrors as for `fetch_day`.
        """
        cats = self.readable_categories(categories)
        return self._as_day(self.fetch_feed(cats), cats)

    def _as_day(self, page: FeedPage, cats: tuple[str, ...]) -> AnnouncementDay:
        if not page.papers:
            raise EmptyFeedError(
                f"{page.url}: the feed dated {page.date} lists no new papers or cross-lists"
                f" ({page.skipped} other entries); arXiv never announces nothing, so this"
                " is treated as a failure",
                url=page.url,
            )
        return AnnouncementDay(date=page.date, categories=cats, papers=page.papers)

    def fetch_day(
        self,
        categories: Sequence[str],
        want: dt.date,
        now: dt.datetime,
        *,
        shown: Collection[dt.date] = (),
    ) -> AnnouncementDay:
        """What arXiv announced on `want` in `categories` (new and cross-lists, one per paper).

        The feed is asked even for a date the holiday table calls closed: the table can be wrong,
        and the feed's own date decides. A past date the feed has moved beyond is rebuilt from the
        API only if it is in `shown` (dates a feed showed before, e.g. the stored ones).
        NoAnnouncementError when `want` has no announcement (a weekend; a table holiday the feed
        does not contradict; `UnshownDayError`); FetchError (a subclass) when the announcement
        cannot be obtained: stale or empty feed, HTTP failures, bad XML, zero results.
        """
        cats = normalise_categories(categories)
        if want.weekday() >= 5:
            raise NoAnnouncementError(want)
        latest = latest_possible_date(now)
        if want > latest:
            raise NotYetAnnouncedError(
                f"the announcement dated {want} does not exist yet at {now.isoformat()}"
                f" (the newest is dated {latest})"
            )
        table_says = is_announcement_date(want, self.extra_holidays)
        readable = self.readable_categories(cats)
        page = self.fetch_feed(readable)
        if page.date == want:
            if not table_says:
                log.warning("the feed shows an announcement dated %s, a day the holiday table calls"
                            " closed: the feed is trusted", want)
            return self._as_day(page, readable)
        if page.date < want:
            if not table_says:
                raise NoAnnouncementError(want)
            raise self._stale(page, want, now)
        if want not in shown:
            raise UnshownDayError(want, page.date)
        log.info("feed %s is dated %s, after %s: rebuilding %s from the API",
                 page.url, page.date, want, want)
        return self.backfill(cats, want, shown=shown)

    @staticmethod
    def _stale(page: FeedPage, want: dt.date, now: dt.datetime) -> StaleFeedError:
        live = urlsplit(page.url).scheme.lower() in ("http", "https")
        advice = (
            "arXiv refreshes the feed around 00:00 US Eastern, retry later"
            if live
            else "a feed file holds the one day it was saved on (NEWSLETTER_ARXIV_FEED_URL):"
            f" ask for that day with --date {page.date}"
        )
        return StaleFeedError(
            f"{page.url}: the feed is still dated {page.date}, but by"
            f" {now.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC the announcement dated {want} should"
            f" be out; {advice}",
            url=page.url,
            feed_date=page.date,
            want=want,
        )

    def backfill(
        self, categories: Sequence[str], day: dt.date, *, shown: Collection[dt.date] = ()
    ) -> AnnouncementDay:
        """Rebuild the announcement dated `day` from the API: its submission window's new papers.

        The window comes from the holiday table, corrected by `shown` (dates a feed showed: a
        shown date the table calls closed had its freeze after all).
        Cross-lists added after submission and replacements cannot be found by submission date,
        so a backfilled day can hold fewer cross-lists than the feed did.
        """
        cats = normalise_categories(categories)
        try:
            start, end = submission_window(day, self.extra_holidays, shown=shown)
        except ValueError:
            raise NoAnnouncementError(day) from None
        papers = api.fetch_window(self._client, cats, start, end, overlap=self.overlap)
        if not papers:
            raise EmptyResultError(
                f"{self.api_url}: no paper in {', '.join(cats)} was submitted between {start}"
                f" and {end} (the window announced on {day}); expected some",
                url=self.api_url,
            )
        return AnnouncementDay(date=day, categories=cats, papers=papers)

    def lookup(self, ids: Sequence[str], categories: Sequence[str] = ()) -> dict[str, Paper]:
        """Full API metadata (e.g. the authors' comment, which the feed lacks) by arXiv id."""
        return api.lookup_ids(self._client, ids, categories)
