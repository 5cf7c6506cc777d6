"""arXiv's announcement calendar: which dates have an announcement, and what each one covers.

arXiv's own model (its "freeze"/"publish" business rules, US Eastern time):
- a *freeze* (submission deadline) happens at 14:00 on every workday: Monday–Friday, not a holiday;
- a *mailing* (the announcement) goes out at 20:00 on Monday–Thursday unless that day is a holiday,
  and on Sunday unless the Friday before was a holiday (the Sunday mailing carries Friday's freeze);
- a mailing announces everything submitted between the two freezes that precede it.

Our *announcement date* is the US Eastern date of the morning after a mailing: the date the feed
carries and the digest header shows (a Thursday-evening mailing is Friday's announcement).

Holidays are stored the way arXiv stores them: the workdays on which there is *no freeze*, hence no
mailing that evening and no announcement the next morning.

The table schedules (what to expect, when a feed is late) and gives backfill windows; it does not
decide which day exists. arXiv publishes closures late, edits them and defers mailings, so the
feed's own date is trusted: `latest_possible_date` says when the feed may have turned whatever the
table says, and `submission_window(..., shown=...)` corrects the table by the days a feed showed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from zoneinfo import ZoneInfo

EASTERN = ZoneInfo("America/New_York")
FREEZE_TIME = dt.time(14, 0)
MAILING_TIME = dt.time(20, 0)
# The Atom feed shows a new announcement from about 00:00 US Eastern (4 h after the mailing);
# the margin covers its late refreshes.
FEED_LAG = dt.timedelta(hours=4, minutes=30)

# arXiv's published holiday closures (days without a freeze), as listed in arXiv's own publish
# calendar. Extend it at run time with the `extra_holidays` argument of the functions below
# (e.g. from a setting) when arXiv announces a new closure; add the year's list here each December.
KNOWN_HOLIDAYS: frozenset[dt.date] = frozenset(
    dt.date.fromisoformat(day)
    for day in (
        # 2024
        "2024-01-15", "2024-05-22", "2024-06-19", "2024-07-04", "2024-09-02", "2024-10-08",
        "2024-11-28", "2024-12-25", "2024-12-26", "2024-12-31",
        # 2025
        "2025-01-01", "2025-01-20", "2025-06-19", "2025-07-04", "2025-09-01", "2025-11-27",
        "2025-12-25", "2025-12-30",
        # 2026
        "2026-01-01", "2026-01-19", "2026-06-19", "2026-07-03", "2026-09-07", "2026-11-26",
        "2026-12-25", "2026-12-29", "2026-12-31",
    )
)  # fmt: skip


def _holidays(extra: Iterable[dt.date]) -> frozenset[dt.date]:
    extra = frozenset(extra)
    return KNOWN_HOLIDAYS | extra if extra else KNOWN_HOLIDAYS


def uncovered_years(day: dt.date, extra_holidays: Iterable[dt.date] = ()) -> list[int]:
    """Years the holiday table should list by `day` but does not: `day`'s year, and in December
    the next one. Every year arXiv closes on several workdays, so a year with none is missing.
    """
    years = {holiday.year for holiday in _holidays(extra_holidays)}
    wanted = [day.year, day.year + 1] if day.month == 12 else [day.year]
    return [year for year in wanted if year not in years]


def is_workday(day: dt.date, extra_holidays: Iterable[dt.date] = ()) -> bool:
    """True when arXiv has a submission freeze (deadline) at 14:00 US Eastern on `day`."""
    return day.weekday() < 5 and day not in _holidays(extra_holidays)


def _mailing(day: dt.date, holidays: frozenset[dt.date]) -> bool:
    weekday = day.weekday()
    if weekday in (4, 5):  # Friday, Saturday
        return False
    if weekday == 6:  # Sunday carries Friday's freeze, so it needs that freeze to have happened
        return day - dt.timedelta(days=2) not in holidays
    return day not in holidays


def is_mailing_day(day: dt.date, extra_holidays: Iterable[dt.date] = ()) -> bool:
    """True when arXiv mails an announcement at 20:00 US Eastern on `day`."""
    return _mailing(day, _holidays(extra_holidays))


def is_announcement_date(day: dt.date, extra_holidays: Iterable[dt.date] = ()) -> bool:
    """True when the feed has an announcement dated `day` (the morning after a mailing)."""
    return _mailing(day - dt.timedelta(days=1), _holidays(extra_holidays))


def freeze_of(day: dt.date) -> dt.date:
    """The freeze (deadline) whose papers the announcement dated `day` would carry: the evening
    before's (Friday's for a Monday announcement, mailed on Sunday)."""
    mailing = day - dt.timedelta(days=1)
    return mailing - dt.timedelta(days=2) if mailing.weekday() == 6 else mailing


def _with_shown(holidays: frozenset[dt.date], shown: Iterable[dt.date]) -> frozenset[dt.date]:
    """The table corrected by what the feed showed: a shown date proves its freeze happened."""
    proven = {freeze_of(day) for day in shown}
    return holidays - proven if proven & holidays else holidays


def _eastern(now: dt.datetime) -> dt.datetime:
    if now.tzinfo is None:
        raise ValueError(f"`now` must be timezone-aware, got naive {now.isoformat()}")
    return now.astimezone(EASTERN)


def _latest(now: dt.datetime, holidays: frozenset[dt.date], lag: dt.timedelta) -> dt.date:
    local = _eastern(now) - lag
    mailing = local.date() if local.time() >= MAILING_TIME else local.date() - dt.timedelta(days=1)
    for _ in range(30):  # arXiv has never been closed for anywhere near 30 days in a row
        if _mailing(mailing, holidays):
            return mailing + dt.timedelta(days=1)
        mailing -= dt.timedelta(days=1)
    raise ValueError(f"no arXiv mailing in the 30 days before {local.isoformat()}")


def latest_announcement_date(
    now: dt.datetime,
    extra_holidays: Iterable[dt.date] = (),
    *,
    lag: dt.timedelta = dt.timedelta(0),
) -> dt.date:
    """The date of the newest announcement that exists at `now` (a timezone-aware datetime),
    according to the holiday table.

    An announcement exists from its mailing, 20:00 US Eastern the evening before its date.
    arXiv's Atom feed switches to it only around 00:00 US Eastern: pass `lag=FEED_LAG` to count
    an announcement only once the feed should show it.
    """
    return _latest(now, _holidays(extra_holidays), lag)


def latest_possible_date(now: dt.datetime, *, lag: dt.timedelta = dt.timedelta(0)) -> dt.date:
    """The newest date the feed can carry at `now` whatever the holiday table says: the table
    can be wrong (arXiv publishes closures late and edits them), so the feed is looked at after
    every Sunday-to-Thursday mailing time, and its own date is trusted."""
    return _latest(now, frozenset(), lag)


def _previous(day: dt.date, holidays: frozenset[dt.date]) -> dt.date:
    candidate = day - dt.timedelta(days=1)
    for _ in range(30):
        if _mailing(candidate - dt.timedelta(days=1), holidays):
            return candidate
        candidate -= dt.timedelta(days=1)
    raise ValueError(f"no arXiv announcement in the 30 days before {day.isoformat()}")


def previous_announcement_date(day: dt.date, extra_holidays: Iterable[dt.date] = ()) -> dt.date:
    """The announcement date before `day` (which need not be an announcement date itself)."""
    return _previous(day, _holidays(extra_holidays))


def _last_freeze(before: dt.datetime, holidays: frozenset[dt.date]) -> dt.datetime:
    """The latest freeze at or before `before` (US Eastern)."""
    day = before.date() if before.time() >= FREEZE_TIME else before.date() - dt.timedelta(days=1)
    while day.weekday() >= 5 or day in holidays:
        day -= dt.timedelta(days=1)
    return dt.datetime.combine(day, FREEZE_TIME, tzinfo=EASTERN)


def submission_window(
    day: dt.date, extra_holidays: Iterable[dt.date] = (), *, shown: Iterable[dt.date] = ()
) -> tuple[dt.datetime, dt.datetime]:
    """The [start, end) submission times (UTC) whose new papers the announcement dated `day` lists.

    `shown`: dates a feed showed; each proves its freeze happened, whatever the table says.
    Raises ValueError when `day` is not an announcement date (by the table so corrected).
    """
    holidays = _with_shown(_holidays(extra_holidays), shown)
    if not _mailing(day - dt.timedelta(days=1), holidays):
        raise ValueError(f"{day.isoformat()} is not an arXiv announcement date")
    mailing = dt.datetime.combine(day - dt.timedelta(days=1), MAILING_TIME, tzinfo=EASTERN)
    previous = _previous(day, holidays)
    previous_mailing = dt.datetime.combine(
        previous - dt.timedelta(days=1), MAILING_TIME, tzinfo=EASTERN
    )
    start = _last_freeze(previous_mailing, holidays)
    end = _last_freeze(mailing, holidays)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def next_mailing_time(
    now: dt.datetime, extra_holidays: Iterable[dt.date] = ()
) -> dt.datetime:
    """The next mailing (20:00 US Eastern) strictly after `now`, for schedulers."""
    holidays = _holidays(extra_holidays)
    local = _eastern(now)
    day = local.date()
    for _ in range(31):
        candidate = dt.datetime.combine(day, MAILING_TIME, tzinfo=EASTERN)
        if candidate > local and _mailing(day, holidays):
            return candidate
        day += dt.timedelta(days=1)
    raise ValueError(f"no arXiv mailing in the 30 days after {local.isoformat()}")
