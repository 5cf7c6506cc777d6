"""Hostile roster rows: symlinks out of the roster's folder, control characters in names and criteria.

Each is a row problem like the others: `subscribers check` names its line and column, and the row
is not served until it is fixed, while every other reader still is.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter.cli.app import app
from newsletter.readers.roster import load_roster
from newsletter.settings import Settings

HEADER = "email,name,criteria,categories,timezone,send_at,authors\n"
OK_ROW = "ok@example.org,Ok,criteria/vision.md,,,,\n"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    roster = tmp_path / "roster"
    (roster / "criteria").mkdir(parents=True)
    (roster / "criteria" / "vision.md").write_text("1. Vision transformers\n2. Matting\n", encoding="utf-8")
    return roster


def roster_with(folder: Path, row: str) -> Path:
    path = folder / "subscribers.csv"
    path.write_text(HEADER + OK_ROW + row, encoding="utf-8")
    return path


def check(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["subscribers", "check"],
                                env={"NEWSLETTER_SUBSCRIBERS": str(path), "COLUMNS": "300"})
    return result.exit_code, result.output


def secret_file(tmp_path: Path) -> Path:
    secret = tmp_path / "outside" / "environ"
    secret.parent.mkdir()
    secret.write_text("SENDGRID_API_KEY=SG.secret\n")
    return secret


@pytest.mark.parametrize("target", ["/proc/self/environ", "/etc/passwd", "secret"])
def test_a_criteria_symlink_out_of_the_roster_folder_is_refused(
    folder: Path, tmp_path: Path, target: str
) -> None:
    source = secret_file(tmp_path) if target == "secret" else Path(target)
    if not source.exists():
        pytest.skip(f"{source} does not exist here")
    (folder / "criteria" / "env.md").symlink_to(source)
    path = roster_with(folder, "eve@example.org,Eve,criteria/env.md,,,,\n")

    roster = load_roster(path, Settings(subscribers=path))
    assert [s.email for s in roster.subscribers] == ["ok@example.org"]  # the row is not served
    (problem,) = roster.problems
    assert (problem.line, problem.column) == (3, "criteria")
    assert "outside the roster's folder" in str(problem)
    code, output = check(path)
    assert code == 1
    assert output.splitlines()[0].startswith(
        "subscribers.csv line 3, column criteria: 'criteria/env.md' is a symlink to "
    )
    assert "SG.secret" not in output and "root:" not in output


def test_a_symlinked_folder_out_of_the_roster_folder_is_refused(folder: Path, tmp_path: Path) -> None:
    secret = secret_file(tmp_path)
    (folder / "shared").symlink_to(secret.parent, target_is_directory=True)
    path = roster_with(folder, "eve@example.org,,shared/environ,,,,\n")
    roster = load_roster(path, Settings(subscribers=path))
    assert [s.email for s in roster.subscribers] == ["ok@example.org"]
    (problem,) = roster.problems
    assert problem.column == "criteria" and "outside the roster's folder" in problem.message


def test_symlinks_that_stay_inside_the_roster_folder_are_read(folder: Path, tmp_path: Path) -> None:
    (folder / "criteria" / "alias.md").symlink_to("vision.md")
    # the roster's folder itself may be reached through a symlink (a mounted config folder)
    linked = tmp_path / "linked-roster"
    linked.symlink_to(folder, target_is_directory=True)
    path = roster_with(folder, "ada@example.org,,criteria/alias.md,,,,\n")
    roster = load_roster(linked / path.name, Settings(subscribers=linked / path.name))
    assert roster.problems == []
    assert roster.find("ada@example.org") is not None


@pytest.mark.parametrize(
    ("name", "where"),
    [
        ('"Ada\nLovelace"', "U+000A at character 4"),
        ('"Ada\r\nLovelace"', "U+000D at character 4"),
        ("Ada\x1b[31mLovelace", "U+001B at character 4"),
        ("Ada\u2028Lovelace", "U+2028 at character 4"),
    ],
)
def test_a_name_with_a_control_character_is_a_row_problem(folder: Path, name: str, where: str) -> None:
    path = roster_with(folder, f"ada@example.org,{name},criteria/vision.md,,,,\n")
    roster = load_roster(path, Settings(subscribers=path))
    assert [s.email for s in roster.subscribers] == ["ok@example.org"]
    (problem,) = roster.problems
    assert problem.column == "name"
    assert where in problem.message and "one line of plain text" in problem.message
    code, output = check(path)
    assert code == 1
    first = output.splitlines()[0]
    assert first.startswith(f"subscribers.csv line {problem.line}, column name: ")
    assert where in first and "\x1b" not in output


def test_a_plain_name_with_accents_and_spaces_is_kept(folder: Path) -> None:
    path = roster_with(folder, "ada@example.org,  Ada Lovelace-Byron (Zoë) ,criteria/vision.md,,,,\n")
    roster = load_roster(path, Settings(subscribers=path))
    reader = roster.find("ada@example.org")
    assert roster.problems == [] and reader is not None
    assert reader.name == "Ada Lovelace-Byron (Zoë)"


@pytest.mark.parametrize(
    ("content", "where"),
    [
        (b"1. Vision\n2. Mat\x00ting\n", "U+0000 at line 2, column 7"),
        (b"\n\n1. Vision \x1b[2Jtransformers\n", "U+001B at line 3, column 11"),
        (b"1. Vision\x07\x07\n", "U+0007 at line 1, column 10 (and 1 more)"),
        ("1. Vision\u0085\n".encode(), "U+0085 at line 1, column 10"),
    ],
)
def test_a_criteria_file_with_control_bytes_is_a_row_problem(
    folder: Path, content: bytes, where: str
) -> None:
    (folder / "criteria" / "bad.md").write_bytes(content)
    path = roster_with(folder, "ada@example.org,,criteria/bad.md,,,,\n")
    roster = load_roster(path, Settings(subscribers=path))
    assert [s.email for s in roster.subscribers] == ["ok@example.org"]
    (problem,) = roster.problems
    assert problem.column == "criteria"
    code, output = check(path)
    assert code == 1
    assert output.splitlines()[0] == (
        "subscribers.csv line 3, column criteria: 'criteria/bad.md' criteria file criteria/bad.md"
        f" has a control character (NUL, ESC …): {where}"
    )


def test_tabs_and_any_line_ends_are_text_in_criteria(folder: Path) -> None:
    (folder / "criteria" / "ok.md").write_bytes(b"1.\tVision\r\n2.\tMatting\r3. Depth\n")
    path = roster_with(folder, "ada@example.org,,criteria/ok.md,,,,\n")
    roster = load_roster(path, Settings(subscribers=path))
    reader = roster.find("ada@example.org")
    assert roster.problems == [] and reader is not None
    assert reader.criteria == "1.\tVision\n2.\tMatting\n3. Depth"


def test_add_refuses_a_name_with_a_line_break(folder: Path) -> None:
    path = roster_with(folder, "")
    before = path.read_bytes()
    args = ["subscribers", "add", "ada@example.org", "--criteria", "criteria/vision.md", "--name", "Ada\nL"]
    result = CliRunner().invoke(app, args, env={"NEWSLETTER_SUBSCRIBERS": str(path), "COLUMNS": "300"})
    assert result.exit_code == 1
    assert "--name: 'Ada\\nL' has the control character U+000A" in result.output
    assert path.read_bytes() == before
