"""The schedule, driven with a given `now`: who is due when, across time zones and DST changes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from newsletter.fetch.calendar import FEED_LAG, is_announcement_date
from newsletter.models import Subscriber
from newsletter.service.schedule import (
    FetchPlan,
    announced_at,
    due_checker,
    due_now,
    feed_shows,
    fetch_plan,
    fetch_trigger,
    is_due,
    recent_announcement_dates,
    send_window,
)

UTC = dt.UTC


def reader(email: str, timezone: str, send_at: dt.time = dt.time(7, 0)) -> Subscriber:
    return Subscriber(email=email, criteria="x", criteria_path=Path("c.md"), timezone=timezone,
                      send_at=send_at)


TOKYO = reader("tokyo@example.org", "Asia/Tokyo")
BERLIN = reader("berlin@example.org", "Europe/Berlin")
LOS_ANGELES = reader("la@example.org", "America/Los_Angeles")
NIGHT_OWL = reader("owl@example.org", "Europe/Berlin", dt.time(1, 30))


def simulate(
    readers: list[Subscriber], start: dt.datetime, end: dt.datetime, step: dt.timedelta
) -> dict[str, list[tuple[dt.date, dt.datetime]]]:
    """A delivery job ticking every `step`, every announcement fetched the moment it appears,
    each reader served at most once per date (as the delivery rows guarantee)."""
    sent: dict[str, list[tuple[dt.date, dt.datetime]]] = {r.email: [] for r in readers}
    done: set[tuple[str, dt.date]] = set()
    now = start
    while now < end:
        fetched = set(recent_announcement_dates(now))
        for day, due in due_now(readers, now, fetched).items():
            for sub in due:
                if (sub.email, day) not in done:
                    done.add((sub.email, day))
                    sent[sub.email].append((day, now))
        now += step
    return sent


def announcement_dates(first: dt.date, last: dt.date) -> list[dt.date]:
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    return [d for d in days if is_announcement_date(d)]


@pytest.mark.parametrize(
    ("first", "last"),
    [
        # US summer time starts 2026-03-08, the EU's 2026-03-29.
        (dt.date(2026, 3, 2), dt.date(2026, 4, 3)),
        # the EU's ends 2026-10-25, the US's 2026-11-01.
        (dt.date(2026, 10, 19), dt.date(2026, 11, 6)),
    ],
)
def test_each_reader_gets_each_day_once_after_their_seven_oclock(first: dt.date, last: dt.date) -> None:
    start = dt.datetime.combine(first - dt.timedelta(days=1), dt.time(12), tzinfo=UTC)
    end = dt.datetime.combine(last + dt.timedelta(days=3), dt.time(0), tzinfo=UTC)
    sent = simulate([TOKYO, BERLIN, LOS_ANGELES], start, end, dt.timedelta(minutes=5))
    # holidays inside the range (Thanksgiving is later) are not at stake; the calendar decides
    expected = announcement_dates(first, last)
    for sub, local_offset in ((TOKYO, 1), (BERLIN, 0), (LOS_ANGELES, 0)):
        zone = ZoneInfo(sub.timezone)
        got = [(day, when) for day, when in sent[sub.email] if first <= day <= last]
        assert [day for day, _ in got] == expected, sub.email
        for day, when in got:
            local = when.astimezone(zone)
            # exactly at the first tick at/after 07:00 local, on the expected local date
            assert local.time() == dt.time(7, 0), (sub.email, day, local)
            assert local.date() == day + dt.timedelta(days=local_offset), (sub.email, day, local)


def test_berlin_on_the_monday_after_the_eu_switch_reads_at_seven_summer_time() -> None:
    window = send_window(dt.date(2026, 3, 30), "Europe/Berlin", dt.time(7, 0))
    assert window.start == dt.datetime(2026, 3, 30, 5, 0, tzinfo=UTC)  # 07:00 CEST
    before = send_window(dt.date(2026, 3, 27), "Europe/Berlin", dt.time(7, 0))
    assert before.start == dt.datetime(2026, 3, 27, 6, 0, tzinfo=UTC)  # 07:00 CET


def test_an_early_reader_depends_on_both_dst_rules() -> None:
    """01:30 in Berlin: the mailing is at 02:00 Berlin time, except in the weeks when only the US
    has switched (then 01:00), so the same reader reads the same day's list a day apart."""
    sent = simulate([NIGHT_OWL], dt.datetime(2026, 3, 1, 12, tzinfo=UTC),
                    dt.datetime(2026, 4, 4, tzinfo=UTC), dt.timedelta(minutes=5))
    zone = ZoneInfo("Europe/Berlin")
    by_day = {day: when.astimezone(zone) for day, when in sent[NIGHT_OWL.email]}
    # 2026-03-10: US on summer time, EU not: mailing 01:00 CET, so 01:30 the same morning
    assert by_day[dt.date(2026, 3, 10)] == dt.datetime(2026, 3, 10, 1, 30, tzinfo=zone)
    # 2026-03-04 (before the US switch) and 2026-03-31 (after the EU's): mailing at 02:00
    assert by_day[dt.date(2026, 3, 4)] == dt.datetime(2026, 3, 5, 1, 30, tzinfo=zone)
    assert by_day[dt.date(2026, 3, 31)] == dt.datetime(2026, 4, 1, 1, 30, tzinfo=zone)
    assert len(by_day) == len(sent[NIGHT_OWL.email])  # never twice


