"""When things happen: the fetch schedule and which subscribers are due a digest at `now`.

Pure functions of their arguments (time is always a parameter), so the whole schedule is testable
without a scheduler or a clock.

The rule for a reader: *the announcement dated D reaches each reader at the first `send_at` of
their own clock after it appeared*. An announcement dated D appears with arXiv's mailing at 20:00
US Eastern on the evening before D (see `newsletter.fetch.calendar`). So, with send_at 07:00:
- Los Angeles (17:00 local at the mailing) reads D at 07:00 on D;
- Berlin (02:00 local, 01:00 while only the US is on summer time) reads D at 07:00 on D;
- Tokyo (09:00 or 10:00 local on D: after its 07:00) reads D at 07:00 on D+1 — the freshest list
  that exists at a Tokyo breakfast, one day "late" on the calendar but never stale.

A digest stays due from that moment to the end of the reader's local day (catch-up after a restart
or an outage, or a fetch that came late); after that only `newsletter run --date D` sends it. The
windows of consecutive announcements never overlap, because `send_at` comes once per local day and
announcements are at least a day apart.

All local times are resolved with zoneinfo, so daylight-saving changes (on different dates in the
US and the EU) move the UTC instants, not the local ones. A `send_at` that falls in a spring-forward
gap is taken as the same wall time before the gap (02:30 on a 02:00→03:00 night sends at 03:30).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from newsletter.daily.run import IsDue
from newsletter.fetch.calendar import (
    EASTERN,
    FEED_LAG,
    MAILING_TIME,
    is_announcement_date,
    latest_announcement_date,
    latest_possible_date,
)
from newsletter.models import Subscriber

# The mailing of the announcement dated D is on the evening before; nothing is due before it.
# Windows last at most ~2 days after the mailing (a day to the first send_at, then one local day),
# so only announcements mailed in the last LOOKBACK can still be due.
LOOKBACK = dt.timedelta(days=3)


def _aware(now: dt.datetime) -> dt.datetime:
    if now.tzinfo is None:
        raise ValueError(f"`now` must be timezone-aware, got naive {now.isoformat()}")
    return now


def announced_at(digest_date: dt.date) -> dt.datetime:
    """When the announcement dated `digest_date` appears: 20:00 US Eastern the evening before (UTC)."""
    mailing = dt.datetime.combine(digest_date - dt.timedelta(days=1), MAILING_TIME, tzinfo=EASTERN)
    return mailing.astimezone(dt.UTC)


def feed_shows(digest_date: dt.date) -> dt.datetime:
    """When arXiv's feed should show the announcement dated `digest_date` (UTC)."""
    return announced_at(digest_date) + FEED_LAG


def _local(day: dt.date, at: dt.time, zone: ZoneInfo) -> dt.datetime:
    """The UTC instant of a local wall time; a time inside a DST gap maps past the gap (fold=0)."""
    return dt.datetime.combine(day, at, tzinfo=zone).astimezone(dt.UTC)


@dataclass(frozen=True, slots=True)
class SendWindow:
    """[start, end) in UTC: from the reader's first send_at after the mailing to their midnight."""

    digest_date: dt.date
    start: dt.datetime
    end: dt.datetime

    def __contains__(self, now: object) -> bool:
        return isinstance(now, dt.datetime) and self.start <= _aware(now) < self.end


def send_window(digest_date: dt.date, timezone: str, send_at: dt.time) -> SendWindow:
    """When the digest dated `digest_date` is due for a reader in `timezone` who reads at `send_at`."""
    zone = ZoneInfo(timezone)
    appeared = announced_at(digest_date)
    local_day = appeared.astimezone(zone).date()
    start = _local(local_day, send_at, zone)
    if start < appeared:  # their send_at that day came before the mailing: the next morning then
        local_day += dt.timedelta(days=1)
        start = _local(local_day, send_at, zone)
    end = _local(local_day + dt.timedelta(days=1), dt.time(0, 0), zone)
    return SendWindow(digest_date, start, end)


