"""End to end: a real run mails a digest, the reader leaves by reply or button, the next run skips them."""

from __future__ import annotations

import datetime as dt
import email
import re
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from newsletter.cli.app import app as cli
from newsletter.db import Database
from newsletter.db import subscribers as subs
from newsletter.mail.outbox import OutboxTransport
from newsletter.settings import load_settings
from newsletter.web.app import create_app
from tests.conftest import make_site
from tests.fakes.arxiv_server import FakeArxiv
from tests.fakes.inbound import WEBHOOK_PASSWORD, WEBHOOK_USER, basic_auth, default_post, reply

READERS = [
    ("ada@example.org", "generation-segmentation-matting.md"),
    ("grace@example.org", "spatial-intelligence-embodied.md"),
    ("alan@example.org", "vision-language-seven-topics.md"),
]


@pytest.fixture
def site(tmp_path: Path, fake_arxiv: FakeArxiv, monkeypatch: pytest.MonkeyPatch) -> Path:
    rows = [f"{address},,criteria/{criteria},cs.AI;cs.CV,UTC,07:00," for address, criteria in READERS]
    return make_site(tmp_path, monkeypatch, rows, ARXIV_FEED_URL=fake_arxiv.feed_url,
                     ARXIV_API_URL=fake_arxiv.api_url, PUBLIC_URL="https://digest.example.org",
                     REPLY_DOMAIN="reply.example.org", FROM_EMAIL="digest@example.org",
                     WEBHOOK_USERNAME=WEBHOOK_USER, WEBHOOK_PASSWORD=WEBHOOK_PASSWORD, SEND_EMPTY="true")


def run(day: str) -> None:
    result = CliRunner().invoke(cli, ["run", "--date", day], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output


def mailed(site: Path, day: str) -> dict[str, EmailMessage]:
    folder = site / "var" / "outbox" / day
    return {p.name.removesuffix(".eml"): email.message_from_bytes(p.read_bytes(), policy=policy.default)
            for p in folder.glob("*.eml")}


def test_leaving_by_reply_and_by_button_stops_the_next_run(site: Path, fake_arxiv: FakeArxiv) -> None:
    fake_arxiv.serve_feed(dt.date(2025, 7, 15))  # each run's day as the feed shows it
    run("2025-07-15")
    first = mailed(site, "2025-07-15")
    assert set(first) == {address for address, _ in READERS}

    settings = load_settings()
    db = Database.open(settings.db_path)
    with TestClient(create_app(settings, db, transport=OutboxTransport(settings.outbox_dir))) as client:
        # Ada replies "unsubscribe" to her digest, through SendGrid Inbound Parse.
        ada_mail = first["ada@example.org"]
        answer = reply(to=str(ada_mail["Reply-To"]), sender="Ada <ada@example.org>",
                       subject="Re: " + str(ada_mail["Subject"]), text="unsubscribe")
        post = default_post(answer)
        assert client.post("/inbound", content=post.body,
                           headers={**post.headers, **basic_auth(WEBHOOK_USER, WEBHOOK_PASSWORD)}).text \
            == "ok: unsubscribed\n"
        # Grace presses her mail client's button: the List-Unsubscribe URL, POSTed per RFC 8058.
        grace_mail = first["grace@example.org"]
        match = re.search(r"<(https://[^>]+)>", str(grace_mail["List-Unsubscribe"]))
        assert match, grace_mail["List-Unsubscribe"]
        url = match.group(1)
        assert grace_mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        path = url.removeprefix("https://digest.example.org")
        assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200

    assert set(subs.suppressions(db)) == {"ada@example.org", "grace@example.org"}
    fake_arxiv.serve_feed(dt.date(2025, 8, 28))
    run("2025-08-28")  # the roster still lists both: the suppression list wins
    second = mailed(site, "2025-08-28")
    assert {name for name in second if not name.endswith(".confirmation")} == {"alan@example.org"}
    db.close()