def test_send_at_in_a_spring_forward_gap_sends_right_after_the_jump() -> None:
    # Cairo jumps 00:00 → 01:00 on Friday 2026-04-24; a 00:30 reader's Thursday digest (mailed
    # Wednesday 20:00 EDT = Thursday 02:00 local) is due at the next 00:30, which does not exist.
    cairo = ZoneInfo("Africa/Cairo")
    window = send_window(dt.date(2026, 4, 23), "Africa/Cairo", dt.time(0, 30))
    assert window.start == dt.datetime(2026, 4, 23, 22, 30, tzinfo=UTC)
    assert window.start.astimezone(cairo) == dt.datetime(2026, 4, 24, 1, 30, tzinfo=cairo)
    assert window.end.astimezone(cairo) == dt.datetime(2026, 4, 25, 0, 0, tzinfo=cairo)
    reader_ = reader("cairo@example.org", "Africa/Cairo", dt.time(0, 30))
    sent = simulate([reader_], dt.datetime(2026, 4, 20, tzinfo=UTC),
                    dt.datetime(2026, 4, 28, tzinfo=UTC), dt.timedelta(minutes=5))
    days = [day for day, _ in sent[reader_.email]]
    assert days == sorted(set(days))
    assert dt.date(2026, 4, 23) in days
    assert dt.date(2026, 4, 24) in days