def subscriber_window(subscriber: Subscriber, digest_date: dt.date) -> SendWindow:
    """The window of one roster row (the roster has already filled in the settings' defaults)."""
    return send_window(digest_date, subscriber.timezone, subscriber.send_at)


def weekly_window(
    subscriber: Subscriber, digest_date: dt.date, extra_holidays: Iterable[dt.date] = (),
    shown: Iterable[dt.date] = (),
) -> SendWindow | None:
    """A weekly reader's window for the digest that ends with `digest_date`: from their `send_at`
    on the first local date with their weekday after the day appeared, to that date's midnight —
    if `digest_date` is then the newest announcement that has appeared (None otherwise: a newer
    day ends that week's digest, and this one is carried by it)."""
    zone = ZoneInfo(subscriber.timezone)
    appeared = announced_at(digest_date)
    local_day = appeared.astimezone(zone).date()
    local_day += dt.timedelta(days=(subscriber.weekday - local_day.weekday()) % 7)
    start = _local(local_day, subscriber.send_at, zone)
    if start < appeared:  # their hour that day came before the mailing: a week later then
        local_day += dt.timedelta(days=7)
        start = _local(local_day, subscriber.send_at, zone)
    newest = recent_announcement_dates(start, extra_holidays, shown=shown)
    if not newest or newest[-1] != digest_date:
        return None
    return SendWindow(digest_date, start, _local(local_day + dt.timedelta(days=1), dt.time(0, 0), zone))


def reader_window(
    subscriber: Subscriber, digest_date: dt.date, extra_holidays: Iterable[dt.date] = (),
    shown: Iterable[dt.date] = (),
) -> SendWindow | None:
    """When `digest_date`'s digest is due for this reader by their frequency and pause: the daily
    window, the weekly one (`weekly_window`), or None when it is not theirs at all (a weekly reader
    whose digest ends with another day; a day before `paused_until`, or a window opening on a
    local date before it — then the next digest after the pause starts at `paused_until`)."""
    if subscriber.frequency == "weekly":
        window = weekly_window(subscriber, digest_date, extra_holidays, shown)
    else:
        window = subscriber_window(subscriber, digest_date)
    resume = subscriber.paused_until
    if window is None or resume is None:
        return window
    opens_on = window.start.astimezone(ZoneInfo(subscriber.timezone)).date()
    return None if digest_date < resume or opens_on < resume else window


def is_due(subscriber: Subscriber, digest_date: dt.date, now: dt.datetime) -> bool:
    """True while `digest_date`'s digest is due for this reader at `now` (by the clock alone).

    Whether the day is fetched and whether the reader already had it is the database's part; see
    `due_checker`, which combines the three.
    """
    return now in subscriber_window(subscriber, digest_date)


def due_checker(fetched: Collection[dt.date], extra_holidays: Iterable[dt.date] = ()) -> IsDue:
    """The `is_due` that `run_daily` takes: the clock rule by the reader's frequency and pause
    (`reader_window`), and only for fetched announcements."""
    fetched_days = frozenset(fetched)
    holidays = tuple(extra_holidays)

    def check(subscriber: Subscriber, digest_date: dt.date, now: dt.datetime) -> bool:
        if digest_date not in fetched_days:
            return False
        window = reader_window(subscriber, digest_date, holidays, fetched_days)
        return window is not None and now in window

    return check


def recent_announcement_dates(
    now: dt.datetime, extra_holidays: Iterable[dt.date] = (), shown: Iterable[dt.date] = ()
) -> list[dt.date]:
    """Announcement dates that have appeared by `now` and may still be due somewhere, oldest first:
    the holiday table's, and every date a feed showed (`shown`: the stored ones), which counts
    even where the table calls it closed: the feed's own date decides."""
    now = _aware(now)
    holidays = tuple(extra_holidays)
    first = (now - LOOKBACK).astimezone(EASTERN).date()
    last = latest_possible_date(now)
    days = {d for d in shown if first <= d <= last and announced_at(d) <= now}
    day = first
    while day <= last:
        if is_announcement_date(day, holidays) and announced_at(day) <= now:
            days.add(day)
        day += dt.timedelta(days=1)
    return sorted(days)


