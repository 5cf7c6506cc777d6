"""Shared fixtures: every test gets its own state folder, and no test reads the real environment."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest

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
