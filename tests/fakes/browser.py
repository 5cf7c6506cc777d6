"""A real browser for page tests: Playwright driving Debian's headless Chromium, and the web app
served over real HTTP on 127.0.0.1 for it to open.

Nothing is downloaded: Playwright launches the `chromium` on PATH (or $NEWSLETTER_CHROMIUM). Where
Chromium is missing the test is skipped, except in CI (CI set), where it fails.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette

# Read at import: conftest's autouse fixture clears NEWSLETTER_* before every test runs.
_CHROMIUM = os.environ.get("NEWSLETTER_CHROMIUM", "")
ARTIFACTS = Path(os.environ.get("NEWSLETTER_ARTIFACTS") or Path(__file__).parents[1] / "artifacts")
WIDTHS = (375, 1280)  # a phone and a desktop


def chromium_executable() -> str:
    """The Chromium binary to drive; skips the test (fails it in CI) where there is none."""
    for name in (_CHROMIUM, "chromium", "chromium-browser"):
        found = shutil.which(name) if name else None
        if found:
            return found
    if os.environ.get("CI"):
        pytest.fail("headless Chromium is required in CI: apt-get install chromium")
    pytest.skip("chromium not installed (apt-get install chromium)")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def served(app: Starlette) -> Iterator[str]:
    """Serves `app` with uvicorn on a free loopback port in a thread; yields its base URL."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test web server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def artifact(name: str) -> Path:
    """Where a test keeps a screenshot for a human look ($NEWSLETTER_ARTIFACTS, git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name
