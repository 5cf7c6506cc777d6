"""The roster: every kind of bad input is named with its line, column and value, and changes nothing."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from newsletter.cli.app import app
from newsletter.readers.roster import RosterError, add_row, load_roster, remove_rows
from newsletter.settings import Settings

HEADER = "email,name,criteria,categories,timezone,send_at,authors\n"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "criteria").mkdir()
    (tmp_path / "criteria" / "vision.md").write_text("1. Vision transformers\n2. Matting\n", encoding="utf-8")
    return tmp_path


def write(folder: Path, text: str, *, raw: bytes | None = None) -> Path:
    path = folder / "subscribers.csv"
    path.write_bytes(raw if raw is not None else text.encode("utf-8"))
    return path


def settings_for(path: Path) -> Settings:
    return Settings(subscribers=path)


def test_a_valid_roster_with_bom_crlf_blank_lines_and_extra_columns(folder: Path) -> None:
    text = (
        "email,name,criteria,categories,timezone,send_at,authors,team\r\n"
        "ada@example.org,Ada,criteria/vision.md,cs.CV;cs.LG,Europe/Berlin,06:30,A. Turing;G. Hopper,x\r\n"
        "\r\n"
        "bob@example.org,,criteria/vision.md,,,,,\r\n"
        "cy@example.org,,criteria/vision.md,,,7:05,,\r\n"
    )
    path = write(folder, "", raw=b"\xef\xbb\xbf" + text.encode())
    roster = load_roster(path, settings_for(path))
    assert roster.problems == []
    ada, bob, cy = roster.subscribers
    assert cy.send_at == dt.time(7, 5)  # one-digit hours are read too
    assert (ada.email, ada.categories, ada.timezone, ada.send_at) == (
        "ada@example.org",
        ("cs.CV", "cs.LG"),
        "Europe/Berlin",
        dt.time(6, 30),
    )
    assert ada.authors == ("A. Turing", "G. Hopper")
    assert ada.criteria == "1. Vision transformers\n2. Matting"
    assert (bob.categories, bob.timezone, bob.send_at) == (("cs.CV",), "UTC", dt.time(7, 0))
    assert bob.row == 4


BAD_ROWS = [
    ("not-an-address,,criteria/vision.md,,,,", "email", "'not-an-address' is not a valid address"),
    ("ada@example.org,,criteria/missing.md,,,,", "criteria", "criteria file not found"),
    ("ada@example.org,,,,,,", "criteria", "is required"),
    # Outside the folder: the service's own environment or /etc/passwd must never reach the LLM.
    ("ada@example.org,,../../../../proc/self/environ,,,,", "criteria",
     "'../../../../proc/self/environ' must be a path inside the roster's folder"),
    ("ada@example.org,,/etc/passwd,,,,", "criteria",
     "'/etc/passwd' must be a path inside the roster's folder"),
    ("ada@example.org,,criteria/../../x.md,,,,", "criteria", "without '..'"),
    ("ada@example.org,,criteria/vision.md,cs.XX;bogus,,,", "categories",
     "'cs.XX' is not an arXiv category (e.g. cs.CV, math.AG, hep-th); 'bogus' is not an arXiv category"),
    ("ada@example.org,,criteria/vision.md,cs.cv,,,", "categories",
     "'cs.cv' is not an arXiv category: did you mean cs.CV?"),
    ("ada@example.org,,criteria/vision.md,physics.optic,,,", "categories", "did you mean physics.optics?"),
    (
        "ada@example.org,,criteria/vision.md,,Mars/Olympus,,",
        "timezone",
        "'Mars/Olympus' is not an IANA time zone",
    ),
    ("ada@example.org,,criteria/vision.md,,,7am,", "send_at", "'7am' must be a local time as HH:MM"),
    ("ada@example.org,,criteria/vision.md,,,25:00,", "send_at", "must be a local time as HH:MM"),
]


@pytest.mark.parametrize(("row", "column", "message"), BAD_ROWS)
def test_a_bad_row_is_reported_with_line_column_and_value(
    folder: Path, row: str, column: str, message: str
) -> None:
    path = write(folder, HEADER + "ok@example.org,,criteria/vision.md,,,,\n" + row + "\n")
    roster = load_roster(path, settings_for(path))
    assert [s.email for s in roster.subscribers] == ["ok@example.org"]  # the valid row is still served
    (problem,) = roster.problems
    assert (problem.line, problem.column) == (3, column)
    assert str(problem).startswith(f"subscribers.csv line 3, column {column}:")
    assert message in str(problem)


def test_duplicates_are_case_insensitive(folder: Path) -> None:
    path = write(
        folder, HEADER + "Ada@Example.org,,criteria/vision.md,,,,\nada@example.org,,criteria/vision.md,,,,\n"
    )
    roster = load_roster(path, settings_for(path))
    assert len(roster.subscribers) == 1
    assert str(roster.problems[0]) == (
        "subscribers.csv line 3, column email: 'ada@example.org'"
        " duplicates line 2 (addresses are case-insensitive)"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "criteria file is empty"),
        (b"  \n\n", "criteria file is empty"),
        (b"caf\xe9 latin-1", "criteria file is not UTF-8 text"),
        (b"x" * (64 * 1024 + 1), "over the 65536-byte cap"),
    ],
)
def test_bad_criteria_files(folder: Path, content: bytes, message: str) -> None:
    (folder / "criteria" / "bad.md").write_bytes(content)
    path = write(folder, HEADER + "ada@example.org,,criteria/bad.md,,,,\n")
    (problem,) = load_roster(path, settings_for(path)).problems
    assert problem.column == "criteria"
    assert message in str(problem)


def test_a_missing_header_column_or_file_is_one_clear_error(folder: Path) -> None:
    path = write(folder, "address,criteria\nada@example.org,criteria/vision.md\n")
    with pytest.raises(RosterError, match=r"header row lacks the column\(s\) email"):
        load_roster(path, settings_for(path))
    with pytest.raises(RosterError, match=r"roster not found: .*nope\.csv .*NEWSLETTER_SUBSCRIBERS"):
        load_roster(folder / "nope.csv", settings_for(folder / "nope.csv"))
    bad = write(folder, "", raw=HEADER.encode() + b"\xff\xfe,,\n")
    with pytest.raises(RosterError, match="not UTF-8 text"):
        load_roster(bad, settings_for(bad))


def test_add_appends_one_line_and_keeps_the_rest_byte_for_byte(folder: Path) -> None:
    original = (
        "\ufeff" + HEADER.replace("\n", "\r\n") + "ada@example.org,Ada,criteria/vision.md,,,,\r\n"
    ).encode()
    path = write(folder, "", raw=original)
    added = add_row(
        path,
        {"email": "bob@example.org", "criteria": "criteria/vision.md", "timezone": "Asia/Tokyo"},
        settings_for(path),
    )
    assert added.row == 3 and added.timezone == "Asia/Tokyo"
    data = path.read_bytes()
    assert data.startswith(original)
    assert data[len(original) :] == b"bob@example.org,,criteria/vision.md,,Asia/Tokyo,,\r\n"


def test_add_adds_a_missing_column(folder: Path) -> None:
    path = write(folder, "email,criteria\nada@example.org,criteria/vision.md\n")
    add_row(
        path,
        {"email": "bob@example.org", "criteria": "criteria/vision.md", "authors": "A. Turing"},
        settings_for(path),
    )
    assert path.read_text().splitlines() == [
        "email,criteria,authors",
        "ada@example.org,criteria/vision.md,",
        "bob@example.org,criteria/vision.md,A. Turing",
    ]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"email": "ADA@example.org", "criteria": "criteria/vision.md"}, "duplicates line 2"),
        ({"email": "bob@", "criteria": "criteria/vision.md"}, "^EMAIL: 'bob@' "),
        ({"email": "bob@example.org", "criteria": "criteria/nope.md"}, "criteria file not found"),
        (
            {"email": "bob@example.org", "criteria": "criteria/vision.md", "timezone": "Berlin"},
            "^--timezone: 'Berlin' is not an IANA time zone",
        ),
        (
            {"email": "bob@example.org", "criteria": "criteria/vision.md", "send_at": "7:5"},
            "^--send-at: '7:5' ",
        ),
        (
            {"email": "bob@example.org", "criteria": "criteria/vision.md", "categories": "cs.Nope,xx"},
            "^--categories: 'cs.Nope,xx' ",
        ),
    ],
)
def test_a_failed_add_leaves_the_file_as_it_was(folder: Path, values: dict[str, str], message: str) -> None:
    original = (HEADER + "ada@example.org,,criteria/vision.md,,,,\n").encode()
    path = write(folder, "", raw=original)
    with pytest.raises(RosterError, match=message):
        add_row(path, values, settings_for(path))
    assert path.read_bytes() == original
    assert [p.name for p in folder.iterdir() if p.name.startswith(".subscribers")] == []  # no temp left


def test_remove_keeps_every_other_line(folder: Path) -> None:
    text = (
        HEADER
        + "ada@example.org,,criteria/vision.md,,,,\n# note,,,,,,\nBOB@example.org,,criteria/vision.md,,,,\n"
    )
    path = write(folder, text)
    assert remove_rows(path, "bob@EXAMPLE.org") == 1
    assert path.read_text() == HEADER + "ada@example.org,,criteria/vision.md,,,,\n# note,,,,,,\n"
    assert remove_rows(path, "nobody@example.org") == 0


# --- through the command line --------------------------------------------------------------------

runner = CliRunner()


def cli(folder: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(
        app, list(args), env={"NEWSLETTER_SUBSCRIBERS": str(folder / "subscribers.csv"), "COLUMNS": "200"}
    )
    return result.exit_code, result.output


def test_check_reports_every_problem_at_once(folder: Path) -> None:
    write(
        folder,
        HEADER + "ok@example.org,,criteria/vision.md,,,,\n"
        "bad,,criteria/vision.md,,Nowhere/Land,,\n"
        "x@example.org,,criteria/none.md,,,9am,\n",
    )
    code, output = cli(folder, "subscribers", "check")
    assert code == 1
    lines = output.splitlines()
    assert lines[0].startswith("subscribers.csv line 3, column email: 'bad' is not a valid address")
    assert lines[1] == (
        "subscribers.csv line 3, column timezone: 'Nowhere/Land' is not an IANA time zone"
        " (e.g. Europe/Berlin)"
    )
    assert lines[2].startswith(
        "subscribers.csv line 4, column criteria: 'criteria/none.md' criteria file not found"
    )
    assert (
        lines[3] == "subscribers.csv line 4, column send_at: '9am' must be a local time as HH:MM (e.g. 07:00)"
    )
    assert "4 problem(s)" in lines[4] and "1 valid subscriber(s)" in lines[4]


def test_add_list_remove_through_the_cli(folder: Path) -> None:
    write(folder, HEADER)
    code, output = cli(
        folder,
        "subscribers",
        "add",
        "ada@example.org",
        "--criteria",
        str(folder / "criteria" / "vision.md"),
        "--timezone",
        "Europe/Berlin",
        "--categories",
        "cs.CV,cs.LG",
        "--send-at",
        "06:45",
        "--name",
        "Ada",
    )
    assert (code, output.strip()) == (0, f"Added ada@example.org to {folder / 'subscribers.csv'} (line 2).")
    assert "criteria/vision.md" in (folder / "subscribers.csv").read_text()  # stored relative
    code, output = cli(folder, "subscribers", "list", "--json")
    assert code == 0
    assert '"status": "active"' in output and '"send_at": "06:45"' in output
    code, output = cli(
        folder, "subscribers", "add", "ada@example.org", "--criteria", str(folder / "criteria" / "vision.md")
    )
    assert code == 1
    assert output.strip() == (
        "error: EMAIL: 'ada@example.org' duplicates line 2 (addresses are case-insensitive)"
    )
    code, output = cli(folder, "subscribers", "add", "bob@example.org", "--criteria", "nope.md")
    assert code == 1
    assert output.strip() == f"error: criteria file not found: nope.md (nor in the roster's folder {folder})"
    code, output = cli(folder, "subscribers", "remove", "ada@example.org")
    assert code == 0
    assert (folder / "subscribers.csv").read_text() == HEADER


def test_a_criteria_path_as_the_roster_names_it_is_found_from_any_working_folder(
    folder: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In the container the working folder is /app and the roster is /config/subscribers.csv: the
    documented `subscribers add EMAIL --criteria criteria/me.md` means the file beside the roster."""
    write(folder, HEADER)
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    code, output = cli(folder, "subscribers", "add", "ada@example.org", "--criteria", "criteria/vision.md")
    assert (code, output.strip()) == (0, f"Added ada@example.org to {folder / 'subscribers.csv'} (line 2).")
    assert (folder / "subscribers.csv").read_text() == HEADER + "ada@example.org,,criteria/vision.md,,,,\n"


