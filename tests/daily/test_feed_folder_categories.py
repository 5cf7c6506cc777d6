"""A folder feed (NEWSLETTER_ARXIV_FEED_URL naming a folder of saved feed files) that lacks one
reader's category: the other readers are served, that reader is named with the category, and
nothing is stored for them."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter.cli.app import app
from newsletter.db import Database
from newsletter.db import deliveries as delivery_store
from tests.conftest import make_site

runner = CliRunner()
DAY = "2025-08-28"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "arxiv"
READERS = [
    "ada@example.org,,criteria/generation-segmentation-matting.md,cs.CV,Europe/Berlin,07:00,",
    "grace@example.org,,criteria/spatial-intelligence-embodied.md,cs.AI;cs.CV,America/Los_Angeles,07:00,",
]


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The Quickstart's folder feed (files `cs.AI+cs.CV` and `cs.CV`), two readers it covers."""
    folder = tmp_path / "feeds"
    shutil.copytree(EXAMPLES, folder)
    return make_site(tmp_path, monkeypatch, READERS, ARXIV_FEED_URL=str(folder),
                     ARXIV_API_URL="http://127.0.0.1:9/never", PUBLIC_URL="https://digest.example.org")


def cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_a_reader_with_a_category_the_folder_lacks_does_not_stop_the_others(site: Path) -> None:
    """A reader added with cs.LG (as sign-up adds one: both through `enrol.add_reader`) is warned
    about when added and reported by address with the category in the run;
    the readers the folder covers get their digests; the missing reader has no delivery row, so
    a later run (once the folder holds the category) still serves them."""
    code, output = cli("subscribers", "add", "lin@example.org", "--criteria",
                       "criteria/vision-language-seven-topics.md", "--categories", "cs.CV,cs.LG")
    assert code == 0, output
    assert "WARNING" in output and "line 4 of " in output and "has cs.LG, which the feed folder" in output
    code, output = cli("run", "--date", DAY)
    flat = " ".join(output.split())
    assert code == 1, output
    assert "failed: lin@example.org: " in flat and "cs.LG" in flat, output
    db = Database.open(site / "var" / "state.db")
    rows = delivery_store.for_date(db, dt.date(2025, 8, 28))
    assert set(rows) == {"ada@example.org", "grace@example.org"}
    assert {row.status for row in rows.values()} <= {"sent", "empty"}
    with db.tx() as conn:  # nothing composed for them either
        composed = conn.execute("SELECT count(*) FROM feed_entries WHERE email='lin@example.org'")
        assert composed.fetchone()[0] == 0
    # with no delivery row, `subscribers show` says what the run said (grace: nothing failed)
    code, shown = cli("subscribers", "show", "lin@example.org")
    assert code == 0 and "last digest: none yet" in shown, shown
    said = f"The last run ({DAY}) failed this reader: not served: the feed read for"
    assert said in " ".join(shown.split())
    assert "The last run" not in cli("subscribers", "show", "grace@example.org")[1]

    # The folder gains a file with cs.LG (here: the same papers saved under that name): served now.
    shutil.copy(site / "feeds" / "cs.AI+cs.CV", site / "feeds" / "cs.AI+cs.CV+cs.LG")
    code, output = cli("run", "--date", DAY)
    assert code == 0, output
    assert "1 due" in output, output
    assert delivery_store.for_date(db, dt.date(2025, 8, 28))["lin@example.org"].status in {"sent", "empty"}
