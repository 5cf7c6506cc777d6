"""The service's delivery job: send what is due and not yet handled, alert on final failures and
`unknown` deliveries and on readers' replies, and send each finished day's cost line (see
`newsletter.service.jobs`).
"""

from __future__ import annotations

import datetime as dt
import logging

from newsletter.daily.summary import RunSummary
from newsletter.db import deliveries as delivery_store
from newsletter.db import subscribers as subscriber_store
from newsletter.db.audits import audit_totals
from newsletter.models import Subscriber
from newsletter.readers.roster import Roster, RosterError
from newsletter.service.alerts import (
    cost_alert,
    day_cost,
    feedback_alert,
    roster_alert,
    roster_file_alert,
    run_alert,
)
from newsletter.service.context import ServiceBase
from newsletter.service.schedule import due_checker, due_now, recent_announcement_dates, subscriber_window

log = logging.getLogger(__name__)


class DeliverySide(ServiceBase):
    """`delivery_tick`: the due digests through `run_daily`, then the report of the recent days."""

    def delivery_tick(self, now: dt.datetime) -> list[RunSummary]:
        """Send what is due now; alert on final failures and `unknown`; the cost line when done."""
        with self.work:
            recent = recent_announcement_dates(now, self.settings.extra_holidays)
            newest = recent[-1] if recent else now.date()
            try:
                roster = self._roster()
            except RosterError as exc:
                error = str(exc)
                if error != self.state.tick_error:  # once, not every tick: /healthz keeps showing it
                    log.error("delivery tick: %s", error)
                self.alerter.send(roster_file_alert(newest, error), now)
                self.state.update(tick_at=now, tick_error=error)
                return []
            fetched = self.stored_dates(recent[0]) if recent else set()
            alert = roster_alert(newest, [str(p) for p in roster.problems])
            if alert is not None:
                self.alerter.send(alert, now)
            admin = self.settings.admin_email
            replies = feedback_alert(self.db, now.date(), admin) if admin.strip() else None
            if replies is not None:  # (without an admin address, readers' words stay out of the log)
                self.alerter.send(replies, now)
            summaries = []
            due = due_now(roster.subscribers, now, fetched, self.settings.extra_holidays)
            for digest_date, readers in sorted(due.items()):
                pending = self._pending(digest_date, readers)
                if not pending:
                    continue
                summaries.append(self._deliver(digest_date, pending, roster, fetched, now))
            self._report(roster, recent, fetched, now)
            self.state.update(tick_at=now, tick_error=None)
            if self.gate.closed.is_set():
                return summaries
            from newsletter.readers.leave import send_pending_confirmations

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
        from newsletter.daily.run import run_daily

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
                # a day that served, failed or paid for nothing (a start after every window closed,
                # with the LLM off) has no cost line to give
                if cost.runs and (cost.served or cost.failures or cost.llm_calls):
                    audits = audit_totals(self.db, digest_date, digest_date)
                    self.alerter.send(cost_alert(cost, audits), now)
        self.state.record_due(due, now)
        self.state.update(failed=failures, unknown=unknown)