def test_resubscribing_someone_still_on_the_roster_keeps_their_row(folder: Path) -> None:
    """Leaving never changes the CSV, so the advice `add --resubscribe` must work with the row there."""
    from newsletter.cli.common import open_db
    from newsletter.db import subscribers as subscriber_store

    original = HEADER + "ada@example.org,Ada,criteria/vision.md,cs.CV,Europe/Berlin,06:30,\n"
    path = write(folder, original)
    db = open_db(settings_for(path))
    subscriber_store.suppress(db, "ada@example.org", "reply", dt.datetime(2026, 1, 5, tzinfo=dt.UTC))
    args = ("subscribers", "add", "Ada@example.org", "--criteria", "criteria/vision.md")
    code, output = cli(folder, *args)
    assert (code, output.strip()) == (
        1, "error: Ada@example.org unsubscribed earlier; add --resubscribe if they asked to come back"
    )
    code, output = cli(folder, *args, "--resubscribe")
    assert code == 0, output
    assert output.strip().startswith(f"Resubscribed ada@example.org: their row on line 2 of {path} is kept")
    assert path.read_text() == original
    assert not subscriber_store.is_suppressed(db, "ada@example.org")


def test_a_bad_category_shows_its_value_once(folder: Path) -> None:
    path = write(folder, HEADER + "ada@example.org,,criteria/vision.md,cs.XX,,,\n"
                 "bob@example.org,,criteria/vision.md,cs.CV;cs.XX,,,\n")
    first, second = (str(p) for p in load_roster(path, settings_for(path)).problems)
    assert first == (
        "subscribers.csv line 2, column categories: 'cs.XX' is not an arXiv category"
        " (e.g. cs.CV, math.AG, hep-th)"
    )
    assert second.startswith("subscribers.csv line 3, column categories: 'cs.CV;cs.XX' 'cs.XX' is not")


