"""Sign-up in a real browser (Debian's Chromium through Playwright) at a phone's and a desktop's
width, in each mode: open (form, "check your inbox", the link from the outbox file, the button,
the reader in the roster with a criteria file), approve (the same, then `subscribers approve`)
and off (404). Nothing may scroll sideways at 375 px."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect
from typer.testing import CliRunner

from newsletter.cli.app import app as cli_app
from newsletter.db import Database
from newsletter.readers.roster import load_roster
from newsletter.settings import Settings
from tests.fakes.browser import WIDTHS, artifact, served
from tests.web.signup_flow import Clock, app_for, confirmation_link, site

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser
CRITERIA = "1. Image matting and segmentation with diffusion models.\n2. Not: medical imaging."


def _no_sideways_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def _sign_up(page: Page, base: str, address: str, width: int, shot: str) -> None:
    page.goto(base + "/signup")
    _no_sideways_scroll(page)
    page.get_by_label("Your email address").fill(address)
    page.get_by_label("arXiv categories").fill("cs.CV, cs.XY")
    page.get_by_label("What you want to read").fill(CRITERIA)
    page.get_by_role("button", name="Sign up").click()
    assert "'cs.XY' is not an arXiv category" in page.locator("#categories-error").inner_text()
    _no_sideways_scroll(page)
    page.screenshot(path=str(artifact(f"signup-{shot}-form-{width}.png")), full_page=True)
    page.get_by_label("arXiv categories").fill("cs.CV, cs.LG")
    page.get_by_role("button", name="Sign up").focus()
    page.keyboard.press("Enter")  # usable without a mouse
    expect(page.locator("h1")).to_have_text("Check your inbox")
    _no_sideways_scroll(page)
    page.screenshot(path=str(artifact(f"signup-{shot}-{width}.png")), full_page=True)


def _confirm(page: Page, base: str, settings: Settings, address: str, answer: str) -> None:
    link = confirmation_link(settings, address)
    page.goto(base + link[link.index("/signup/confirm/"):])
    expect(page.locator("h1")).to_have_text("Confirm your sign-up")
    _no_sideways_scroll(page)
    page.get_by_role("button", name="Confirm my sign-up").click()
    expect(page.locator("h1")).to_have_text(answer)
    _no_sideways_scroll(page)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    return site(tmp_path, monkeypatch, "open")


def test_sign_up_in_open_mode_adds_the_reader(chromium: Browser, settings: Settings) -> None:
    db = Database.open(settings.db_path)
    with served(app_for(settings, db, Clock())) as base:
        for width in WIDTHS:
            address = f"reader{width}@example.org"
            page = chromium.new_page(viewport={"width": width, "height": 800})
            _sign_up(page, base, address, width, "open")
            _confirm(page, base, settings, address, "You are subscribed")
            page.screenshot(path=str(artifact(f"signup-open-confirmed-{width}.png")), full_page=True)
            page.close()
            reader = load_roster(settings.subscribers, settings).find(address)
            assert reader is not None and reader.criteria == CRITERIA
            assert reader.criteria_path.parent == settings.subscribers.parent / "criteria"


def test_sign_up_in_approve_mode_waits_for_the_admin(chromium: Browser, settings: Settings) -> None:
    approve = settings.model_copy(update={"signup": "approve"})
    db = Database.open(approve.db_path)
    with served(app_for(approve, db, Clock())) as base:
        for width in WIDTHS:
            address = f"reader{width}@example.org"
            page = chromium.new_page(viewport={"width": width, "height": 800})
            _sign_up(page, base, address, width, "approve")
            _confirm(page, base, approve, address, "Thank you")
            page.close()
            assert load_roster(approve.subscribers, approve).find(address) is None
            result = CliRunner().invoke(cli_app, ["subscribers", "approve", address], env={"COLUMNS": "200"})
            assert result.exit_code == 0, result.output
            assert load_roster(approve.subscribers, approve).find(address) is not None


def test_sign_up_off_is_not_found(chromium: Browser, settings: Settings) -> None:
    off = settings.model_copy(update={"signup": "off"})
    with served(app_for(off, Database.open(off.db_path), Clock())) as base:
        for width in WIDTHS:
            page = chromium.new_page(viewport={"width": width, "height": 800})
            response = page.goto(base + "/signup")
            assert response is not None and response.status == 404
            page.close()
