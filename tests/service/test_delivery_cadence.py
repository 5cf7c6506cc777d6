"""The service's delivery job with weekly and paused readers (their settings as the preferences
page stores them over the roster row): a weekly reader is served on their weekday at their hour,
the others not at all, and nobody off their day counts as due, failing, or holding up the day."""

from __future__ import annotations

import datetime as dt
import email
from dataclasses import replace
from email import policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from newsletter.db import deliveries as delivery_store
from newsletter.models import Subscriber
from newsletter.readers.roster import Roster
from newsletter.service.context import ServiceContext
from newsletter.service.health import health_status
from newsletter.service.schedule import reader_window, send_window, weekly_window
from tests.service.test_jobs import ADMIN, DAY, make_service, outbox, sent_at, step
from tests.service.test_jobs import site as site  # the fixture: three readers, the loopback arXiv

UTC = dt.UTC
READER = Subscriber("r@example.org", "x", Path("c.md"))
OWN_SETTINGS = {  # Thursday the 28th: Ada reads weekly on Thursdays, Grace on Fridays; Alan pauses
    "ada@example.org": {"frequency": "weekly", "weekday": 3},
    "grace@example.org": {"frequency": "weekly", "weekday": 4},
    "alan@example.org": {"paused_until": dt.date(2025, 8, 30)},
}


@pytest.fixture
def own_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The readers' own settings over their roster rows, as the preferences' overrides give them."""
    read = ServiceContext.roster

    def roster(self: ServiceContext) -> Roster:
        base = read(self)
        readers = [replace(s, **OWN_SETTINGS.get(s.email, {})) for s in base.subscribers]  # type: ignore[arg-type]
        return Roster(base.path, readers, base.problems)

    monkeypatch.setattr(ServiceContext, "roster", roster)


def test_weekly_and_paused_readers_are_served_on_their_day_only_and_never_count_as_due(
    site: Path, own_settings: None
) -> None:
    start = dt.datetime(2025, 8, 28, 4, 30, tzinfo=UTC)
    service, clock, db = make_service(site, start)
    now, due = start, []
    while now < dt.datetime(2025, 8, 28, 23, 45, tzinfo=UTC):
        step(service, clock, now)
        state = service.delivery.context.state
        due.append(state.snapshot().due)
        _, health = health_status(db, state, now)
        assert not health["warnings"] and health["digests"] == {  # type: ignore[comparison-overlap]
            "due": 0, "due_since": None, "failed": 0, "unknown": 0}, health
        now += dt.timedelta(minutes=15)
    assert sent_at(db, "ada@example.org") == dt.datetime(2025, 8, 28, 7, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert set(delivery_store.for_date(db, DAY)) == {"ada@example.org"}
    assert max(due) == 0  # nobody waited: Ada was served at her hour, the others were not due
    messages = outbox(site)
    ada = email.message_from_bytes(messages["ada@example.org.eml"].read_bytes(), policy=policy.default)
    assert ada.get_body(("plain",)).get_content().startswith(  # type: ignore[union-attr]
        "# Personalized Weekly ArXiv Papers 08/28/2025\r\n")
    # the day is done once its one reader is served: the cost line is not held up by the others
    cost = email.message_from_bytes(messages[f"{ADMIN}.alert-cost.eml"].read_bytes(), policy=policy.default)
    assert "2025-08-28: 1 digest(s) served" in cost.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_a_weekly_window_opens_at_the_first_weekday_send_time_after_the_mailing() -> None:
    berlin = replace(READER, timezone="Europe/Berlin", frequency="weekly", weekday=6)
    friday = dt.date(2025, 8, 29)
    window = weekly_window(berlin, friday)
    assert window is not None  # Sunday 07:00 in Berlin, Friday the newest announcement by then
    assert (window.start, window.end) == (dt.datetime(2025, 8, 31, 5, 0, tzinfo=UTC),
                                          dt.datetime(2025, 8, 31, 22, 0, tzinfo=UTC))
    assert weekly_window(berlin, dt.date(2025, 8, 28)) is None  # Friday's ends that week's digest
    tokyo = replace(berlin, timezone="Asia/Tokyo", weekday=4)  # Friday 07:00 in Tokyo: Thursday's
    assert weekly_window(tokyo, dt.date(2025, 8, 28)) is not None
    assert weekly_window(tokyo, friday) is None


def test_a_paused_reader_has_no_window_until_the_pause_ends() -> None:
    daily = replace(READER, timezone="Asia/Tokyo", paused_until=dt.date(2025, 8, 29))
    # Tokyo reads Thursday's announcement on Friday morning: after the pause, but the day is before it
    assert reader_window(daily, dt.date(2025, 8, 28)) is None
    assert reader_window(daily, dt.date(2025, 8, 29)) == send_window(dt.date(2025, 8, 29), "Asia/Tokyo",
                                                                     dt.time(7, 0))
    los_angeles = replace(daily, timezone="America/Los_Angeles", send_at=dt.time(18, 0))
    # the 29th reaches Los Angeles at 18:00 on the 28th, a date still paused
    assert reader_window(los_angeles, dt.date(2025, 8, 29)) is None
    assert reader_window(los_angeles, dt.date(2025, 9, 1)) is not None