def test_a_criteria_file_outside_the_roster_folder_is_refused(
    folder: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "taste.md"
    elsewhere.write_text((folder / "criteria" / "vision.md").read_text())
    code, output = cli(folder, "subscribers", "add", "ada@example.org", "--criteria", str(elsewhere))
    reason = f"criteria file {elsewhere} is outside the roster's folder {folder.resolve()}: copy it there"
    assert (code, output.strip()) == (1, f"error: {reason}")
    assert not (folder / "subscribers.csv").exists() or "ada@" not in (folder / "subscribers.csv").read_text()


def test_the_list_keeps_long_values_whole_when_piped(folder: Path) -> None:
    write(folder, HEADER + "a.very.long.address.for.a.reader@subdomain.example.org,Ada,criteria/vision.md,"
          "cs.CV;cs.LG;cs.AI;cs.RO,America/Argentina/Buenos_Aires,06:45,\n")
    result = runner.invoke(app, ["subscribers", "list"],
                           env={"NEWSLETTER_SUBSCRIBERS": str(folder / "subscribers.csv"), "COLUMNS": "60"})
    assert result.exit_code == 0
    row = next(line for line in result.output.splitlines() if "@" in line)
    for value in ("a.very.long.address.for.a.reader@subdomain.example.org", "cs.CV,cs.LG,cs.AI,cs.RO",
                  "America/Argentina/Buenos_Aires", "06:45"):
        assert value in row


def test_the_list_says_which_rows_it_cannot_show(folder: Path) -> None:
    """A row with a typo is not silently missing from the list: stderr names it; stdout stays JSON."""
    write(folder, HEADER + "ada@example.org,Ada,criteria/vision.md,cs.CV,Europe/Berlin,07:00,\n"
          "grace@example.org,Grace,criteria/vision.md,cs.CV,America/Los_Angles,07:00,\n")
    env = {"NEWSLETTER_SUBSCRIBERS": str(folder / "subscribers.csv"), "COLUMNS": "300"}
    result = runner.invoke(app, ["subscribers", "list", "--json"], env=env)
    assert result.exit_code == 0
    assert [row["email"] for row in json.loads(result.stdout)] == ["ada@example.org"]
    assert "not listed: " in result.stderr and "line 3, column timezone" in result.stderr


def test_a_folder_that_cannot_be_written_is_one_line(folder: Path) -> None:
    (folder / "blocker").write_text("a file, not a folder")
    result = runner.invoke(app, ["subscribers", "add", "ada@example.org", "--criteria",
                                 str(folder / "criteria" / "vision.md")],
                           env={"NEWSLETTER_SUBSCRIBERS": str(folder / "blocker" / "subscribers.csv")})
    assert result.exit_code == 1
    assert result.output.startswith("error: ") and len(result.output.strip().splitlines()) == 1
    assert "blocker" in result.output and "Traceback" not in result.output


def test_a_roster_folder_that_does_not_exist_is_named_as_such(folder: Path) -> None:
    roster = folder / "nowhere" / "subscribers.csv"
    result = runner.invoke(app, ["subscribers", "add", "ada@example.org", "--criteria",
                                 str(folder / "criteria" / "vision.md")],
                           env={"NEWSLETTER_SUBSCRIBERS": str(roster)})
    assert (result.exit_code, result.output.strip()) == (
        1, f"error: the roster's folder {roster.parent} does not exist (NEWSLETTER_SUBSCRIBERS={roster})"
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("NEWSLETTER_CATEGORIES", "CV", "NEWSLETTER_CATEGORIES: 'CV' is not an arXiv category"),
        ("NEWSLETTER_PUBLIC_URL", "digest.example.org",
         "NEWSLETTER_PUBLIC_URL: 'digest.example.org' is not an http(s) address"),
        ("NEWSLETTER_REPLY_DOMAIN", "bad domain",
         "NEWSLETTER_REPLY_DOMAIN: 'bad domain' is not a"),
        ("NEWSLETTER_FROM_EMAIL", "nobody", "NEWSLETTER_FROM_EMAIL: 'nobody' is not an email"),
        ("NEWSLETTER_ADMIN_EMAIL", "admin", "NEWSLETTER_ADMIN_EMAIL: 'admin' is not an email"),
        ("NEWSLETTER_SEND_AT", "07:00:30",
         "NEWSLETTER_SEND_AT: '07:00:30' must be a local time as HH:MM (e.g. 07:00)"),
    ],
)
def test_addresses_and_categories_in_settings_are_checked(
    folder: Path, variable: str, value: str, message: str
) -> None:
    write(folder, HEADER)
    result = runner.invoke(app, ["subscribers", "list"],
                           env={"NEWSLETTER_SUBSCRIBERS": str(folder / "subscribers.csv"), variable: value})
    assert result.exit_code == 1
    assert result.output.startswith(f"error: {message}"), result.output


