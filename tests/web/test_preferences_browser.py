"""A reader walks through their settings page in a real browser (Chromium), at 375 and 1280 px:
load, pause, resume, weekly, a new criteria text with its preview, a topic limit, undo; what the
page says is what the database holds. The 375 px page is kept as a screenshot (and, with
NEWSLETTER_SCREENSHOTS_TO_DOCS=1, as docs/preferences.png for the README)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import zoneinfo
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from newsletter.daily.preview import build_previewer
from newsletter.db import Database
from newsletter.db import preferences as store
from newsletter.db import subscribers as subs
from newsletter.db.papers import save_day
from newsletter.models import AnnouncementDay
from newsletter.readers.preference_links import preferences_url
from newsletter.settings import load_settings
from newsletter.web.app import create_app
from tests.conftest import make_site
from tests.daily.test_preview import day_papers
from tests.fakes.browser import WIDTHS, artifact, served

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

# Read at import: conftest's autouse fixture clears NEWSLETTER_* before every test runs.
TO_DOCS = os.environ.get("NEWSLETTER_SCREENSHOTS_TO_DOCS") == "1"
DOCS = Path(__file__).resolve().parents[2] / "docs"
ADA = "ada@example.org"
ZONE = "Europe/Berlin"
NEW_TEXT = (Path(__file__).parents[1] / "data" / "criteria" / "generation-segmentation-matting.md").read_text(
    encoding="utf-8")


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    row = f"{ADA},Ada,criteria/vision-language-seven-topics.md,cs.CV,{ZONE},07:00,"
    make_site(tmp_path, monkeypatch, [row])
    database = Database.open(load_settings().db_path)
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    save_day(database, AnnouncementDay(yesterday, ("cs.CV",), day_papers()), source="test")
    yield database
    database.close()


def own(db: Database) -> dict[str, str]:
    return {name: o.value for name, o in store.overrides(db, ADA).items()}


def save_in(page: Page, label: str, button: str = "Save") -> None:
    """Press `button` in the form holding the field labelled `label`."""
    page.locator("form", has=page.get_by_label(label)).get_by_role("button", name=button).click()


def no_overflow(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth"))


@pytest.mark.parametrize("width", WIDTHS)
def test_a_reader_changes_their_settings_in_the_browser(chromium: Browser, db: Database, width: int) -> None:
    settings = load_settings()
    app = create_app(settings, db, previewer=build_previewer(settings, db))
    now = dt.datetime.now(dt.UTC)
    today = now.astimezone(zoneinfo.ZoneInfo(ZONE)).date()
    path = preferences_url("", subs.token_for(db, ADA, now), now)
    with served(app) as base:
        page = chromium.new_page(viewport={"width": width, "height": 900})
        page.goto(base + path)
        assert page.get_by_role("heading", name="Your digest settings").is_visible()
        assert "every day at 07:00 (Europe/Berlin)" in page.inner_text("body")
        assert own(db) == {}  # opening the page changed nothing

        until = today + dt.timedelta(days=14)
        page.get_by_label("Pause until").fill(until.isoformat())
        page.get_by_role("button", name="Pause").click()
        assert page.get_by_role("status").inner_text().startswith("Saved. Pause until: ")
        assert own(db) == {"paused_until": until.isoformat()}
        page.get_by_role("button", name="Resume now").click()
        assert own(db) == {"paused_until": today.isoformat()}

        page.get_by_role("radio", name="Weekly").check()
        page.get_by_label("Day of the weekly digest").select_option("Friday")
        save_in(page, "Day of the weekly digest")
        assert f"every Friday at 07:00 ({ZONE})" in page.inner_text("body")
        assert own(db)["frequency"] == "weekly" and own(db)["weekday"] == "4"

        page.get_by_label("What you want to read").fill(NEW_TEXT)
        save_in(page, "What you want to read", "Preview")
        preview = page.get_by_role("region", name="Preview")
        assert "no LLM is asked" in preview.inner_text() and preview.locator("li").count() > 0
        assert "criteria" not in own(db)  # a preview stores nothing
        if width == WIDTHS[0]:
            assert no_overflow(page)
            shot = artifact("preferences-375.png")
            page.screenshot(path=str(shot), full_page=True)
            if TO_DOCS:
                shutil.copyfile(shot, DOCS / "preferences.png")
        save_in(page, "What you want to read", "Save text")
        assert own(db)["criteria"] == NEW_TEXT.strip("\n")

        page.get_by_label("Max papers per topic (empty: no limit)").fill("3")
        save_in(page, "Max papers per topic (empty: no limit)")
        assert own(db)["max_per_topic"] == "3"
        page.get_by_role("button", name="Undo").click()
        assert page.get_by_role("status").inner_text().startswith("Undone. Max per topic: no limit.")
        assert "max_per_topic" not in own(db) and own(db)["criteria"] == NEW_TEXT.strip("\n")
        page.keyboard.press("Tab")  # keyboard reaches the page's controls
        focused = page.evaluate("document.activeElement.tagName")
        assert focused in ("A", "INPUT", "BUTTON", "SELECT", "TEXTAREA")
        if width == WIDTHS[0]:
            assert no_overflow(page)
        page.close()
