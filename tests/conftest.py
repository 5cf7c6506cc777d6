"""Shared fixtures: every test gets its own state folder, and no test reads the real environment."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytest_plugins = [
    "tests.fakes.arxiv_server",
    "tests.fakes.llm_server",
    "tests.fakes.sendgrid_server",
    "tests.fakes.inbound",
    "tests.fakes.dns_server",
    "tests.fakes.chat_server",
]

DATA = Path(__file__).parent / "data"
ROSTER_HEADER = "email,name,criteria,categories,timezone,send_at,authors"
_UNPREFIXED = {"SENDGRID_API_KEY", "SENDGRID_WEBHOOK_PUBLIC_KEY"}


def make_site(
    folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    rows: Sequence[str],
    *,
    header: str = ROSTER_HEADER,
    **settings: str,
) -> Path:
    """A site: the real criteria files, a roster of `rows` and the given settings, named without
    their NEWSLETTER_ prefix (the two SendGrid keys keep their own names)."""
    shutil.copytree(DATA / "criteria", folder / "criteria")
    (folder / "subscribers.csv").write_text(header + "\n" + "\n".join(rows) + "\n")
    for name, value in settings.items():
        monkeypatch.setenv(name if name in _UNPREFIXED else f"NEWSLETTER_{name}", value)
    return folder


@pytest.fixture(autouse=True)
def isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point all state at tmp_path and clear settings that could leak in from the machine."""
    for name in list(os.environ):
        if name.startswith(("NEWSLETTER_", "SENDGRID_", "OPENAI_", "ANTHROPIC_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # so no stray .env is read
    monkeypatch.setenv("NEWSLETTER_DATA_DIR", str(tmp_path / "var"))
    return tmp_path


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Headless Debian Chromium driven by Playwright (tests/fakes/browser.py); one per test module.

    Playwright's sync API runs its own event loop, so a test using it must not run inside one; and
    while it runs, `asyncio.run` in the same thread fails ("cannot be called from a running event
    loop"). Per module, not per session: the loop ends with the browser tests of one file instead
    of breaking every later test of the process that uses asyncio (tests/web/test_form_fields.py)."""
    from playwright.sync_api import sync_playwright

    from tests.fakes.browser import chromium_executable

    executable = chromium_executable()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
        try:
            yield browser
        finally:
            browser.close()
