"""Per-reader override columns, site-wide defaults flowing into rows, and adding beside a bad row."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from newsletter.readers.criteria import CRITERIA_MAX_BYTES
from newsletter.readers.roster import add_row, load_roster
from newsletter.settings import Settings

HEADER = "email,criteria,min_relevance,min_novelty,max_papers\n"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "criteria").mkdir()
    (tmp_path / "criteria" / "vision.md").write_text("1. Vision transformers\n", encoding="utf-8")
    return tmp_path


def roster_of(folder: Path, text: str) -> Path:
    path = folder / "subscribers.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_override_columns_are_read_within_their_ranges(folder: Path) -> None:
    path = roster_of(folder, HEADER + "ada@example.org,criteria/vision.md,1,10,500\n"
                                      "bob@example.org,criteria/vision.md,,,\n")
    roster = load_roster(path, Settings(subscribers=path))
    assert roster.problems == []
    ada, bob = roster.subscribers
    assert (ada.min_relevance, ada.min_novelty, ada.max_papers) == (1, 10, 500)
    assert (bob.min_relevance, bob.min_novelty, bob.max_papers) == (None, None, None)


@pytest.mark.parametrize(
    ("values", "column", "message"),
    [
        ("0,,", "min_relevance", "must be a whole number from 1 to 10"),
        ("11,,", "min_relevance", "must be a whole number from 1 to 10"),
        (",0,", "min_novelty", "must be a whole number from 1 to 10"),
        (",,0", "max_papers", "must be a whole number from 1 to 500"),
        (",,501", "max_papers", "must be a whole number from 1 to 500"),
        ("7.5,,", "min_relevance", "must be a whole number from 1 to 10"),
    ],
)
def test_an_override_out_of_range_keeps_the_row_out(
    folder: Path, values: str, column: str, message: str
) -> None:
    path = roster_of(folder, HEADER + f"ada@example.org,criteria/vision.md,{values}\n")
    roster = load_roster(path, Settings(subscribers=path))
    assert roster.subscribers == []
    (problem,) = roster.problems
    assert (problem.line, problem.column) == (2, column)
    assert message in str(problem)


def test_rows_without_time_zone_or_hour_take_the_sites_defaults(folder: Path) -> None:
    path = roster_of(folder, "email,criteria,timezone,send_at\nada@example.org,criteria/vision.md,,\n"
                             "bob@example.org,criteria/vision.md,Asia/Tokyo,09:15\n")
    settings = Settings(subscribers=path, timezone="Europe/Paris", send_at=dt.time(6, 15))
    ada, bob = load_roster(path, settings).subscribers
    assert (ada.timezone, ada.send_at) == ("Europe/Paris", dt.time(6, 15))
    assert (bob.timezone, bob.send_at) == ("Asia/Tokyo", dt.time(9, 15))


def test_a_criteria_file_of_exactly_the_cap_is_accepted(folder: Path) -> None:
    (folder / "criteria" / "big.md").write_bytes(b"1. Matting\n" + b"x" * (CRITERIA_MAX_BYTES - 11))
    assert (folder / "criteria" / "big.md").stat().st_size == CRITERIA_MAX_BYTES
    path = roster_of(folder, HEADER + "ada@example.org,criteria/big.md,,,\n")
    roster = load_roster(path, Settings(subscribers=path))
    assert roster.problems == []
    assert [s.email for s in roster.subscribers] == ["ada@example.org"]


def test_a_bad_row_elsewhere_does_not_block_adding_a_good_one(folder: Path) -> None:
    path = roster_of(folder, HEADER + "not-an-address,criteria/vision.md,,,\n")
    added = add_row(path, {"email": "bob@example.org", "criteria": "criteria/vision.md"},
                    Settings(subscribers=path))
    assert (added.email, added.row) == ("bob@example.org", 3)
    roster = load_roster(path, Settings(subscribers=path))
    assert [s.email for s in roster.subscribers] == ["bob@example.org"]
    assert [p.line for p in roster.problems] == [2]  # still reported, not hidden
