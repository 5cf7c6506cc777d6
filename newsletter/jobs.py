"""The service's jobs: what the fetch and delivery ticks do at a given `now`.

- fetch: try until the expected announcement is stored (for `fetch_retry_hours` after its mailing),
  then one admin alert. Right after a fetch the day is scored once per distinct criteria
  ("prepare"), logged as a run so its cost counts, so the first send finds the scores cached.
- deliver: send every digest that is due now (see `newsletter.schedule`) and not yet handled,
  through `run_daily(now=..., date=D, only=..., is_due=...)`; a failed digest is retried by up to
  `max_send_runs` runs; final failures and `unknown` deliveries are alerted; when no reader of a
  day is left, the day's cost line goes to the admin.
The database, not a job store, says what is due, so a restart catches up by itself.
`newsletter.service` runs these on a scheduler beside the web app.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
from collections.abc import Callable

from newsletter.alerts import Alerter, cost_alert, day_cost, fetch_alert, run_alert
from newsletter.db import Database
from newsletter.db import deliveries as delivery_store
from newsletter.db import runs as run_log
from newsletter.db import subscribers as subscriber_store
from newsletter.deliver import Clock
from newsletter.fetch import FetchError, NoAnnouncementError
from newsletter.health import ServiceState
from newsletter.mail.base import PermanentSendError, Transport
from newsletter.models import OutgoingEmail, Subscriber
from newsletter.pipeline import Adapters, RunSummary, no_progress
from newsletter.roster import Roster, RosterError, load_roster
from newsletter.schedule import (
    due_checker,
    due_now,
    fetch_plan,
    recent_announcement_dates,
    subscriber_window,
)
from newsletter.settings import Settings

log = logging.getLogger(__name__)

AdapterFactory = Callable[[Settings, Database, "dt.date | None"], Adapters]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclasses.dataclass(frozen=True, slots=True)
class ServiceOptions:
    """Intervals of the jobs (settings of the same names, NEWSLETTER_<NAME>)."""

    delivery_interval: float = 300.0  # seconds between delivery ticks
    fetch_retry_interval: float = 900.0  # seconds between fetch attempts while the day is missing
    fetch_retry_hours: float = 8.0  # how long after the mailing the fetch keeps trying
    max_send_runs: int = 3  # runs that may try one failed digest before it is left to the admin
    overdue_grace_minutes: float = 30.0  # /healthz turns 503 when a due digest waits longer

    @classmethod
    def from_settings(cls, settings: Settings) -> ServiceOptions:
        return cls(**{option.name: getattr(settings, option.name) for option in dataclasses.fields(cls)})

    @property
    def retry_for(self) -> dt.timedelta:
        return dt.timedelta(hours=self.fetch_retry_hours)


class TransportGate:
    """Passes sends through until `close()`; then refuses new ones, so a stopping service does
    not start sends it could not finish. A refused digest is `failed` and retried after restart."""

    STOPPING = "the service was stopping; retried on the next start"

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.closed = threading.Event()

    def close(self) -> None:
        self.closed.set()

    def send(self, email: OutgoingEmail) -> str:
        if self.closed.is_set():
            raise PermanentSendError(self.STOPPING)
        return self.inner.send(email)


class Service:
    """The jobs' logic. Each tick takes `now`; one lock keeps fetch/prepare and delivery apart."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        clock: Clock = utc_now,
        options: ServiceOptions | None = None,
        adapters: AdapterFactory | None = None,
        transport: Transport | None = None,
    ) -> None:
        from newsletter.adapters import build_adapters, build_transport

        self.settings = settings
        self.db = db
        self.clock = clock
        self.options = options or ServiceOptions()
        self._adapters = adapters or build_adapters
        self.gate = TransportGate(transport or build_transport(settings))
        self.alerter = Alerter(db, self.gate, settings)
        self.state = ServiceState(
            started_at=clock(),
            delivery_interval=dt.timedelta(seconds=self.options.delivery_interval),
            overdue_grace=dt.timedelta(minutes=self.options.overdue_grace_minutes),
        )
        self.work = threading.Lock()
        self._tried: set[dt.date] = set()

    # --- helpers ---------------------------------------------------------------------------------

    def adapters_for(self, digest_date: dt.date | None) -> Adapters:
        built = self._adapters(self.settings, self.db, digest_date)
        return dataclasses.replace(built, transport=self.gate, clock=self.clock)

    @staticmethod
    def _close(adapters: Adapters) -> None:
        close = getattr(adapters.source, "close", None)
        if callable(close):
            close()

    def _roster(self) -> Roster:
        return load_roster(self.settings.subscribers, self.settings)

    def _active(self, roster: Roster) -> list[Subscriber]:
        suppressed = subscriber_store.suppressions(self.db)
        return [s for s in roster.subscribers if s.email.lower() not in suppressed]

    def stored_dates(self, since: dt.date) -> set[dt.date]:
        rows = (
            self.db.read()
            .execute("SELECT DISTINCT date FROM announcements WHERE date >= ?", (since.isoformat(),))
            .fetchall()
        )
        return {dt.date.fromisoformat(row[0]) for row in rows}

    # --- start ------------------------------------------------------------------------------------

    def startup(self, now: dt.datetime) -> None:
        """Deliveries a crash left in `sending` become `unknown` (never resent blindly) and alerted."""
        interrupted = delivery_store.recover_interrupted(self.db, now)
        for digest_date in sorted({d.digest_date for d in interrupted}):
            emails = [d.email for d in interrupted if d.digest_date == digest_date]
            alert = run_alert(digest_date, {}, emails)
            if alert is not None:
                self.alerter.send(alert, now)

    # --- fetch ------------------------------------------------------------------------------------

    def fetch_tick(self, now: dt.datetime) -> str:
        """One step of the fetch job; returns what happened (also in the health state)."""
        with self.work:
            want = fetch_plan(now, (), retry_for=self.options.retry_for).want
            plan = fetch_plan(
                now, self.stored_dates(want), retry_for=self.options.retry_for, tried=want in self._tried
            )
            if plan.action == "done":
                self.state.update(fetch_want=plan.want, fetch_status="done", fetch_error=None, fetch_at=now)
                return "done"
            if plan.action == "overdue":
                last_error = self.state.fetch_error or "not fetched"
                self.state.update(fetch_want=plan.want, fetch_status="overdue", fetch_at=now)
                self.alerter.send(fetch_alert(plan.want, last_error, retried_for=self.options.retry_for), now)
                return "overdue"
            self._tried.add(plan.want)
            status, error = self._fetch_and_prepare(plan.want, now)
            if status == "failed":
                late = fetch_plan(now, (), retry_for=self.options.retry_for).action == "overdue"
                if late:  # the one try of a late start failed: that is the bound too
                    status = "overdue"
                    self.alerter.send(
                        fetch_alert(plan.want, error or "", retried_for=self.options.retry_for), now
                    )
            self.state.update(fetch_want=plan.want, fetch_status=status, fetch_error=error, fetch_at=now)
            return status

    def _fetch_and_prepare(self, want: dt.date, now: dt.datetime) -> tuple[str, str | None]:
        from newsletter.orchestrator import fetch_stage

        try:
            subscribers = self._active(self._roster())
        except RosterError as exc:
            return "failed", str(exc)
        categories = sorted(
            {c for s in subscribers for c in s.categories} or set(self.settings.default_categories)
        )
        adapters = self.adapters_for(want)
        try:
            day = fetch_stage(
                now=now,
                settings=self.settings,
                db=self.db,
                adapters=adapters,
                digest_date=want,
                categories=categories,
            )
        except NoAnnouncementError as exc:
            log.info("no digest today: %s", exc)
            self._close(adapters)
            return "no announcement", None
        except FetchError as exc:
            log.warning("fetching the announcement of %s failed (will retry): %s", want, exc)
            self._close(adapters)
            return "failed", str(exc)
        self._close(adapters)
        if subscribers:
            self._prepare(day.date, subscribers, adapters, now)
        return "fetched", None

    def _prepare(
        self, digest_date: dt.date, subscribers: list[Subscriber], adapters: Adapters, now: dt.datetime
    ) -> None:
        """Score the day once per distinct criteria now, logged as a run so its cost counts."""
        from newsletter.db.papers import load_day
        from newsletter.orchestrator import SCORE_WORKERS, score_stage

        categories = sorted({c for s in subscribers for c in s.categories})
        day = load_day(self.db, digest_date, categories)
        if day is None:
            return
        summary = RunSummary(digest_date=digest_date, papers=len(day.papers))
        record = run_log.start_run(
            self.db, run_log.RunRecord(kind="prepare", started_at=now, digest_date=digest_date)
        )
        try:
            scored = score_stage(
                day,
                subscribers,
                adapters,
                no_progress,
                workers=min(self.settings.llm_concurrency, SCORE_WORKERS),
            )
            summary.add_scoring(scored, subscribers)
        except Exception as exc:  # the delivery run scores again; this was only a head start
            log.exception("scoring %s ahead of the sends failed", digest_date)
            summary.fatal = f"prepare: {exc}"
        finally:
            summary.fill_record(record)
            run_log.finish_run(self.db, record, self.clock())
        log.info(
            "prepared %s: %d criteria scored, LLM $%.4f",
            digest_date,
            len(summary.usage_by_criteria),
            summary.usage.cost_usd,
        )

    # --- deliver ----------------------------------------------------------------------------------

    def delivery_tick(self, now: dt.datetime) -> list[RunSummary]:
        """Send what is due now; alert on final failures and `unknown`; the cost line when done."""
        with self.work:
            try:
                roster = self._roster()
            except RosterError as exc:
                log.error("delivery tick: %s", exc)
                self.state.update(tick_at=now, tick_error=str(exc))
                return []
            recent = recent_announcement_dates(now)
            fetched = self.stored_dates(recent[0]) if recent else set()
            summaries = []
            for digest_date, readers in sorted(due_now(roster.subscribers, now, fetched).items()):
                pending = self._pending(digest_date, readers)
                if not pending:
                    continue
                summaries.append(self._deliver(digest_date, pending, roster, fetched, now))
            self._report(roster, recent, fetched, now)
            self.state.update(tick_at=now, tick_error=None)
            if self.gate.closed.is_set():
                return summaries
            from newsletter.leave import send_pending_confirmations

            send_pending_confirmations(self.db, now, settings=self.settings, transport=self.gate)
            return summaries

    def _pending(self, digest_date: dt.date, readers: list[Subscriber]) -> list[Subscriber]:
        rows = delivery_store.for_date(self.db, digest_date)
        suppressed = subscriber_store.suppressions(self.db)
        pending = []
        for reader in readers:
            key = reader.email.lower()
            row = rows.get(key)
            if key in suppressed or (row is not None and row.status in delivery_store.HANDLED):
                continue
            if row is not None and row.status == "failed" and row.attempts >= self.options.max_send_runs:
                continue
            pending.append(reader)
        return pending

    def _deliver(
        self,
        digest_date: dt.date,
        pending: list[Subscriber],
        roster: Roster,
        fetched: set[dt.date],
        now: dt.datetime,
    ) -> RunSummary:
        from newsletter.orchestrator import run_daily

        adapters = self.adapters_for(digest_date)
        try:
            summary = run_daily(
                now=now,
                settings=self.settings,
                db=self.db,
                adapters=adapters,
                date=digest_date,
                only=[s.email for s in pending],
                is_due=due_checker(fetched),
                roster=roster,
            )
        finally:
            self._close(adapters)
        log.info(
            "digests of %s: %d due, %d sent, %d empty, %d failed",
            digest_date,
            summary.due,
            len(summary.sent),
            len(summary.empty),
            len(summary.failed),
        )
        problem = summary.fatal or summary.aborted
        if problem:
            alert = run_alert(digest_date, {}, [], problem)
            if alert is not None:
                self.alerter.send(alert, now)
        return summary

    def _report(self, roster: Roster, recent: list[dt.date], fetched: set[dt.date], now: dt.datetime) -> None:
        """Health figures, final-failure and unknown alerts, and each finished day's cost line."""
        active = self._active(roster)
        due = failed = 0
        failures: dict[str, str] = {}
        unknown: list[str] = []
        for digest_date in recent:
            if digest_date not in fetched:
                continue
            rows = delivery_store.for_date(self.db, digest_date)
            day_failed: dict[str, str] = {}
            day_unknown: list[str] = []
            open_readers = 0
            for reader in active:
                row = rows.get(reader.email.lower())
                window = subscriber_window(reader, digest_date)
                final = row is not None and (
                    row.status in delivery_store.HANDLED
                    or (row.status == "failed" and row.attempts >= self.options.max_send_runs)
                )
                if row is not None and row.status == "failed" and (final or now >= window.end):
                    day_failed[reader.email] = row.error or "failed"
                if row is not None and row.status == "unknown":
                    day_unknown.append(reader.email)
                if not final and now < window.end:
                    open_readers += 1
                    if now in window:
                        due += 1
            failures.update(day_failed)
            unknown += day_unknown
            failed += len(day_failed)
            alert = run_alert(digest_date, day_failed, day_unknown)
            if alert is not None:
                self.alerter.send(alert, now)
            if open_readers == 0:
                cost = day_cost(self.db, digest_date)
                if cost.runs:
                    self.alerter.send(cost_alert(cost), now)
        self.state.record_due(due, now)
        self.state.update(failed=failures, unknown=unknown)
