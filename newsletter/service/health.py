"""What `GET /healthz` answers: what the service last did and whether it is doing its job (200)
or not (503). The route itself is `newsletter.web.health`.

503 means a restart or a human is needed: the database cannot be read, the scheduler is not
running, the delivery job has not ticked for a while, the feed still cannot be read past the fetch
retry bound, or a due digest has waited for longer than a grace period. A feed that answers but
stays on the previous day past that bound is a warning ("stale"): arXiv may be closed on a day
the holiday table does not know, which no restart or human fixes.
Digests that failed are reported (status "degraded") but answer 200: restarting the container
does not fix a bounced address, and the admin alert already told someone.

/healthz answers anyone who asks, so it shows states, dates and counts only: never an error's
text, which can name paths, URLs (with credentials) or addresses. The details are in the log.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import sqlite3
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

from newsletter.db import Database, DatabaseError
from newsletter.db.papers import latest_day
from newsletter.db.runs import last_delivery_run

log = logging.getLogger(__name__)

# What the fetch job's last tick did ("not run" before its first).
# "waiting": the feed still shows the day before, within the staleness margin (no failure yet);
# "stale": it still does past the margin (an unknown closure, or a stuck feed: alerted, not a 503).
FetchStatus = Literal[
    "not run", "done", "fetched", "waiting", "stale", "failed", "overdue", "no announcement"
]


@dataclass(slots=True)
class ServiceState:
    """What the jobs report as they run; read by /healthz. Each change is made under one lock."""

    started_at: dt.datetime
    delivery_interval: dt.timedelta = dt.timedelta(minutes=5)
    overdue_grace: dt.timedelta = dt.timedelta(minutes=30)
    running: bool = False
    stopping: bool = False
    fetch_want: dt.date | None = None
    fetch_status: FetchStatus = "not run"
    fetch_error: str | None = None
    fetch_at: dt.datetime | None = None
    tick_at: dt.datetime | None = None
    tick_error: str | None = None
    due: int = 0  # digests whose window is open and that are not yet handled
    due_since: dt.datetime | None = None  # since when `due` has been non-zero
    failed: dict[str, str] = field(default_factory=dict)  # address → reason, open windows only
    unknown: list[str] = field(default_factory=list)
    logged_health_error: str | None = None  # the last health problem logged (once, not every check)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def mark_running(self) -> None:
        with self._lock:
            self.running = True

    def mark_stopping(self) -> None:
        with self._lock:
            self.stopping = True

    def mark_stopped(self) -> None:
        with self._lock:
            self.running = False

    def record_fetch(self, want: dt.date, status: FetchStatus, error: str | None, at: dt.datetime) -> None:
        with self._lock:
            self.fetch_want, self.fetch_status, self.fetch_error, self.fetch_at = want, status, error, at

    def record_tick(self, at: dt.datetime, error: str | None) -> None:
        with self._lock:
            self.tick_at, self.tick_error = at, error

    def record_problems(self, failed: dict[str, str], unknown: list[str]) -> None:
        """The digests that failed for good (address → reason) and those left `unknown`."""
        with self._lock:
            self.failed, self.unknown = failed, unknown

    def snapshot(self) -> ServiceState:
        """A consistent copy for one health answer."""
        with self._lock:
            copy = dataclasses.replace(self, failed=dict(self.failed), unknown=list(self.unknown))
        return copy

    def first_report(self, error: str | None) -> bool:
        """True when `error` differs from the last one reported (so it is logged once)."""
        with self._lock:
            new = error is not None and error != self.logged_health_error
            self.logged_health_error = error
        return new

    def record_due(self, due: int, now: dt.datetime) -> None:
        with self._lock:
            if due and not self.due:
                self.due_since = now
            elif not due:
                self.due_since = None
            self.due = due


def _iso(value: dt.datetime | dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _last_run(db: Database) -> dict[str, Any] | None:
    run = last_delivery_run(db)
    if run is None:
        return None
    # Counts only: the texts name subscribers' addresses, and /healthz answers anyone who asks.
    run["errors"] = len(json.loads(run["errors"] or "[]"))
    return run


def health_status(db: Database, state: ServiceState, now: dt.datetime) -> tuple[int, dict[str, object]]:
    """(HTTP status, JSON body) at `now`."""
    problems: list[str] = []
    warnings: list[str] = []
    body: dict[str, Any] = {"now": now.isoformat(), "started_at": state.started_at.isoformat()}
    snap = state.snapshot()
    try:
        stored = latest_day(db)
        last_run = _last_run(db)
        error = None
    except (sqlite3.Error, DatabaseError) as exc:
        problems.append("the database cannot be read (see the log)")
        stored, last_run, error = None, None, str(exc)
    if state.first_report(error):
        log.error("health check: the database cannot be read: %s", error)
    body["last_fetch"] = {
        "announcement_date": _iso(stored[0]) if stored else None,
        "fetched_at": stored[1] if stored else None,
        "expected": _iso(snap.fetch_want),
        "status": snap.fetch_status,
        "checked_at": _iso(snap.fetch_at),
    }
    body["last_delivery_run"] = last_run
    body["last_tick"] = {"at": _iso(snap.tick_at), "status": "failed" if snap.tick_error else "ok"}
    body["digests"] = {"due": snap.due, "due_since": _iso(snap.due_since),
                       "failed": len(snap.failed), "unknown": len(snap.unknown)}

    if snap.stopping:
        problems.append("the service is stopping")
    elif not snap.running:
        problems.append("the scheduler is not running")
    # a tick may be late by one interval plus the length of a run; three intervals is clearly stuck
    stale_after = 3 * state.delivery_interval + dt.timedelta(minutes=1)
    last_tick = snap.tick_at or state.started_at
    if now - last_tick > stale_after:
        problems.append(f"the delivery job has not run since {last_tick.isoformat()}")
    # The errors' texts are in the log (the jobs log them as they happen), never here.
    if snap.fetch_status == "overdue":
        problems.append(f"the announcement of {_iso(snap.fetch_want)} is overdue (see the log)")
    due_since = snap.due_since
    if snap.due and due_since is not None and now - due_since > state.overdue_grace:
        problems.append(f"{snap.due} digest(s) due since {due_since.isoformat()} are not sent")
    if snap.fetch_status == "failed":
        warnings.append("the last fetch failed, retrying (see the log)")
    if snap.fetch_status == "stale":
        warnings.append(f"no announcement dated {_iso(snap.fetch_want)} yet (see the log)")
    if snap.tick_error:
        warnings.append("the last delivery tick failed (see the log)")
    if snap.failed:
        warnings.append(f"{len(snap.failed)} digest(s) failed")
    if snap.unknown:
        warnings.append(f"{len(snap.unknown)} delivery(ies) unknown")

    body["status"] = "failing" if problems else "degraded" if warnings else "ok"
    body["problems"] = problems
    body["warnings"] = warnings
    return (503 if problems else 200), body
