"""`newsletter subscribers pending|approve|decline`: their exact output, and that `approve` adds
the reader as `subscribers add` does (row, criteria file, seed likes) and mails a welcome."""

from __future__ import annotations

import datetime as dt
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter.cli.app import app
from newsletter.db import Database
from newsletter.db import signups as store
from newsletter.db import subscribers as subs
from newsletter.db import votes as vote_store
from newsletter.readers import signup as rules
from newsletter.readers.roster import load_roster
from newsletter.readers.signup import SignupRequest
from newsletter.settings import Settings, load_settings
from tests.fakes.arxiv_server import FakeArxiv
from tests.web.signup_flow import site

CONFIRMED = dt.datetime(2026, 12, 7, 10, 30, tzinfo=dt.UTC)
LONG = "1. Diffusion models for segmentation and matting. " * 4


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_arxiv: FakeArxiv) -> Settings:
    return site(tmp_path, monkeypatch, "approve", arxiv_api=fake_arxiv.api_url)


def _waiting(settings: Settings, email: str, criteria: str, seeds: tuple[str, ...] = (),
             minutes: int = 0) -> None:
    db = Database.open(settings.db_path)
    now = CONFIRMED + dt.timedelta(minutes=minutes)
    _, signup = rules.admit(db, SignupRequest(email, ("cs.CV", "cs.LG"), criteria, seeds), "192.0.2.1", now)
    assert signup is not None
    store.mark(db, signup.id, "pending", now)
    db.close()


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["subscribers", *args], env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_pending_lists_each_waiting_sign_up_oldest_first(settings: Settings) -> None:
    _waiting(settings, "grace@example.org", LONG, minutes=5)
    _waiting(settings, "lin@example.org", "", ("2508.20020", "2507.09082"))
    code, output = _run("pending")
    assert code == 0
    assert output == (
        "2 sign-up(s) waiting for approval:\n"
        "lin@example.org (confirmed 2026-12-07 10:30 UTC)\n"
        "  categories: cs.CV,cs.LG\n"
        "  seed papers: 2508.20020, 2507.09082\n"
        "  criteria: (from the seed papers' titles)\n"
        "grace@example.org (confirmed 2026-12-07 10:35 UTC)\n"
        "  categories: cs.CV,cs.LG\n"
        "  seed papers: none\n"
        f"  criteria: {LONG.strip()[:100]}…\n"
    )


def test_pending_with_none_waiting_says_so(settings: Settings) -> None:
    assert _run("pending") == (0, "No sign-ups are waiting for approval.\n")


def test_approve_adds_the_reader_stores_the_seeds_and_mails_a_welcome(settings: Settings) -> None:
    _waiting(settings, "lin@example.org", "", ("2508.20020", "2509.99999"))
    code, output = _run("approve", "lin@example.org")
    assert code == 0, output
    assert output == (
        f"Added lin@example.org to {settings.subscribers} (line 3),"
        " criteria in criteria/lin-example-org.md.\n"
        "Seed papers: 1 stored as lin@example.org's first likes.\n"
        "skipped seed: 2509.99999: the arXiv API does not know it\n"
        "Sent a welcome mail to lin@example.org.\n"
    )
    reader = load_roster(settings.subscribers, load_settings()).find("lin@example.org")
    assert reader is not None and reader.categories == ("cs.CV", "cs.LG")
    assert reader.criteria.startswith("Papers like these, which I liked:\n\n1. GS: Generative Segmentation")
    db = Database.open(settings.db_path)
    likes = vote_store.select(db, email="lin@example.org")
    assert [(v.arxiv_id, v.source) for v in likes] == [("2508.20020", "seed")]
    assert store.pending(db) == []
    (welcome,) = settings.outbox_dir.glob("*/lin@example.org.welcome.eml")
    message = BytesParser(policy=policy.default).parsebytes(welcome.read_bytes())
    assert message["Subject"] == "Welcome to arXiv Digest"
    assert subs.token_for(db, "lin@example.org", CONFIRMED) in message["List-Unsubscribe"]
    assert _run("pending") == (0, "No sign-ups are waiting for approval.\n")


def test_decline_drops_the_sign_up_and_mails_nothing(settings: Settings) -> None:
    _waiting(settings, "grace@example.org", "segmentation")
    before = settings.subscribers.read_bytes()
    assert _run("decline", "grace@example.org") == (
        0, "Declined the sign-up of grace@example.org; no mail was sent.\n")
    assert settings.subscribers.read_bytes() == before
    assert not settings.outbox_dir.exists() or not any(settings.outbox_dir.rglob("*.eml"))
    assert _run("pending") == (0, "No sign-ups are waiting for approval.\n")


@pytest.mark.parametrize("command", ["approve", "decline"])
def test_an_address_without_a_waiting_sign_up_is_an_error(settings: Settings, command: str) -> None:
    code, output = _run(command, "nobody@example.org")
    assert (code, " ".join(output.split())) == (
        1, "error: no sign-up of nobody@example.org is waiting for approval"
           " (see `newsletter subscribers pending`)")


def test_approve_refuses_an_address_that_unsubscribed_since(settings: Settings) -> None:
    _waiting(settings, "grace@example.org", "segmentation")
    db = Database.open(settings.db_path)
    subs.suppress(db, "grace@example.org", "reply", CONFIRMED)
    code, output = _run("approve", "grace@example.org")
    assert code == 1 and "grace@example.org unsubscribed since signing up" in " ".join(output.split())
    assert load_roster(settings.subscribers, load_settings()).find("grace@example.org") is None
    assert [s.email for s in store.pending(db)] == ["grace@example.org"]


def test_pending_says_when_the_page_no_longer_asks_for_approval(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    _waiting(settings, "grace@example.org", "segmentation")
    monkeypatch.setenv("NEWSLETTER_SIGNUP", "open")
    code, output = _run("pending")
    assert code == 0 and output.endswith(
        "  criteria: segmentation\n(NEWSLETTER_SIGNUP is open: no new ones wait for you now)\n")