def test_settings_take_private_hosts_idn_and_padded_values() -> None:
    settings = Settings(admin_email=" admin@lab.local ", from_email="digest@mailhost",
                        reply_domain="bücher.example.", public_url="https://example.org/digest/ ",
                        categories=" cs.CV; math.AG ", send_at="6:45")
    assert settings.send_at == dt.time(6, 45)
    assert settings.admin_email == "admin@lab.local"
    assert settings.from_email == "digest@mailhost"
    assert settings.reply_domain == "xn--bcher-kva.example"  # the form mail headers need
    assert settings.public_url == "https://example.org/digest"
    assert settings.default_categories == ("cs.CV", "math.AG")
    with pytest.raises(ValidationError):
        Settings(admin_email="a@b@localhost")


def test_a_bad_setting_names_the_variable(folder: Path) -> None:
    result = runner.invoke(
        app, ["subscribers", "list"], env={"NEWSLETTER_PORT": "eighty", "NEWSLETTER_TIMEZONE": "Mars/Base"}
    )
    assert result.exit_code == 1
    assert result.output.startswith("error: NEWSLETTER_PORT: Input should be a valid integer")
    assert "NEWSLETTER_TIMEZONE: unknown IANA time zone 'Mars/Base'" in result.output
    assert result.output.count("Mars/Base") == 1  # a value the message names is not repeated
    assert "(got 'eighty')" in result.output  # pydantic's own message does not name it


