"""Shared fixtures: every test gets its own state folder, and no test reads the real environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = [
    "tests.fakes.arxiv_server",
    "tests.fakes.llm_server",
    "tests.fakes.sendgrid_server",
    "tests.fakes.inbound",
]

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point all state at tmp_path and clear settings that could leak in from the machine."""
    for name in list(os.environ):
        if name.startswith(("NEWSLETTER_", "SENDGRID_", "OPENAI_", "ANTHROPIC_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # so no stray .env is read
    monkeypatch.setenv("NEWSLETTER_DATA_DIR", str(tmp_path / "var"))
    return tmp_path
