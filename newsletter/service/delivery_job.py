"""The service's delivery job: send every digest that is due now (see `newsletter.service.schedule`)
and not yet handled, through `run_daily(now=..., date=D, only=..., is_due=...)`. A failed digest is
retried by up to `max_send_runs` runs; final failures and `unknown` deliveries are alerted, and so
are readers' replies; when no reader of a day is left, the day's cost line goes to the admin.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from newsletter.daily.send import recover_interrupted
from newsletter.daily.summary import RunSummary
from newsletter.db import deliveries as delivery_store
from newsletter.db import subscribers as subscriber_store
from newsletter.db.audits import audit_totals
from newsletter.db.papers import stored_dates
from newsletter.db.runs import day_cost
from newsletter.fetch.calendar import EASTERN
from newsletter.models import Subscriber
from newsletter.readers.roster import Roster, RosterError
from newsletter.service.alerts import (
    cost_alert,
    feedback_alert,
    judge_alerts,
    mail_events,
    roster_alert,
    roster_file_alert,
    run_alert,
)
from newsletter.service.channel_job import ChannelJob
from newsletter.service.context import ServiceContext
from newsletter.service.schedule import (
    LOOKBACK,
    due_checker,
    due_now,
    reader_window,
    recent_announcement_dates,
)

log = logging.getLogger(__name__)


class DeliveryJob:
    """`tick(now)`: the due digests through `run_daily`, then the report of the recent days."""

    def __init__(self, context: ServiceContext) -> None:
        self.context = context
        self.channels = ChannelJob(context)

    def startup(self, now: dt.datetime) -> None:
        """Deliveries a crash left in `sending` become `unknown` (never resent blindly) and alerted."""
        context = self.context
        interrupted = recover_interrupted(context.db, context.gate, now)
        for digest_date in sorted({d.digest_date for d in interrupted}):
            emails = [d.email for d in interrupted if d.digest_date == digest_date]
            alert = run_alert(digest_date, {}, emails)
            if alert is not None:
                context.alerter.send(alert, now)
        self.channels.startup(now)

    def tick(self, now: dt.datetime) -> list[RunSummary]:
        """Send what is due now; alert on final failures and `unknown`; the cost line when done."""
        context = self.context
        settings, state = context.settings, context.state
        with context.work:
            # The stored days count as much as the table's: a day the feed showed is served even
            # where the holiday table calls it closed.
            fetched = stored_dates(context.db, (now - LOOKBACK).astimezone(EASTERN).date())
            recent = recent_announcement_dates(now, settings.extra_holidays, shown=fetched)
            newest = recent[-1] if recent else now.date()
            try:
                roster = context.roster()
            except RosterError as exc:
                error = str(exc)
                if error != state.tick_error:  # once, not every tick (/healthz says the tick failed)
                    log.error("delivery tick: %s", error)
                context.alerter.send(roster_file_alert(newest, error), now)
                state.record_tick(now, error)
                return []
            self._alert_roster_and_replies(roster, newest, now)
            summaries = []
            due = due_now(roster.subscribers, now, fetched, settings.extra_holidays)
            for digest_date, readers in sorted(due.items()):
                pending = self._pending(digest_date, readers)
                if not pending:
                    continue
                summaries.append(self._deliver(digest_date, pending, roster, fetched, now))
            self._report(roster, recent, fetched, now)
            self.channels.tick(now, fetched, context.active(roster))
            state.record_tick(now, None)
            if context.gate.closed.is_set():
                return summaries
            from newsletter.readers.leave import send_pending_confirmations

            send_pending_confirmations(context.db, now, settings=settings, transport=context.gate)
            return summaries

    def _alert_roster_and_replies(self, roster: Roster, newest: dt.date, now: dt.datetime) -> None:
        context = self.context
        alert = roster_alert(newest, [str(p) for p in roster.problems])
        if alert is not None:
            context.alerter.send(alert, now)
        admin = context.settings.admin_email
        replies = feedback_alert(context.db, now.date(), admin) if admin.strip() else None
        if replies is not None:  # (without an admin address, readers' words stay out of the log)
            context.alerter.send(replies, now)

    def _pending(self, digest_date: dt.date, readers: list[Subscriber]) -> list[Subscriber]:
        """The readers due `digest_date` who have not left and whose digest is not final."""
        db, max_send_runs = self.context.db, self.context.settings.max_send_runs
        rows = delivery_store.for_date(db, digest_date)
        suppressed = subscriber_store.suppressions(db)
        pending = []
        for reader in readers:
            key = reader.email.lower()
            row = rows.get(key)
            if key in suppressed or (row is not None and row.is_final(max_send_runs)):
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

        context = self.context
        adapters = context.adapters_for(digest_date)
        try:
            summary = run_daily(
                now=now,
                settings=context.settings,
                db=context.db,
                adapters=adapters,
                date=digest_date,
                only=[s.email for s in pending],
                is_due=due_checker(fetched, context.settings.extra_holidays),
                roster=roster,
            )
        finally:
            adapters.source.close()
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
                context.alerter.send(alert, now)
        for judged in judge_alerts(summary):
            context.alerter.send(judged, now)
        return summary

    def _report(self, roster: Roster, recent: list[dt.date], fetched: set[dt.date], now: dt.datetime) -> None:
        """Health figures, final-failure and unknown alerts, and each finished day's cost line."""
        context = self.context
        active = context.active(roster)
        due = 0
        failures: dict[str, str] = {}
        unknown: list[str] = []
        for digest_date in recent:
            if digest_date not in fetched:
                continue
            day = self._day_report(digest_date, active, fetched, now)
            failures.update(day.failed)
            unknown += day.unknown
            due += day.due
            alert = run_alert(digest_date, day.failed, day.unknown)
            if alert is not None:
                context.alerter.send(alert, now)
            if day.open_readers == 0:
                cost = day_cost(context.db, digest_date)
                # a day that served, failed or paid for nothing (a start after every window closed,
                # with the LLM off) has no cost line to give
                if cost.runs and (cost.served or cost.failures or cost.llm_calls):
                    audits = audit_totals(context.db, digest_date, digest_date)
                    mail = mail_events(context.db, context.settings, now)
                    context.alerter.send(cost_alert(cost, audits, mail), now)
        context.state.record_due(due, now)
        context.state.record_problems(failures, unknown)

    def _day_report(
        self, digest_date: dt.date, active: list[Subscriber], fetched: set[dt.date], now: dt.datetime
    ) -> DayReport:
        """Where the readers of one announcement day stand at `now`. A paused reader, or a weekly
        one whose digest does not end with this day, is none of its readers: nothing is due or
        failing for them."""
        rows = delivery_store.for_date(self.context.db, digest_date)
        holidays = self.context.settings.extra_holidays
        report = DayReport()
        for reader in active:
            row = rows.get(reader.email.lower())
            window = reader_window(reader, digest_date, holidays, fetched)
            if window is None:
                continue
            final = row is not None and row.is_final(self.context.settings.max_send_runs)
            if row is not None and row.status == "failed" and (final or now >= window.end):
                report.failed[reader.email] = row.error or "failed"
            if row is not None and row.status == "unknown":
                report.unknown.append(reader.email)
            if not final and now < window.end:
                report.open_readers += 1
                if now in window:
                    report.due += 1
        return report


@dataclass(slots=True)
class DayReport:
    """One announcement day's readers at a tick: failed for good, `unknown`, still open, due now."""

    failed: dict[str, str] = field(default_factory=dict)  # address → reason
    unknown: list[str] = field(default_factory=list)
    open_readers: int = 0  # whose digest is not final and whose window has not closed
    due: int = 0  # of those, the ones whose window is open now
