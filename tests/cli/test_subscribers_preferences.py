"""`newsletter subscribers list` and `show` say which values a reader set on their settings page."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter.cli.app import app
from newsletter.db import Database
from newsletter.db import preferences as store
from newsletter.settings import load_settings
from tests.conftest import make_site

ADA, GRACE = "ada@example.org", "grace@example.org"
CRITERIA = "criteria/generation-segmentation-matting.md"
SET = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)
runner = CliRunner()


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    make_site(tmp_path, monkeypatch, [f"{ADA},Ada,{CRITERIA},cs.CV,Europe/Berlin,07:00,",
                                      f"{GRACE},Grace,{CRITERIA},cs.CV,UTC,08:00,"])
    db = Database.open(load_settings().db_path)
    store.change(db, ADA, {"send_at": "06:15", "frequency": "weekly", "weekday": "4",
                           "criteria": "1. Matting"}, now=SET, expected_revision=0)
    store.change(db, GRACE, {"paused_until": "2099-01-31"}, now=SET, expected_revision=0)
    db.close()
    return tmp_path


def test_the_list_marks_the_readers_own_values(site: Path) -> None:
    result = runner.invoke(app, ["subscribers", "list"])
    assert result.exit_code == 0, result.output
    lines = [line.rstrip() for line in result.output.splitlines()]
    assert lines[1].split("┃")[1:-1] == [" email             ", " name  ", " status                   ",
                                         " categories ", " tz            ", " send   ", " last digest ",
                                         " set by the reader                     "]
    assert lines[3] == ("│ ada@example.org   │ Ada   │ active, weekly on Friday │ cs.CV      │"
                        " Europe/Berlin │ 06:15* │ -           │ criteria, frequency, send_at, weekday │")
    assert lines[4] == ("│ grace@example.org │ Grace │ paused until 2099-01-31  │ cs.CV      │"
                        " UTC           │ 08:00  │ -           │ paused_until                          │")


def test_the_json_list_carries_the_values_and_their_origin(site: Path) -> None:
    result = runner.invoke(app, ["subscribers", "list", "--json"])
    ada, grace = json.loads(result.output)
    assert (ada["send_at"], ada["frequency"], ada["weekday"], ada["from_reader"]) == (
        "06:15", "weekly", 4, ["criteria", "frequency", "send_at", "weekday"])
    assert (grace["send_at"], grace["paused_until"], grace["from_reader"]) == (
        "08:00", "2099-01-31", ["paused_until"])


def test_show_gives_the_roster_row_then_each_own_value(site: Path) -> None:
    result = runner.invoke(app, ["subscribers", "show", ADA], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1:6] == [
        f"From the roster: criteria {site / CRITERIA}; categories cs.CV; time zone Europe/Berlin;"
        " send at 07:00; followed authors none",
        "Set by the reader: Criteria: their own text (10 characters, kept in the database)"
        " (since 2026-12-07 09:00)",
        "Set by the reader: Frequency: weekly (since 2026-12-07 09:00)",
        "Set by the reader: Send time: 06:15 (since 2026-12-07 09:00)",
        "Set by the reader: Weekday: Friday (since 2026-12-07 09:00)",
    ]
    grace = runner.invoke(app, ["subscribers", "show", GRACE], env={"COLUMNS": "300"}).output
    assert [line for line in grace.splitlines() if line.startswith("Set by the reader")] == [
        "Set by the reader: Pause until: 2099-01-31 (since 2026-12-07 09:00)"]
