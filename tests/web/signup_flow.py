"""What the sign-up tests share: a site with the sign-up page on, its app, and the confirmation
link read back from the outbox file the confirmation mail was written to."""

from __future__ import annotations

import datetime as dt
import re
import time
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from starlette.applications import Starlette

from newsletter.db import Database
from newsletter.mail.outbox import OutboxTransport
from newsletter.settings import Settings, load_settings
from newsletter.web.app import create_app
from tests.conftest import make_site

PUBLIC = "https://digest.example.org"
START = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)
ADA_ROW = "ada@example.org,Ada,criteria/generation-segmentation-matting.md,cs.CV,,,"


class Clock:
    """The app's clock, moved by the test."""

    def __init__(self, now: dt.datetime = START) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, *, arxiv_api: str = "",
         public_url: str = PUBLIC, rows: tuple[str, ...] = (ADA_ROW,)) -> Settings:
    """A roster with Ada on it, the sign-up page in `mode`, mail to the outbox."""
    extra = {"ARXIV_API_URL": arxiv_api} if arxiv_api else {}
    make_site(tmp_path, monkeypatch, list(rows), SIGNUP=mode, PUBLIC_URL=public_url,
              SUBSCRIBERS=str(tmp_path / "subscribers.csv"), ADMIN_EMAIL="admin@example.org", **extra)
    return load_settings()


@pytest.fixture
def mail_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """No pause before the confirmation mail: TestClient runs it before it returns the answer."""
    from newsletter.web import signup as signup_web

    monkeypatch.setattr(signup_web, "MAIL_DELAY", 0.0)


def app_for(settings: Settings, db: Database, clock: Clock) -> Starlette:
    return create_app(settings, db, clock=clock, transport=OutboxTransport(settings.outbox_dir))


def confirmation_mails(settings: Settings) -> list[Path]:
    return sorted(settings.outbox_dir.glob("*/*.signup*.eml"))


def mail_text(path: Path) -> str:
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def confirmation_link(settings: Settings, address: str, *, wait: float = 5.0) -> str:
    """The link of the newest confirmation mail to `address` (the test's only one, usually). Over
    real HTTP the mail is written a moment after the page answers: wait for it up to `wait` s."""
    deadline = time.monotonic() + wait
    while True:
        paths = sorted((p for p in confirmation_mails(settings) if p.name.startswith(address + ".")),
                       key=lambda p: (len(p.name), p.name))  # x.signup.eml, x.signup-2.eml, …
        if paths or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert paths, f"no confirmation mail to {address} in {settings.outbox_dir}"
    found = re.search(r"https?://\S+/signup/confirm/\S+", mail_text(paths[-1]))
    assert found is not None
    return found.group(0)
