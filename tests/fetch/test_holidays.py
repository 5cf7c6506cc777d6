"""arXiv's 2025 holiday closures as its calendar lists them, and how a missed announcement is explained."""

from __future__ import annotations

import datetime as dt

import pytest

from newsletter.fetch import NoAnnouncementError
from newsletter.fetch.calendar import is_announcement_date

D = dt.date.fromisoformat


@pytest.mark.parametrize(
    ("holiday", "lost"),
    [
        ("2025-01-20", "2025-01-21"),  # Martin Luther King Jr. Day (Monday): no Tuesday list
        ("2025-06-19", "2025-06-20"),  # Juneteenth (Thursday): no Friday list
        ("2025-07-04", "2025-07-07"),  # Independence Day (Friday): no Sunday mailing, no Monday list
        ("2025-09-01", "2025-09-02"),  # Labor Day
        ("2025-11-27", "2025-11-28"),  # Thanksgiving (Thursday): no Friday list
        ("2025-12-25", "2025-12-26"),  # Christmas
    ],
)
def test_each_2025_closure_takes_away_the_next_announcement(holiday: str, lost: str) -> None:
    assert is_announcement_date(D(holiday))  # the morning of a closure still has its list
    assert not is_announcement_date(D(lost))


def test_a_monday_without_a_list_names_the_friday_it_lost() -> None:
    # 2026-07-03 (Friday) is a closure: no Sunday mailing, so no list dated Monday 2026-07-06.
    error = NoAnnouncementError(D("2026-07-06"))
    assert "no submission deadline on Friday 2026-07-03" in str(error)
    assert "Monday 2026-07-06" in str(error)
