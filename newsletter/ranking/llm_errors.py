"""How an LLM call fails: our own failure report, and reading litellm's exceptions (may a later
attempt cure this failure, and when may it be tried?).

litellm's exception classes are only looked at by name, status code and headers, so this module
never imports litellm.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

from newsletter.backoff import seconds_until_http_date

log = logging.getLogger(__name__)

# litellm exception class names that a later attempt may cure.
RETRYABLE_ERRORS = (
    "RateLimitError",
    "Timeout",
    "InternalServerError",
    "ServiceUnavailableError",
    "APIConnectionError",
)


class CallFailed(Exception):
    """One LLM call gave up; `auth` and `budget` say whether every further call would fail too,
    `timed_out` that the call ran past its bound (the same prompt would likely run past it again)."""

    def __init__(
        self, message: str, *, auth: bool = False, budget: bool = False, timed_out: bool = False
    ) -> None:
        super().__init__(message)
        self.auth = auth
        self.budget = budget
        self.timed_out = timed_out


def is_timeout(exc: BaseException) -> bool:
    """A call that ran past its bound: our own (asyncio) or litellm's per-read timeout (not a
    gateway's 504, which litellm also calls Timeout: a server error keeps its backoff)."""
    return isinstance(exc, asyncio.TimeoutError) or (
        any(c.__name__ == "Timeout" for c in type(exc).__mro__) and status_code(exc) < 500
    )


def is_retryable(exc: BaseException) -> bool:
    """Whether a later attempt may cure `exc`: a timeout, a retryable litellm error, or a 5xx."""
    return (
        isinstance(exc, asyncio.TimeoutError)
        or any(c.__name__ in RETRYABLE_ERRORS for c in type(exc).__mro__)
        or status_code(exc) >= 500
    )


def retry_after_seconds(exc: BaseException, now: dt.datetime) -> float | None:
    """Seconds from a Retry-After header that litellm kept on the exception, if any (an
    HTTP-date counts from `now`)."""
    for source in (getattr(exc, "litellm_response_headers", None), _response_headers(exc)):
        try:
            value = source.get("retry-after") if source is not None else None
        except Exception:
            value = None
        if value is None:
            continue
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        seconds = seconds_until_http_date(str(value), now)  # the other legal form
        if seconds is not None:
            return seconds
    return None


def status_code(exc: BaseException) -> int:
    """The HTTP status litellm put on the exception, 0 when there is none (or it is not a number)."""
    try:
        return int(getattr(exc, "status_code", 0) or 0)
    except (TypeError, ValueError):
        return 0


def _response_headers(exc: BaseException) -> Any:
    response = getattr(exc, "response", None)
    return getattr(response, "headers", None)
