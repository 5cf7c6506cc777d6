"""A polite requests.Session: a timeout on every call, pacing, bounded retries that honour Retry-After.

It is used for the feed and handed to the `arxiv` package's Client (which has no timeout, retries
without backoff and ignores Retry-After), so every request to arXiv goes through the same policy.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from newsletter.backoff import exponential_delay, seconds_until_http_date
from newsletter.clock import Clock, utc_now
from newsletter.fetch.errors import HTTPStatusError

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
USER_AGENT = "arxiv-digest/0.1 (self-hosted newsletter; +https://github.com/)"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded attempts with exponential backoff and jitter; a server's Retry-After can lengthen a
    wait, never shorten it (the longer of the two)."""

    attempts: int = 4
    backoff: float = 2.0  # seconds before the first retry; doubles each time
    max_backoff: float = 60.0
    max_retry_after: float = 600.0  # a server asking for more than this gets a failure instead

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"RetryPolicy.attempts must be at least 1, got {self.attempts}")
        if self.backoff < 0 or self.max_backoff < 0:
            raise ValueError("RetryPolicy backoff values must not be negative")


def parse_retry_after(value: str | None, now: dt.datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    return seconds_until_http_date(value, now)


class PoliteSession(requests.Session):
    """requests.Session whose `request` paces, times out, retries and raises HTTPStatusError.

    `sleep` and `monotonic` are injectable so tests can run the policy on a fake clock.
    Only 2xx answers are returned; anything else ends in HTTPStatusError naming URL and status.
    """

    def __init__(
        self,
        *,
        timeout: float,
        min_interval: float = 0.0,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
        wall_clock: Clock = utc_now,
    ) -> None:
        super().__init__()
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        self.timeout = timeout
        self.min_interval = min_interval
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._monotonic = monotonic
        self._jitter = jitter
        self._wall_clock = wall_clock
        self._last_request: float | None = None
        # arXiv asks for one request at a time: serialise even if callers share the session.
        self._lock = threading.Lock()
        self.headers["User-Agent"] = USER_AGENT

    def _pace(self) -> None:
        if self._last_request is None or self.min_interval <= 0:
            return
        wait = self.min_interval - (self._monotonic() - self._last_request)
        if wait > 0:
            log.debug("pacing: waiting %.2f s before the next request", wait)
            self._sleep(wait)

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        name = url.decode() if isinstance(url, bytes) else url
        with self._lock:
            return self._request_with_retries(method, name, args, kwargs)

    def _request_with_retries(
        self, method: str | bytes, url: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> requests.Response:
        attempts = self.policy.attempts
        for attempt in range(1, attempts + 1):
            self._pace()
            status: int | None = None
            retry_after: float | None = None
            try:
                response = super().request(method, url, *args, **kwargs)
            except requests.Timeout:
                problem = f"no answer within {kwargs['timeout']} s"
            except requests.ConnectionError as exc:
                problem = f"connection failed ({type(exc).__name__})"
            except requests.RequestException as exc:
                raise HTTPStatusError(f"{url}: request failed: {exc}", url=url) from exc
            else:
                status = response.status_code
                if 200 <= status < 300:
                    return response
                problem = f"HTTP {status} {response.reason or ''}".rstrip()
                retry_after = parse_retry_after(
                    response.headers.get("Retry-After"), self._wall_clock()
                )
                response.close()
                if status not in RETRYABLE_STATUS:
                    raise HTTPStatusError(f"{url} answered {problem}", url=url, status=status)
            finally:
                # Pacing counts from the end of every request, failed or not.
                self._last_request = self._monotonic()
            if attempt == attempts:
                break
            if retry_after is not None and retry_after > self.policy.max_retry_after:
                raise HTTPStatusError(
                    f"{url} answered {problem} and asks to retry after {retry_after:.0f} s,"
                    f" more than the {self.policy.max_retry_after:.0f} s we wait",
                    url=url,
                    status=status,
                )
            wait = exponential_delay(
                attempt, base=self.policy.backoff, cap=self.policy.max_backoff, jitter=self._jitter
            )
            if retry_after is not None:  # it may lengthen the wait, never shorten it
                wait = max(wait, retry_after)
            log.warning(
                "%s: %s (attempt %d of %d); retrying in %.1f s", url, problem, attempt, attempts, wait
            )
            self._sleep(wait)
        tries = f" on all {attempts} attempts" if attempts > 1 else ""
        said = f"{url} answered {problem}" if status is not None else f"{url}: {problem}"  # or nothing
        raise HTTPStatusError(f"{said}{tries}", url=url, status=status)
