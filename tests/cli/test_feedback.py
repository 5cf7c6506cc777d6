"""`newsletter feedback add`, `newsletter feedback` (replies and votes) and `subscribers show`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter.cli.app import app
from newsletter.db import Database, deliveries
from newsletter.db import votes as vote_store
from newsletter.readers.feedback import record_feedback
from newsletter.settings import load_settings
from tests.conftest import make_site

ADA = "ada@example.org"
SENT = dt.datetime(2025, 8, 28, 7, 0, tzinfo=dt.UTC)
runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Database:
    row = f"{ADA},Ada,criteria/generation-segmentation-matting.md,cs.CV,UTC,07:00,"
    make_site(tmp_path, monkeypatch, [row])
    database = Database.open(load_settings().db_path)
    deliveries.begin(database, ADA, SENT.date(), paper_ids=("2508.20020", "2508.00002"), message_id="<m>",
                     now=SENT)
    deliveries.mark_sent(database, ADA, SENT.date(), provider_id=None, now=SENT)
    return database


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_feedback_add_records_a_vote_like_a_click_and_is_idempotent(db: Database) -> None:
    assert invoke("feedback", "add", ADA, "arXiv:2508.20020v2", "up") \
        == (0, f"Recorded up on 2508.20020 for {ADA}.\n")
    vote = vote_store.get(db, ADA, "2508.20020")
    assert vote is not None and (vote.vote, vote.source, vote.digest_date) == ("up", "admin", SENT.date())
    _, again = invoke("feedback", "add", ADA, "https://arxiv.org/abs/2508.20020", "up")
    assert again.startswith("Already recorded")
    assert invoke("feedback", "add", ADA.upper(), "2508.20020", "down")[1].startswith("Changed to down")
    assert len(vote_store.select(db)) == 1


@pytest.mark.parametrize(("args", "message"), [
    ((ADA, "2508.99999", "up"), "2508.99999 was never in a digest sent to ada@example.org"),
    (("bob@example.org", "2508.20020", "up"), "was never in a digest sent to bob@example.org"),
    ((ADA, "not-an-id", "up"), "'not-an-id' is not an arXiv id"),
    ((ADA, "2508.20020", "sideways"), "the vote is 'up' or 'down', not 'sideways'"),
])
def test_feedback_add_refuses_bad_input_and_records_nothing(
    db: Database, args: tuple[str, str, str], message: str
) -> None:
    code, output = invoke("feedback", "add", *args)
    assert code == 1 and message in " ".join(output.split())
    assert vote_store.select(db) == []


def test_feedback_lists_replies_and_votes(db: Database) -> None:
    code, output = invoke("feedback")
    assert code == 0 and "No feedback yet." in output
    record_feedback(db, email=ADA, subject="Re: digest", body="More matting please", now=SENT)
    invoke("feedback", "add", ADA, "2508.00002", "down")
    code, output = invoke("feedback", "--limit", "5")
    assert code == 0
    assert "More matting please" in output
    assert "Votes" in output and f"{ADA} down 2508.00002 (admin, digest 2025-08-28)" in output


def test_subscribers_show_says_what_is_known(db: Database) -> None:
    invoke("feedback", "add", ADA, "2508.20020", "up")
    invoke("feedback", "add", ADA, "2508.00002", "down")
    code, output = invoke("subscribers", "show", ADA)
    assert code == 0, output
    assert f"{ADA} (Ada): active; last digest: 2025-08-28 sent" in output
    assert "From the roster: criteria " in output
    assert "generation-segmentation-matting.md; categories cs.CV;" in output
    assert "Votes: 2 (1 up, 1 down); seed papers: 0" in output
    assert "up   2508.20020" in output and "down 2508.00002" in output
    code, output = invoke("subscribers", "show", "nobody@example.org")
    assert code == 1 and "nobody@example.org is not in" in output
