"""A reader's own settings reach the daily cycle: the next digest follows them, and every digest's
footer links to the settings page (both parts) unless NEWSLETTER_SELF_SERVICE is off."""

from __future__ import annotations

import datetime as dt
import email
from email import policy
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from newsletter.db import Database
from newsletter.db import preferences as store
from newsletter.settings import load_settings
from newsletter.web.app import create_app
from tests.daily.test_run import DAY, outbox, run
from tests.daily.test_run import site as site  # the fixture: three readers, loopback arXiv

ADA = "ada@example.org"


def parts(site: Path, address: str) -> tuple[str, str]:
    message = email.message_from_bytes(outbox(site)[address].read_bytes(), policy=policy.default)
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    return text, message.get_body(("html",)).get_content()


def test_the_next_digest_follows_the_readers_settings_and_links_to_them(site: Path) -> None:
    db = Database.open(load_settings().db_path)
    store.change(db, ADA, {"max_papers": "1", "min_relevance": "1"}, now=dt.datetime.now(dt.UTC),
                 expected_revision=0)
    code, output = run("--date", DAY)
    assert code == 0, output
    text, html = parts(site, ADA)
    assert "Total relevant papers: 1\n" in text
    line = next(x for x in text.splitlines() if x.startswith("Your settings"))
    url = line.rsplit(" ", 1)[1]
    assert line.startswith("Your settings (pause, weekly digests, send time, criteria) and past digests: "
                           "https://digest.example.org/preferences/")
    assert f'href="{url}"' in html and "your settings page" in html
    with TestClient(create_app(load_settings(), db), base_url="https://digest.example.org") as client:
        page = client.get(url.removeprefix("https://digest.example.org"))
    assert page.status_code == 200 and "Max papers per digest" in page.text


def test_no_settings_link_when_self_service_is_off(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_SELF_SERVICE", "false")
    code, output = run("--date", DAY)
    assert code == 0, output
    for address in outbox(site):
        text, html = parts(site, address)
        assert "/preferences/" not in text and "/preferences/" not in html