def test_restart_at_ten_local_sends_the_missed_digest_at_once() -> None:
    tuesday = dt.date(2026, 6, 16)
    for sub in (BERLIN, LOS_ANGELES):
        zone = ZoneInfo(sub.timezone)
        ten = dt.datetime(2026, 6, 16, 10, 0, tzinfo=zone)
        assert due_now([sub], ten, {tuesday, tuesday - dt.timedelta(days=1)}) == {tuesday: [sub]}
    ten_tokyo = dt.datetime(2026, 6, 17, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    wednesday = tuesday + dt.timedelta(days=1)  # already mailed too, but due tomorrow in Tokyo
    assert due_now([TOKYO], ten_tokyo, {tuesday, wednesday}) == {tuesday: [TOKYO]}


def test_restart_the_next_day_does_not_send_yesterdays() -> None:
    tuesday, wednesday = dt.date(2026, 6, 16), dt.date(2026, 6, 17)
    for sub, local_day in ((BERLIN, wednesday), (LOS_ANGELES, wednesday),
                           (TOKYO, wednesday + dt.timedelta(days=1))):
        zone = ZoneInfo(sub.timezone)
        ten = dt.datetime.combine(local_day, dt.time(10), tzinfo=zone)
        assert not is_due(sub, tuesday, ten), sub.email
        assert due_now([sub], ten, {tuesday, wednesday}) == {wednesday: [sub]}, sub.email
    # and with the newer day not fetched (arXiv late), the old one still does not come back
    ten_berlin = dt.datetime(2026, 6, 17, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert due_now([BERLIN], ten_berlin, {tuesday}) == {}


def test_window_ends_at_local_midnight() -> None:
    day = dt.date(2026, 6, 16)
    zone = ZoneInfo("Europe/Berlin")
    assert is_due(BERLIN, day, dt.datetime(2026, 6, 16, 23, 59, tzinfo=zone))
    assert not is_due(BERLIN, day, dt.datetime(2026, 6, 17, 0, 0, tzinfo=zone))
    assert not is_due(BERLIN, day, dt.datetime(2026, 6, 16, 6, 59, tzinfo=zone))


def test_due_checker_needs_the_day_fetched() -> None:
    day = dt.date(2026, 6, 16)
    at = dt.datetime(2026, 6, 16, 8, tzinfo=ZoneInfo("Europe/Berlin"))
    assert due_checker({day})(BERLIN, day, at)
    assert not due_checker(set())(BERLIN, day, at)


def test_weekend_has_no_new_dates_and_naive_now_is_refused() -> None:
    saturday = dt.datetime(2026, 6, 20, 12, tzinfo=UTC)
    assert recent_announcement_dates(saturday)[-1] == dt.date(2026, 6, 19)
    assert dt.date(2026, 6, 20) not in recent_announcement_dates(saturday)
    with pytest.raises(ValueError, match="timezone-aware"):
        recent_announcement_dates(dt.datetime(2026, 6, 20, 12))


def test_announced_at_is_eight_pm_eastern_the_evening_before() -> None:
    assert announced_at(dt.date(2026, 6, 16)) == dt.datetime(2026, 6, 16, 0, 0, tzinfo=UTC)
    assert announced_at(dt.date(2026, 1, 13)) == dt.datetime(2026, 1, 13, 1, 0, tzinfo=UTC)


def test_fetch_trigger_fires_monday_to_friday_after_the_feed_turns_across_dst() -> None:
    trigger = fetch_trigger()
    now = dt.datetime(2026, 2, 26, 12, tzinfo=UTC)  # a Thursday
    fires = []
    previous = None
    while len(fires) < 30:
        nxt = trigger.get_next_fire_time(previous, now)
        assert nxt is not None
        fires.append(nxt)
        previous, now = nxt, nxt + dt.timedelta(seconds=1)
    eastern = ZoneInfo("America/New_York")
    for fire in fires:
        local = fire.astimezone(eastern)
        mailing = dt.datetime.combine(local.date() - dt.timedelta(days=1), dt.time(20), tzinfo=eastern)
        assert local - mailing in (FEED_LAG, FEED_LAG + dt.timedelta(hours=1))  # EST, EDT
        assert local.strftime("%a") in {"Mon", "Tue", "Wed", "Thu", "Fri"}
    local_dates = [f.astimezone(eastern).date() for f in fires]
    assert dt.date(2026, 3, 9) in local_dates  # the Monday after the US springs forward
    assert len(set(local_dates)) == 30
    assert local_dates[-1] == dt.date(2026, 4, 9)  # six weeks of weekdays: no day skipped


def test_fetch_plan_tries_until_stored_then_gives_up_after_the_bound() -> None:
    bound = dt.timedelta(hours=8)
    tuesday, wednesday = dt.date(2026, 6, 16), dt.date(2026, 6, 17)
    mailing = announced_at(wednesday)
    # between the mailing and the feed's refresh the feed cannot show Wednesday's yet: no tries
    early = fetch_plan(mailing + dt.timedelta(minutes=5), {tuesday}, retry_for=bound)
    assert (early.want, early.action) == (tuesday, "done")
    shown = mailing + FEED_LAG
    assert fetch_plan(shown + dt.timedelta(minutes=5), {tuesday}, retry_for=bound).want == wednesday
    assert fetch_plan(shown + dt.timedelta(minutes=5), set(), retry_for=bound).action == "try"
    assert fetch_plan(shown + dt.timedelta(hours=3), {wednesday}, retry_for=bound).action == "done"
    assert fetch_plan(shown + dt.timedelta(hours=7), set(), retry_for=bound).action == "try"
    late = fetch_plan(shown + dt.timedelta(hours=8), set(), retry_for=bound)
    assert (late.want, late.action) == (wednesday, "overdue")
    # a freshly started process tries once, however late
    assert fetch_plan(shown + dt.timedelta(hours=9), set(), retry_for=bound, tried=False).should_try
    # on a Saturday the newest announcement is Friday's
    assert fetch_plan(dt.datetime(2026, 6, 20, 12, tzinfo=UTC), set(), retry_for=bound).want == \
        dt.date(2026, 6, 19)


def test_fetch_plan_looks_at_the_feed_on_a_table_holiday_for_the_margin() -> None:
    bound = dt.timedelta(hours=8)
    thursday, friday = dt.date(2025, 6, 19), dt.date(2025, 6, 20)  # the table: no list on Friday
    shown = feed_shows(friday)
    look = fetch_plan(shown + dt.timedelta(minutes=5), {thursday}, retry_for=bound)
    assert (look.want, look.action, look.expected) == (friday, "try", False)
    after = fetch_plan(shown + bound, {thursday}, retry_for=bound)
    assert (after.want, after.action) == (friday, "done")
    assert fetch_plan(shown + bound, {thursday}, retry_for=bound, tried=False).should_try
    stored = fetch_plan(shown + dt.timedelta(hours=1), {thursday, friday}, retry_for=bound)
    assert (stored.want, stored.action) == (friday, "done")
    # a day the table expects but nobody stored is chased, then overdue
    assert fetch_plan(shown + bound, set(), retry_for=bound) == FetchPlan(thursday, "overdue")
    # the delivery side counts a stored day the table calls closed
    noon = dt.datetime(2025, 6, 20, 12, tzinfo=UTC)
    assert recent_announcement_dates(noon)[-1] == thursday
    assert recent_announcement_dates(noon, shown={thursday, friday})[-1] == friday