def test_feedback_prints_what_readers_wrote_without_terminal_escape_codes(folder: Path) -> None:
    from newsletter.db import Database
    from newsletter.readers.feedback import record_feedback

    write(folder, HEADER)
    db = Database.open(folder / "var" / "state.db")
    record_feedback(db, email="dave@example.org", subject="thoughts \x1b[5mblink",
                    body="More robotics\x1b[2J\x1b]8;;https://evil.example\x07 please",
                    now=dt.datetime(2025, 8, 28, tzinfo=dt.UTC))
    db.close()
    result = runner.invoke(app, ["feedback"], env={"NEWSLETTER_SUBSCRIBERS": str(folder / "subscribers.csv"),
                                                   "NEWSLETTER_DATA_DIR": str(folder / "var")})
    assert result.exit_code == 0
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "dave@example.org: thoughts [5mblink" in result.output
    assert "More robotics[2J]8;;https://evil.example please" in result.output


def test_check_names_columns_the_roster_does_not_read(folder: Path) -> None:
    """A misspelt override or a reader's own setting in the CSV is said, not silently ignored."""
    write(folder, "email,criteria,max_paper,Frequency,min_novelty\n"
                  "ok@example.org,criteria/vision.md,5,weekly,2\n")
    code, output = cli(folder, "subscribers", "check")
    said = " ".join(output.split())
    assert code == 0 and "1 subscriber(s), no problems" in said
    assert "note: subscribers.csv column(s) 'max_paper', 'Frequency' are not read" in said
    assert "min_novelty'" not in said
    write(folder, HEADER + "ok@example.org,,criteria/vision.md,,,,\n")
    assert "note:" not in cli(folder, "subscribers", "check")[1]
