"""A reader's own settings: each checked with a clear message, stored over the roster row and
applied wherever the roster is loaded; kept when the admin edits or drops the row."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from newsletter.db import Database
from newsletter.db import preferences as store
from newsletter.readers.preferences import (
    CRITERIA_MAX_CHARS,
    PreferenceProblem,
    canonical,
    describe,
    load_roster,
    validate,
)
from newsletter.settings import Settings

TODAY = dt.date(2026, 12, 7)
NOW = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)
HEADER = "email,criteria,timezone,send_at,max_papers\n"


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, Database]:
    (tmp_path / "criteria").mkdir()
    (tmp_path / "criteria" / "vision.md").write_text("1. Vision transformers\n", encoding="utf-8")
    (tmp_path / "subscribers.csv").write_text(
        HEADER + "Ada@Example.org,criteria/vision.md,Europe/Berlin,07:00,20\n"
        "bob@example.org,criteria/vision.md,,,\n", encoding="utf-8")
    return tmp_path / "subscribers.csv", Database.open(tmp_path / "state.db")


@pytest.mark.parametrize(("name", "raw", "clean"), [
    ("paused_until", "2026-12-20", "2026-12-20"),
    ("frequency", "weekly", "weekly"),
    ("weekday", "4", "4"),
    ("weekday", "friday", "4"),
    ("timezone", "America/New_York", "America/New_York"),
    ("send_at", "6:30", "06:30"),
    ("max_papers", "12", "12"),
    ("max_papers", "", None),
    ("min_relevance", "7", "7"),
    ("max_per_topic", "3", "3"),
    ("max_per_topic", "", None),
    ("authors", "Ada Lovelace\r\nG. Hopper; Ada Lovelace", "Ada Lovelace; G. Hopper"),
    ("authors", "", ""),
    ("criteria", "1. Matting\r\n2. Depth\r\n", "1. Matting\n2. Depth"),
])
def test_a_good_value_comes_out_in_its_stored_form(name: str, raw: str, clean: str | None) -> None:
    assert validate({name: raw}, today=TODAY) == {name: clean}


@pytest.mark.parametrize(("name", "raw", "message"), [
    ("timezone", "Mars/Olympus", "Time zone: is not an IANA time zone (e.g. Europe/Berlin)"),
    ("timezone", "", "Time zone: is required"),
    ("send_at", "7am", "Send time: must be a local time as HH:MM (e.g. 07:00)"),
    ("send_at", "25:00", "Send time: must be a local time as HH:MM"),
    ("criteria", "x" * (CRITERIA_MAX_CHARS + 1), "Criteria: is 10,001 characters long, over the 10,000"),
    ("criteria", "1. Matting\x1b[31m", "Criteria: has a control character (NUL, ESC …): U+001B at line 1"),
    ("criteria", "  \n ", "Criteria: is empty"),
    ("weekday", "7", "Weekday: '7' is not a weekday (Monday to Sunday)"),
    ("weekday", "Caturday", "is not a weekday"),
    ("frequency", "hourly", "Frequency: 'hourly' is neither daily nor weekly"),
    ("max_papers", "0", "Max papers: must be a whole number from 1 to 500"),
    ("max_papers", "501", "must be a whole number from 1 to 500"),
    ("min_relevance", "11", "Min relevance: must be a whole number from 1 to 10"),
    ("min_relevance", "0", "must be a whole number from 1 to 10"),
    ("max_per_topic", "2.5", "Max per topic: must be a whole number"),
    ("paused_until", "2026-12-07", "Pause until: 2026-12-07 is not after today (2026-12-07)"),
    ("paused_until", "2026-11-30", "is not after today"),
    ("paused_until", "2028-01-01", "is more than a year away"),
    ("paused_until", "next week", "Pause until: 'next week' is not a date as YYYY-MM-DD"),
    ("authors", "Ada\x00Lovelace", "Followed authors: has the control character U+0000"),
    ("authors", ";".join(f"Author {i}" for i in range(51)), "51 names: follow at most 50"),
    ("authors", "A" * 101, "longer than 100 characters"),
    ("send_at_utc", "07:00", "send_at_utc: is not a setting a reader can change"),
])
def test_bad_input_is_refused_with_a_message_naming_the_setting(name: str, raw: str, message: str) -> None:
    with pytest.raises(PreferenceProblem) as caught:
        validate({name: raw}, today=TODAY)
    assert message in str(caught.value)
    assert caught.value.name == name


def test_overrides_apply_over_the_roster_row_and_say_which_are_the_readers(
    site: tuple[Path, Database],
) -> None:
    path, db = site
    store.change(db, "ada@example.org", {"frequency": "weekly", "weekday": "4", "send_at": "06:15",
                                         "criteria": "1. Matting", "max_per_topic": "2",
                                         "paused_until": "2026-12-20"}, now=NOW, expected_revision=0)
    roster = load_roster(path, Settings(subscribers=path), db)
    ada, bob = roster.subscribers
    assert (ada.frequency, ada.weekday, ada.send_at, ada.criteria) == (
        "weekly", 4, dt.time(6, 15), "1. Matting")
    assert (ada.max_per_topic, ada.paused_until, ada.timezone, ada.max_papers) == (
        2, dt.date(2026, 12, 20), "Europe/Berlin", 20)  # the roster's where the reader set nothing
    assert ada.from_reader == {"frequency", "weekday", "send_at", "criteria", "max_per_topic", "paused_until"}
    assert ada.criteria_path.name == "vision.md"  # the admin's file is untouched
    assert (bob.frequency, bob.from_reader) == ("daily", frozenset())


def test_overrides_survive_the_admin_editing_and_removing_the_row(site: tuple[Path, Database]) -> None:
    path, db = site
    settings = Settings(subscribers=path)
    store.change(db, "ada@example.org", {"send_at": "06:15"}, now=NOW, expected_revision=0)
    path.write_text(HEADER + "bob@example.org,criteria/vision.md,,,\n", encoding="utf-8")
    assert [s.email for s in load_roster(path, settings, db).subscribers] == ["bob@example.org"]
    assert store.overrides(db, "ada@example.org")["send_at"].value == "06:15"  # dormant, not lost
    path.write_text(HEADER + "ada@example.org,criteria/vision.md,Asia/Tokyo,09:00,5\n", encoding="utf-8")
    (ada,) = load_roster(path, settings, db).subscribers
    assert (ada.send_at, ada.timezone, ada.max_papers) == (dt.time(6, 15), "Asia/Tokyo", 5)


def test_a_stored_value_that_no_longer_parses_leaves_the_roster_value(
    site: tuple[Path, Database], caplog: pytest.LogCaptureFixture,
) -> None:
    path, db = site
    store.change(db, "ada@example.org", {"timezone": "Atlantis/Capital"}, now=NOW, expected_revision=0)
    ada = load_roster(path, Settings(subscribers=path), db).subscribers[0]
    assert (ada.timezone, ada.from_reader) == ("Europe/Berlin", frozenset())
    assert "no longer applies" in caplog.text


def test_a_change_is_refused_once_the_revision_moved_and_undo_has_the_old_values(
    site: tuple[Path, Database],
) -> None:
    _, db = site
    first = store.change(db, "ada@example.org", {"send_at": "06:15"}, now=NOW, expected_revision=0)
    assert first is not None and store.revision(db, "ADA@example.org") == first
    assert store.change(db, "ada@example.org", {"send_at": "05:00"}, now=NOW, expected_revision=0) is None
    second = store.change(db, "ada@example.org", {"send_at": "05:00", "max_papers": None}, now=NOW,
                          expected_revision=first)
    last = store.last_change(db, "ada@example.org")
    assert last is not None and last.id == second
    assert dict(last.fields) == {"send_at": ("06:15", "05:00"), "max_papers": (None, None)}


def test_canonical_and_describe_read_like_the_page(site: tuple[Path, Database]) -> None:
    path, db = site
    ada = load_roster(path, Settings(subscribers=path), db).subscribers[0]
    assert (canonical(ada, "send_at"), canonical(ada, "max_per_topic"), canonical(ada, "authors")) == (
        "07:00", None, "")
    assert describe("weekday", "4") == "Weekday: Friday"
    assert describe("max_per_topic", None) == "Max per topic: no limit"
    assert describe("max_papers", None) == "Max papers: the admin's value"
