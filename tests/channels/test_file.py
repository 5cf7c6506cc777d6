"""channels.csv: valid rows served, every problem named by line and column, the URL never shown."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from newsletter.channels.file import LAB, ChannelsError, load_channels
from newsletter.settings import Settings
from tests.conftest import DATA

HEADER = "name,url,criteria,categories,timezone,send_at,max_papers"
SLACK = "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7"
CRITERIA = "criteria/generation-segmentation-matting.md"


def write(tmp_path: Path, *rows: str, header: str = HEADER) -> Path:
    import shutil

    shutil.copytree(DATA / "criteria", tmp_path / "criteria", dirs_exist_ok=True)
    path = tmp_path / "channels.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def settings(tmp_path: Path) -> Settings:
    return Settings(subscribers=tmp_path / "subscribers.csv")


def test_a_valid_file_gives_channels_with_the_settings_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, f"vision,{SLACK},{CRITERIA},cs.CV,Europe/Berlin,08:30,5",
                 f"lab,{SLACK},*,,,,")
    found = load_channels(path, settings(tmp_path))
    assert not found.problems
    vision, lab = found.channels
    assert (vision.name, vision.categories, vision.timezone, vision.send_at, vision.max_papers) == (
        "vision", ("cs.CV",), "Europe/Berlin", dt.time(8, 30), 5)
    assert "segmentation" in vision.criteria.lower() and not vision.lab
    assert lab.lab and lab.criteria == LAB and lab.send_at == dt.time(7, 0) and lab.max_papers == 30
    assert SLACK not in repr(vision)  # the URL is a secret: not even in a repr


def test_each_problem_names_line_and_column_and_never_quotes_the_url(tmp_path: Path) -> None:
    secret = "slack://Tsecret/Bsecret"  # too few tokens: Apprise cannot use it
    path = write(tmp_path, f"ok,{SLACK},{CRITERIA},,,,",
                 f"bad name!,{secret},criteria/missing.md,cs.XX,Mars/Base,25:00,0",
                 f"ok,{SLACK},{CRITERIA},,,,",
                 "nourl,,*,,,,",
                 "plain,https-less text,*,,,,")
    found = load_channels(path, settings(tmp_path))
    assert [c.name for c in found.channels] == ["ok"]
    text = "\n".join(str(p) for p in found.problems)
    for column in ("name", "url", "criteria", "categories", "timezone", "send_at", "max_papers"):
        assert f"channels.csv line 3, column {column}:" in text, text
    assert "line 4, column name: 'ok' duplicates line 2" in text
    assert "line 5, column url: is required" in text
    assert "line 6, column url: is not an Apprise URL" in text
    assert "secret" not in text and "https-less" not in text


def test_a_missing_file_is_no_channels_and_a_bad_header_is_one_error(tmp_path: Path) -> None:
    assert load_channels(tmp_path / "channels.csv", settings(tmp_path)).channels == []
    path = write(tmp_path, f"x,{SLACK}", header="name,url")
    with pytest.raises(ChannelsError, match="lacks the column"):
        load_channels(path, settings(tmp_path))
