"""How long to wait before trying a call again: the one backoff rule for arXiv, the LLM and SendGrid.

Each caller keeps its own numbers (first wait, cap, attempts, how long a server may ask us to
wait); this module only does the arithmetic. Randomness comes in as `jitter`, a draw from [0, 1):
`random.random` by default, `random.Random(seed).random` or a constant in tests.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import random
from collections.abc import Callable

Jitter = Callable[[], float]


def exponential_delay(attempt: int, *, base: float, cap: float, jitter: Jitter = random.random) -> float:
    """Seconds to wait after the `attempt`-th failed try (1 for the first): `base`, doubling each
    time, capped at `cap`, with "equal jitter" — somewhere between half that ceiling and all of
    it, so clients that failed together do not retry together, and never retry at once into the
    overload that failed them."""
    ceiling = min(cap, base * 2.0 ** (attempt - 1))
    return ceiling / 2 + ceiling / 2 * jitter()


def retry_after_delay(
    retry_after: float, *, bound: float, spread: float = 0.0, jitter: Jitter = random.random
) -> float:
    """Seconds to wait when the server said how long: its wait (never negative) plus up to
    `spread` seconds of jitter, but never more than `bound`."""
    extra = spread * jitter() if spread else 0.0
    return min(max(retry_after, 0.0) + extra, bound)


def seconds_until_http_date(value: str, now: dt.datetime) -> float | None:
    """Seconds from `now` until an HTTP-date (Retry-After's other form), 0 if it has passed;
    None if `value` is not a date. A date without a zone is read as UTC."""
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - now).total_seconds())
