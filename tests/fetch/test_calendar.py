"""arXiv's announcement calendar: weekends, holidays, the 20:00 ET cut-over, submission windows."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from newsletter.fetch.calendar import (
    FEED_LAG,
    KNOWN_HOLIDAYS,
    is_announcement_date,
    latest_announcement_date,
    next_mailing_time,
    previous_announcement_date,
    submission_window,
    uncovered_years,
)

ET = ZoneInfo("America/New_York")
D = dt.date.fromisoformat


def et(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=ET)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        ("2025-08-28", True),  # Thursday, a reference day
        ("2025-08-29", True),  # Friday (Thursday evening's mailing)
        ("2025-08-30", False),  # Saturday
        ("2025-08-31", False),  # Sunday
        ("2025-09-01", True),  # Monday: Sunday's mailing (Labor Day is that Monday's freeze)
        ("2025-09-02", False),  # Tuesday: no freeze and no mailing on Labor Day
        ("2025-09-03", True),
        ("2025-06-19", True),  # Juneteenth itself still has the morning announcement
        ("2025-06-20", False),  # ... but not the one after it
        ("2025-06-23", True),
        ("2025-12-26", False),  # Christmas Day (Thursday) has no mailing
        ("2025-12-31", False),  # 2025-12-30 arXiv holiday
        ("2026-01-02", False),  # New Year's Day
        ("2026-01-05", True),
        ("2026-07-06", False),  # Friday 2026-07-03 holiday: no Sunday mailing, no Monday list
    ],
)
def test_is_announcement_date(day: str, expected: bool) -> None:
    assert is_announcement_date(D(day)) is expected


def test_extra_holidays_extend_the_table() -> None:
    assert is_announcement_date(D("2025-10-15"))
    assert not is_announcement_date(D("2025-10-15"), extra_holidays=[D("2025-10-14")])


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        ("2025-08-27T19:59", "2025-08-27"),  # before Wednesday's mailing: Wednesday's list
        ("2025-08-27T20:00", "2025-08-28"),  # the mailing is out: tomorrow's date
        ("2025-08-28T07:00", "2025-08-28"),
        ("2025-08-29T23:00", "2025-08-29"),  # Friday evening: no mailing
        ("2025-08-30T12:00", "2025-08-29"),  # Saturday
        ("2025-08-31T19:00", "2025-08-29"),  # Sunday before the mailing
        ("2025-08-31T20:30", "2025-09-01"),  # Sunday after it: Monday's list
        ("2025-09-02T09:00", "2025-09-01"),  # Labor Day: nothing new on Tuesday morning
        ("2025-12-26T08:00", "2025-12-25"),
    ],
)
def test_latest_announcement_date(now: str, expected: str) -> None:
    assert latest_announcement_date(et(now)) == D(expected)


def test_latest_announcement_date_takes_any_time_zone() -> None:
    berlin = dt.datetime(2025, 8, 28, 2, 30, tzinfo=ZoneInfo("Europe/Berlin"))  # 20:30 ET on 27th
    assert latest_announcement_date(berlin) == D("2025-08-28")


def test_latest_announcement_date_can_wait_for_the_feed() -> None:
    assert latest_announcement_date(et("2025-08-27T21:00"), lag=FEED_LAG) == D("2025-08-27")
    assert latest_announcement_date(et("2025-08-28T00:29"), lag=FEED_LAG) == D("2025-08-27")
    assert latest_announcement_date(et("2025-08-28T00:30"), lag=FEED_LAG) == D("2025-08-28")
    # Sunday's mailing becomes Monday's feed; Saturday is still Friday's
    assert latest_announcement_date(et("2025-08-31T23:00"), lag=FEED_LAG) == D("2025-08-29")
    assert latest_announcement_date(et("2025-09-01T01:00"), lag=FEED_LAG) == D("2025-09-01")


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        latest_announcement_date(dt.datetime(2025, 8, 28, 12, 0))


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("day", "start", "end"),
    [
        # Thursday's list: Tuesday 14:00 to Wednesday 14:00 US Eastern (EDT, UTC-4)
        ("2025-08-28", "2025-08-26T18:00", "2025-08-27T18:00"),
        # Tuesday's list: the weekend, Friday 14:00 to Monday 14:00
        ("2025-07-15", "2025-07-11T18:00", "2025-07-14T18:00"),
        # Monday's list: Friday's freeze; after Juneteenth (no Thursday freeze) it spans two days
        ("2025-06-23", "2025-06-18T18:00", "2025-06-20T18:00"),
        # Wednesday after Labor Day: Friday 14:00 to Tuesday 14:00
        ("2025-09-03", "2025-08-29T18:00", "2025-09-02T18:00"),
        # winter time (EST, UTC-5)
        ("2026-01-06", "2026-01-02T19:00", "2026-01-05T19:00"),
    ],
)
def test_submission_window(day: str, start: str, end: str) -> None:
    assert submission_window(D(day)) == (utc(start), utc(end))


def test_submission_windows_tile_the_year() -> None:
    """Consecutive announcements cover consecutive windows: no gap, no overlap."""
    day = D("2025-01-02")
    previous_end = None
    while day < D("2026-02-01"):
        if is_announcement_date(day):
            start, end = submission_window(day)
            assert start < end
            if previous_end is not None:
                assert start == previous_end, day
            previous_end = end
        day += dt.timedelta(days=1)


def test_submission_window_of_a_weekend_is_an_error() -> None:
    with pytest.raises(ValueError, match="2025-08-30 is not an arXiv announcement date"):
        submission_window(D("2025-08-30"))


def test_previous_announcement_and_next_mailing() -> None:
    assert previous_announcement_date(D("2025-09-03")) == D("2025-09-01")
    assert previous_announcement_date(D("2025-06-23")) == D("2025-06-19")
    assert next_mailing_time(et("2025-08-27T20:00")) == et("2025-08-28T20:00")
    assert next_mailing_time(et("2025-08-28T21:00")) == et("2025-08-31T20:00")
    assert next_mailing_time(et("2025-12-24T21:00")) == et("2025-12-28T20:00")


def test_uncovered_years_names_the_years_the_table_lacks() -> None:
    last = max(KNOWN_HOLIDAYS).year
    assert uncovered_years(dt.date(last, 6, 1)) == []
    assert uncovered_years(dt.date(last, 12, 1)) == [last + 1]  # December looks a year ahead
    assert uncovered_years(dt.date(last + 1, 3, 1)) == [last + 1]
    assert uncovered_years(dt.date(last + 1, 12, 1)) == [last + 1, last + 2]
    assert uncovered_years(dt.date(last, 12, 1), [dt.date(last + 1, 1, 1)]) == []