def due_now(
    subscribers: Iterable[Subscriber],
    now: dt.datetime,
    fetched: Collection[dt.date],
    extra_holidays: Iterable[dt.date] = (),
) -> dict[dt.date, list[Subscriber]]:
    """For each fetched recent announcement, the readers whose window is open at `now` (weekly
    readers on their weekday, paused ones never: `reader_window`).

    Does not know who already had their digest (the delivery rows say that).
    """
    readers = list(subscribers)
    holidays = tuple(extra_holidays)
    due: dict[dt.date, list[Subscriber]] = {}
    for day in recent_announcement_dates(now, holidays, shown=fetched):
        if day not in fetched:
            continue
        open_now = [s for s in readers
                    if (window := reader_window(s, day, holidays, fetched)) is not None and now in window]
        if open_now:
            due[day] = open_now
    return due


# --- the fetch schedule ---------------------------------------------------------------------


def fetch_trigger() -> CronTrigger:
    """Monday–Friday at 05:30 UTC: after arXiv's Sunday–Thursday 20:00 US Eastern mailing, once the
    feed shows it (`FEED_LAG`) in winter and summer time alike (00:30 EST, 01:30 EDT).

    In UTC, not US Eastern: APScheduler 3's cron trigger skips the day after a spring-forward for
    times shortly after midnight (it adds 24 h to a 23 h day), which would miss a Monday in March.
    It fires on holidays too: the table can be wrong, so the feed is looked at (see `fetch_plan`).
    """
    winter = dt.datetime.combine(dt.date(2000, 1, 2), MAILING_TIME, tzinfo=EASTERN) + FEED_LAG
    shown = winter.astimezone(dt.UTC)  # the later of the two offsets
    return CronTrigger(day_of_week="mon-fri", hour=shown.hour, minute=shown.minute, timezone=dt.UTC)


# "done" (stored, or a table closure past the margin), "try", or "overdue" (past the margin, not stored)
FetchAction = Literal["done", "try", "overdue"]


@dataclass(frozen=True, slots=True)
class FetchPlan:
    """What the fetch job should do at `now`: which date it looks for, and whether to try or to give up.

    `expected`: the holiday table expects `want`. When it calls `want` closed, the feed is still
    looked at (the table can be wrong) but a feed on the previous date is no failure."""

    want: dt.date
    action: FetchAction
    expected: bool = True

    @property
    def should_try(self) -> bool:
        return self.action == "try"


def fetch_plan(
    now: dt.datetime,
    stored: Collection[dt.date],
    *,
    retry_for: dt.timedelta,
    tried: bool = True,
    extra_holidays: Iterable[dt.date] = (),
) -> FetchPlan:
    """Decide the fetch job's step. After every Sunday-to-Thursday mailing, whatever the holiday
    table says, the feed is looked at from when it should show the new day (`FEED_LAG`) for
    `retry_for` (the staleness margin: large mailings, on Mondays and after holidays, have come
    hours late), and a process that has not tried yet (just started) tries once even later.
    The table says what is expected: its newest day, until stored; past the margin a day it expects
    is "overdue" (retried hourly by the job), a day it calls closed is "done"."""
    now = _aware(now)
    turn = latest_possible_date(now, lag=FEED_LAG)
    table = latest_announcement_date(now, tuple(extra_holidays), lag=FEED_LAG)
    if turn in stored:
        return FetchPlan(turn, "done", expected=turn == table)
    looking = not tried or now < feed_shows(turn) + retry_for
    if table in stored:  # the table calls `turn` closed: look anyway, for the margin
        return FetchPlan(turn, "try" if looking else "done", expected=False)
    return FetchPlan(table, "try" if looking else "overdue")
