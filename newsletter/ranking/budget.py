"""The daily LLM spend cap that every judge call of one run checks and charges."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)


class Budget:
    """A daily LLM spend cap in USD, shared by every judge call of one run (thread-safe).

    Checked before each call, charged after it: concurrent calls in flight when the cap is reached
    still finish, so a run can overshoot by at most `concurrency` calls.
    """

    def __init__(self, cap_usd: float | None, spent_usd: float = 0.0) -> None:
        if cap_usd is not None and cap_usd < 0:
            raise ValueError(f"LLM budget must be ≥ 0 USD, got {cap_usd}")
        self.cap_usd = cap_usd
        self._spent = spent_usd
        self._lock = threading.Lock()

    @property
    def spent_usd(self) -> float:
        with self._lock:
            return self._spent

    @property
    def exhausted(self) -> bool:
        with self._lock:
            return self.cap_usd is not None and self._spent >= self.cap_usd

    def charge(self, usd: float) -> None:
        with self._lock:
            self._spent += usd
