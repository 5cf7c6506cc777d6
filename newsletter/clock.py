"""The one wall clock. Entry points (the CLI, the service, the web app) read it and pass `now`
or a `Clock` down; nothing below them reads the time of day on its own."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    """Now, timezone-aware, in UTC."""
    return dt.datetime.now(dt.UTC)
