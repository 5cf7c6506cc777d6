"""`newsletter run` through SendGrid end to end: the real arXiv and SendGrid clients against fakes."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter.cli.app import app
from newsletter.db import Database, deliveries
from tests.conftest import make_site
from tests.fakes.arxiv_server import FakeArxiv
from tests.fakes.sendgrid_server import FakeSendGrid

runner = CliRunner()
DAY = "2025-08-28"
READERS = [
    ("ada@example.org", "generation-segmentation-matting.md", "cs.CV"),
    ("grace@example.org", "spatial-intelligence-embodied.md", "cs.AI;cs.CV"),
    ("alan@example.org", "vision-language-seven-topics.md", "cs.AI;cs.CV"),
]


@pytest.fixture
def site(tmp_path: Path, fake_arxiv: FakeArxiv, fake_sendgrid: FakeSendGrid,
         monkeypatch: pytest.MonkeyPatch) -> Path:
    rows = [f"{a},,criteria/{c},{cats},UTC,07:00," for a, c, cats in READERS]
    return make_site(tmp_path, monkeypatch, rows, ARXIV_FEED_URL=fake_arxiv.feed_url,
                     ARXIV_API_URL=fake_arxiv.api_url, PUBLIC_URL="https://digest.example.org",
                     REPLY_DOMAIN="reply.example.org", FROM_EMAIL="digest@example.org",
                     SENDGRID_API_KEY=fake_sendgrid.api_key, SENDGRID_HOST=fake_sendgrid.url,
                     HTTP_TIMEOUT="1")


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["run", "--date", DAY, *args], env={"COLUMNS": "200"})
    return result.exit_code, result.output


def counts(fake: FakeSendGrid) -> dict[str, int]:
    return {address: fake.sent_to(address) for address, *_ in READERS}


def test_a_run_sends_each_reader_one_message_through_sendgrid(
    site: Path, fake_sendgrid: FakeSendGrid
) -> None:
    code, output = run()
    assert code == 0, output
    assert counts(fake_sendgrid) == {address: 1 for address, *_ in READERS}
    request = fake_sendgrid.accepted[0]
    token_reply = request.body["reply_to"]["email"]  # type: ignore[index]
    assert token_reply.startswith("u-")
    assert token_reply.endswith("@reply.example.org")
    assert request.header("List-Unsubscribe").startswith("<https://digest.example.org/unsubscribe/")  # type: ignore[union-attr]
    code, output = run()
    assert code == 0, output
    assert counts(fake_sendgrid) == {address: 1 for address, *_ in READERS}


@pytest.mark.slow
def test_a_hung_send_is_unknown_and_only_the_admin_resends_it(
    site: Path, fake_sendgrid: FakeSendGrid
) -> None:
    fake_sendgrid.hang_seconds = 4
    fake_sendgrid.script("hang")
    code, output = run()
    assert code != 0
    assert "status unknown" in output
    db = Database.open(site / "var" / "state.db")
    (hung,) = [d.email for d in deliveries.with_status(db, "unknown")]
    db.close()
    assert f"failed: {hung}: status unknown" in output
    assert all(n == 1 for n in counts(fake_sendgrid).values())  # SendGrid took all three, once each

    code, output = run()  # a plain rerun leaves the unknown one alone
    assert all(n == 1 for n in counts(fake_sendgrid).values())

    code, output = run("--resend-unknown")
    assert code == 0, output
    assert fake_sendgrid.sent_to(hung) == 2  # exactly one more, on the admin's word
    code, output = run("--resend-unknown")
    assert fake_sendgrid.sent_to(hung) == 2
    assert sum(counts(fake_sendgrid).values()) == 4


def test_resend_unknown_with_only_releases_only_the_named_reader(
    site: Path, fake_sendgrid: FakeSendGrid
) -> None:
    run()
    db = Database.open(site / "var" / "state.db")
    with db.tx() as conn:  # as a run killed mid-send leaves them (each was in fact sent)
        conn.execute("UPDATE deliveries SET status='unknown'")
    db.close()
    _, output = run("--only", "ADA@example.org", "--resend-unknown")
    assert "Released for resending: ada@example.org" in output
    assert "2 digest(s) of earlier runs are 'unknown'" in output
    assert counts(fake_sendgrid) == {"ada@example.org": 2, "grace@example.org": 1, "alan@example.org": 1}
    run()  # the next plain run (cron) must not send the other two again
    assert counts(fake_sendgrid) == {"ada@example.org": 2, "grace@example.org": 1, "alan@example.org": 1}


def test_a_rejected_key_stops_the_run_with_a_clear_reason(
    site: Path, fake_sendgrid: FakeSendGrid, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENDGRID_API_KEY", "SG.revoked.key")
    code, output = run()
    assert code != 0
    assert "SENDGRID_API_KEY was rejected" in output
    assert "SG.revoked.key" not in output
    assert len(fake_sendgrid.requests) == 1
    monkeypatch.setenv("SENDGRID_API_KEY", fake_sendgrid.api_key)
    code, output = run()
    assert code == 0, output
    assert counts(fake_sendgrid) == {address: 1 for address, *_ in READERS}
