"""readers/enrol.py: the one way a reader is added, by `subscribers add`, the sign-up page and
`subscribers approve` alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter.readers.enrol import (
    NewReader,
    add_reader,
    add_reader_with_text,
    criteria_slug,
    write_criteria,
)
from newsletter.readers.roster import RosterError, load_roster
from newsletter.settings import Settings, load_settings
from tests.conftest import make_site


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    make_site(tmp_path, monkeypatch, ["ada@example.org,,criteria/vision-language-seven-topics.md,,,,"],
              SUBSCRIBERS=str(tmp_path / "subscribers.csv"))
    return load_settings()


@pytest.mark.parametrize(("email", "slug"), [
    ("grace@example.org", "grace-example-org"), ("O'Neil+arxiv@Lab.example", "o-neil-arxiv-lab-example"),
    ("../../etc/passwd@x.org", "etc-passwd-x-org"), ("ü@ü.de", "de"), ("ü@ü", "reader"),
])
def test_criteria_file_names_are_plain_and_stay_in_the_folder(email: str, slug: str) -> None:
    assert criteria_slug(email) == slug


def test_a_written_criteria_file_never_replaces_one_there(settings: Settings) -> None:
    first = write_criteria(settings.subscribers, "grace@example.org", "one")
    second = write_criteria(settings.subscribers, "grace@example.org", "two")
    assert (first.name, second.name) == ("grace-example-org.md", "grace-example-org-2.md")
    assert first.read_text() == "one\n" and second.read_text() == "two\n"


def test_a_text_becomes_a_file_beside_the_roster_and_a_row(settings: Settings) -> None:
    grace = NewReader("grace@example.org", categories="cs.CV")
    reader = add_reader_with_text(settings, grace, "segmentation")
    assert reader.row == 3 and reader.criteria == "segmentation"
    assert "grace@example.org,,criteria/grace-example-org.md,cs.CV,,," in settings.subscribers.read_text()


def test_a_refused_row_takes_its_new_criteria_file_away(settings: Settings) -> None:
    before = settings.subscribers.read_bytes()
    with pytest.raises(RosterError, match="duplicates line 2"):
        add_reader_with_text(settings, NewReader("ADA@example.org"), "segmentation")
    assert settings.subscribers.read_bytes() == before
    assert not (settings.subscribers.parent / "criteria" / "ada-example-org.md").exists()


def test_a_criteria_file_outside_the_roster_folder_is_refused(settings: Settings, tmp_path_factory:
                                                               pytest.TempPathFactory) -> None:
    outside = tmp_path_factory.mktemp("elsewhere") / "mine.md"
    outside.write_text("x")
    with pytest.raises(RosterError, match="outside the roster's folder"):
        add_reader(settings, NewReader("grace@example.org"), outside)
    assert load_roster(settings.subscribers, settings).find("grace@example.org") is None
