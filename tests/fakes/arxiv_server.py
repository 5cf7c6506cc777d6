"""Loopback fake of arXiv: the announcement feed (rss.arxiv.org/atom/<cats>) and the export API.

It replays the real reference days in tests/data/arxiv/ (2025-06-19, 2025-07-15, 2025-08-28) in
arXiv's own Atom formats (writers in tests/fakes/atom.py), over real HTTP on 127.0.0.1 (the
server and its lifecycle: tests/fakes/loopback.py).

Fixture `fake_arxiv` yields a running `FakeArxiv`:

    def test_x(fake_arxiv):
        source = ArxivSource(feed_url=fake_arxiv.feed_url, api_url=fake_arxiv.api_url,
                             timeout=5, api_delay=0, retry=RetryPolicy(backoff=0))
        fake_arxiv.serve_feed(dt.date(2025, 8, 28))      # the day the feed shows (this is the default)
        fake_arxiv.script("feed", Reply.error(503), Reply.error(503))   # then the normal answer
        day = source.fetch_day(("cs.CV",), want=dt.date(2025, 8, 28), now=...)
        assert [r.target for r in fake_arxiv.requests] == ["feed", "feed", "feed"]

- `feed_url` / `api_url`: pass them as NEWSLETTER_ARXIV_FEED_URL / NEWSLETTER_ARXIV_API_URL.
- `serve_feed(day, papers_of=None)`: the announcement the feed shows; a day without reference data
  gives an empty feed dated that day unless `papers_of` names a reference day whose papers it
  lists under `day`. Showing an older day than wanted = a stale feed.
- `script(target, *replies)`: target "feed" or "api"; queued replies are used one per request
  before the normal answer resumes. `Reply.error(503, retry_after=2)`, `Reply.slow(seconds)`,
  `Reply.malformed()`, `Reply.html()`, `Reply.xml(body)`, `Reply.empty_feed(day)`, or
  `Reply(status, body, headers, delay)`.
- `source(**overrides)`: an ArxivSource pointed at the fake, on a `FakeClock` (`fake.clock`):
  pacing, backoff and Retry-After run for real but sleep on the fake clock (`clock.sleeps`).
- `requests`: every request seen, in order (`Seen(target, path, query, at)`), `at` monotonic.
- `papers(day)`: the reference papers of a day; `window(day)`: the submission window the fake's
  API puts a day's papers in (14:00 US Eastern freezes, computed independently of the code).

Feed rules (the reference days are arXiv /new listings without announce type or primary category):
a paper is listed for categories C when its categories meet C; primary = its first category;
announce type "new" when the primary is in C, else "cross"; every paper is version 1.
API rules: a day's papers were first submitted inside its window (spread evenly); a paper whose id
is older than the month before (e.g. 2412.11407 on 2025-07-15, a late cross-list) carries its own
month instead. Two decoys per day sit just outside the window (10 minutes before the start,
exactly at the end) to catch a backfill that does not trim its overlap. Queries support
cat:, submittedDate:[YYYYMMDDHHMM TO YYYYMMDDHHMM], lastUpdatedDate:[…], ti:/abs:/au:/all:,
AND/OR/ANDNOT with parentheses, id_list, sortBy/sortOrder and paging; anything else is
answered 400 with arXiv's error feed.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from newsletter.fetch import ArxivSource
from tests.fakes.atom import (
    EASTERN,
    REFERENCE_DAYS,
    ApiEntry,
    RefPaper,
    announcement_feed,
    api_error_feed,
    api_feed,
    day_feed,
    load_day,
)
from tests.fakes.loopback import Exchange, LoopbackFake, Steps

Target = Literal["feed", "api"]
ATOM = "application/atom+xml; charset=UTF-8"


class FakeClock:
    """`sleep`/`monotonic` for ArxivSource: sleeping advances the clock instantly and is recorded."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)


FREEZE = dt.time(14, 0)


@dataclass(frozen=True, slots=True)
class Reply:
    """A scripted answer. body=None means: the normal answer, after `delay` seconds."""

    status: int = 200
    body: bytes | None = None
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0
    content_type: str = ATOM

    @classmethod
    def error(cls, status: int, retry_after: str | float | None = None) -> Reply:
        headers = (("Retry-After", str(retry_after)),) if retry_after is not None else ()
        return cls(status=status, body=f"error {status}\n".encode(), headers=headers,
                   content_type="text/plain")

    @classmethod
    def slow(cls, seconds: float) -> Reply:
        return cls(delay=seconds)

    @classmethod
    def malformed(cls) -> Reply:
        return cls(body=b"<?xml version='1.0'?><feed xmlns='http://www.w3.org/2005/Atom'><entry>"
                   b"<title>cut off")

    @classmethod
    def html(cls) -> Reply:
        return cls(body=b"<!DOCTYPE html><html><head><title>arXiv is down</title></head>"
                   b"<body><p>Service unavailable</p></body></html>", content_type="text/html")

    @classmethod
    def xml(cls, body: bytes, status: int = 200) -> Reply:
        return cls(status=status, body=body)

    @classmethod
    def empty_feed(cls, day: dt.date, categories: Sequence[str] = ("cs.CV",)) -> Reply:
        return cls(body=announcement_feed(categories, day, []))


