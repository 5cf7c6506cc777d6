"""The background event loop that runs every sync LLM judge call.

One long-lived event loop in a daemon thread runs every sync `judge` call: litellm keeps its
HTTP clients per loop, and a fresh `asyncio.run` per call would churn them (and cannot run
inside a caller's own running loop at all).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def _background_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _loop_lock:
        if _loop is None or _loop.is_closed():
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, name="llm-judge", daemon=True).start()
        return _loop


def run_coroutine(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` on the background loop and wait for its result (safe from any thread)."""
    return asyncio.run_coroutine_threadsafe(coro, _background_loop()).result()