@dataclass(frozen=True, slots=True)
class Seen:
    target: str
    path: str
    query: dict[str, str]
    at: float = field(compare=False)


def fake_window(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Submission window of the announcement dated `day` (no holidays: the fake's own rule)."""
    mailing = day - dt.timedelta(days=1)
    deadline = mailing - dt.timedelta(days=2) if mailing.weekday() == 6 else mailing
    previous = deadline - dt.timedelta(days=1)
    while previous.weekday() >= 5:
        previous -= dt.timedelta(days=1)
    return (dt.datetime.combine(previous, FREEZE, tzinfo=EASTERN).astimezone(dt.UTC),
            dt.datetime.combine(deadline, FREEZE, tzinfo=EASTERN).astimezone(dt.UTC))


def _id_month(arxiv_id: str) -> tuple[int, int] | None:
    match = re.match(r"^(\d\d)(\d\d)\.", arxiv_id)
    return (2000 + int(match.group(1)), int(match.group(2))) if match else None


@cache
def api_entries(days: tuple[dt.date, ...] = REFERENCE_DAYS) -> tuple[ApiEntry, ...]:
    """Every paper the fake API knows, with the submission times described in the docstring."""
    entries: list[ApiEntry] = []
    for day in days:
        start, end = fake_window(day)
        papers = load_day(day)
        prior = (day.year, day.month - 1) if day.month > 1 else (day.year - 1, 12)
        recent = [p for p in papers if (_id_month(p.arxiv_id) or prior) >= prior]
        step = (end - start) / (len(recent) + 1)
        for i, paper in enumerate(recent):
            when = start + step * (i + 1)
            entries.append(ApiEntry(paper, when, when))
        for paper in papers:
            month = _id_month(paper.arxiv_id)
            if paper not in recent and month is not None:
                when = dt.datetime(month[0], month[1], 15, 12, tzinfo=dt.UTC)
                entries.append(ApiEntry(paper, when, when))
        yymm = f"{day:%y%m}"
        for n, when in enumerate((start - dt.timedelta(minutes=10), end)):
            decoy = RefPaper(arxiv_id=f"{yymm}.9999{n}", title=f"Decoy {n} next to {day}",
                             authors=("A. Decoy",), abstract="Submitted outside the window.",
                             categories=("cs.CV", "cs.AI"))
            entries.append(ApiEntry(decoy, when, when))
    return tuple(entries)


# --- the API's query language ----------------------------------------------------------------

_TOKEN = re.compile(r'\(|\)|[A-Za-z_]+:\[[^\]]*\]|[A-Za-z_]+:"[^"]*"|[^\s()]+')
_RANGE = re.compile(r"^\[(\d{12}) TO (\d{12})\]$")
Matcher = Callable[[ApiEntry], bool]


class QueryError(ValueError):
    pass


def _stamp(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y%m%d%H%M").replace(tzinfo=dt.UTC)


def _term(token: str) -> Matcher:
    field_name, _, value = token.partition(":")
    value = value.strip('"')
    if not value:
        raise QueryError(f"malformed term {token!r}")
    if field_name == "cat":
        return lambda e: value in e.paper.categories
    if field_name in ("submittedDate", "lastUpdatedDate"):
        match = _RANGE.match(value)
        if match is None:
            raise QueryError(f"{field_name} needs [YYYYMMDDHHMM TO YYYYMMDDHHMM], got {value!r}")
        low, high = _stamp(match.group(1)), _stamp(match.group(2)) + dt.timedelta(seconds=59)
        if field_name == "submittedDate":
            return lambda e: low <= e.published <= high
        return lambda e: low <= e.updated <= high
    text_fields: dict[str, Callable[[ApiEntry], str]] = {
        "ti": lambda e: e.paper.title, "abs": lambda e: e.paper.abstract,
        "au": lambda e: " ".join(e.paper.authors),
        "all": lambda e: " ".join((e.paper.title, e.paper.abstract, *e.paper.authors)),
    }
    if field_name in text_fields:
        get = text_fields[field_name]
        return lambda e: value.lower() in get(e).lower()
    raise QueryError(f"unknown field {field_name!r}")


def parse_query(query: str) -> Matcher:
    tokens = deque(_TOKEN.findall(query))

    def operand() -> Matcher:
        if not tokens:
            raise QueryError("query ends early")
        token = tokens.popleft()
        if token == "(":
            inner = expression()
            if not tokens or tokens.popleft() != ")":
                raise QueryError("unbalanced parentheses")
            return inner
        return _term(token)

    def expression() -> Matcher:
        left = operand()
        while tokens and tokens[0] in ("AND", "OR", "ANDNOT"):
            op, right = tokens.popleft(), operand()
            if op == "AND":
                left = (lambda a, b: lambda e: a(e) and b(e))(left, right)
            elif op == "OR":
                left = (lambda a, b: lambda e: a(e) or b(e))(left, right)
            else:
                left = (lambda a, b: lambda e: a(e) and not b(e))(left, right)
        return left

    matcher = expression()
    if tokens:
        raise QueryError(f"unexpected {tokens[0]!r}")
    return matcher


# --- the server --------------------------------------------------------------------------------


class FakeArxiv(LoopbackFake):
    """The fake's state; see the module docstring. Start it with `FakeArxiv.running()`."""

    def __init__(self, feed_day: dt.date = dt.date(2025, 8, 28)) -> None:
        self.feed_day = feed_day
        self.papers_of: dt.date | None = None
        self.requests: list[Seen] = []
        self._scripts: dict[str, Steps[Reply]] = {"feed": Steps(), "api": Steps()}
        self._lock = threading.Lock()
        self.clock = FakeClock()
        self._listen(get=self._get, protocol="HTTP/1.1")

    @property
    def base_url(self) -> str:
        return self.url

    @property
    def feed_url(self) -> str:
        return f"{self.base_url}/atom"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/query"

    def source(self, **overrides: Any) -> ArxivSource:
        """An ArxivSource on this fake and its fake clock (jitter fixed at 1: full backoff)."""
        options: dict[str, Any] = {
            "timeout": 5.0, "sleep": self.clock.sleep, "monotonic": self.clock.monotonic,
            "jitter": lambda: 1.0,
        }
        options.update(overrides)
        return ArxivSource(self.feed_url, self.api_url, **options)

    def serve_feed(self, day: dt.date, *, papers_of: dt.date | None = None) -> None:
        """Show `day`; `papers_of`: list another reference day's papers under that date (a day
        the reference data lacks, e.g. one the holiday table wrongly calls closed)."""
        self.feed_day = day
        self.papers_of = papers_of

    def script(self, target: Target, *replies: Reply) -> None:
        self._scripts[target].add(replies)

    def papers(self, day: dt.date) -> tuple[RefPaper, ...]:
        return load_day(day) if day in REFERENCE_DAYS else ()

    window = staticmethod(fake_window)

    def seen(self, target: Target) -> list[Seen]:
        return [r for r in self.requests if r.target == target]

    # normal answers

    def feed_answer(self, path: str) -> tuple[int, bytes]:
        categories = [c for c in unquote(path[len("/atom/"):]).split("+") if c]
        if not categories:
            return 404, b"no category"
        return 200, day_feed(categories, self.feed_day, self.papers(self.papers_of or self.feed_day))

    def api_answer(self, query: dict[str, str]) -> tuple[int, bytes]:
        search, ids = query.get("search_query", ""), query.get("id_list", "")
        try:
            start = int(query.get("start", "0"))
            size = int(query.get("max_results", "10"))
            matcher = parse_query(search) if search.strip() else None
        except (QueryError, ValueError) as exc:
            return 400, api_error_feed(str(exc))
        entries: list[ApiEntry] = list(api_entries())
        if matcher is not None:
            entries = [e for e in entries if matcher(e)]
        if ids:
            wanted = {i.strip().split("v")[0] for i in ids.split(",") if i.strip()}
            entries = [e for e in entries if e.paper.arxiv_id in wanted]
        elif matcher is None:
            return 400, api_error_feed("neither search_query nor id_list given")
        order = query.get("sortBy", "relevance")
        if order in ("submittedDate", "lastUpdatedDate"):
            key = (lambda e: e.published) if order == "submittedDate" else (lambda e: e.updated)
            entries.sort(key=key, reverse=query.get("sortOrder") == "descending")
        page = entries[start : start + size]
        return 200, api_feed(page, query=search, total=len(entries), start=start)

    @classmethod
    def running(cls, feed_day: dt.date = dt.date(2025, 8, 28)) -> FakeArxiv:
        """A fake to serve with `with FakeArxiv.running() as fake:` (it starts on entering)."""
        return cls(feed_day)

    # serving

    def _get(self, exchange: Exchange) -> None:
        parts = urlsplit(exchange.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        target = ("feed" if parts.path.startswith("/atom/")
                  else "api" if parts.path == "/api/query" else "other")
        with self._lock:
            self.requests.append(Seen(target, parts.path, query, time.monotonic()))
        script = self._scripts.get(target)
        reply = script.take(None) if script is not None else None
        if reply is not None and reply.delay:
            self.pause(reply.delay)
        if reply is not None and reply.body is not None:
            status, body, content_type = reply.status, reply.body, reply.content_type
        elif target == "feed":
            status, body = self.feed_answer(parts.path)
            content_type = ATOM
        elif target == "api":
            status, body = self.api_answer(query)
            content_type = ATOM
        else:
            status, body, content_type = 404, b"not found", "text/plain"
        exchange.reply(status, body, content_type, reply.headers if reply is not None else ())


@pytest.fixture
def fake_arxiv() -> Iterator[FakeArxiv]:
    """A running loopback arXiv (feed + API) serving the reference day 2025-08-28 by default."""
    with FakeArxiv.running() as fake:
        yield fake
