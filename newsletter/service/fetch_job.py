"""The service's fetch job: try until the expected announcement is stored (for
`fetch_retry_hours` after the feed should show it), then one admin alert and one try an hour.
Right after a fetch the day is scored once per distinct criteria ("prepare"), logged as a run so
its cost counts, so the first send finds the scores cached.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection

from newsletter.db.papers import stored_dates
from newsletter.fetch import FetchError, NoAnnouncementError
from newsletter.readers.roster import RosterError
from newsletter.service.alerts import fetch_alert, judge_alerts
from newsletter.service.context import ServiceContext
from newsletter.service.health import FetchStatus
from newsletter.service.schedule import FetchPlan, feed_shows, fetch_plan

log = logging.getLogger(__name__)

# Past the retry bound (alerted), one try an hour until the next announcement is expected: the feed
# may come back while readers' mornings are still ahead, and an hourly request costs arXiv nothing.
OVERDUE_RETRY = dt.timedelta(hours=1)


class FetchJob:
    """`tick(now)`: one step of the fetch job, and the prepare step after a fetch."""

    def __init__(self, context: ServiceContext) -> None:
        self.context = context
        self._tried_at: dict[dt.date, dt.datetime] = {}  # the last try of each expected day
        self._problem: tuple[object, ...] | None = None  # what the last failed fetch met
        self._last_categories: set[str] = set()  # what the last readable roster asked to fetch

    def tick(self, now: dt.datetime) -> FetchStatus:
        """One step; returns what happened (also in the health state)."""
        context, state = self.context, self.context.state
        with context.work:
            want = self._plan(now).want
            plan = self._plan(now, stored_dates(context.db, want), tried=want in self._tried_at)
            if plan.action == "done":
                state.record_fetch(plan.want, "done", None, now)
                return "done"
            if plan.action == "overdue" and now - self._tried_at[plan.want] < OVERDUE_RETRY:
                last_error = state.fetch_error  # kept: what the last try met
                state.record_fetch(plan.want, "overdue", last_error, now)
                waited = now - feed_shows(plan.want)
                context.alerter.send(fetch_alert(plan.want, last_error or "not fetched", waited=waited), now)
                return "overdue"
            self._tried_at[plan.want] = now
            status, error = self._fetch_and_prepare(plan.want, now)
            # Past the bound (or the one try of a late start) a failure is "overdue", alerted once.
            if status == "failed" and self._plan(now).action == "overdue":
                status = "overdue"
                waited = now - feed_shows(plan.want)
                context.alerter.send(fetch_alert(plan.want, error or "", waited=waited), now)
            state.record_fetch(plan.want, status, error, now)
            return status

    def _plan(self, now: dt.datetime, stored: Collection[dt.date] = (), *, tried: bool = True) -> FetchPlan:
        settings = self.context.settings
        return fetch_plan(now, stored, retry_for=dt.timedelta(hours=settings.fetch_retry_hours), tried=tried,
                          extra_holidays=settings.extra_holidays)

    def _fetch_and_prepare(self, want: dt.date, now: dt.datetime) -> tuple[FetchStatus, str | None]:
        from newsletter.daily.run import score_ahead
        from newsletter.daily.stages import fetch_stage

        context = self.context
        try:
            subscribers = context.active(context.roster())
        except RosterError as exc:
            # A broken subscriber list is alerted by the delivery side; fetch what the readers
            # last wanted, so the day is stored by the time the list is fixed.
            if not self._last_categories:
                return "failed", f"the subscriber list cannot be read, so nor its categories: {exc}"
            log.warning("fetching %s for the categories last read: %s", want, exc)
            subscribers = []
        categories = sorted(
            {c for s in subscribers for c in s.categories}
            or self._last_categories
            or set(context.settings.default_categories)
        )
        self._last_categories = set(categories)
        adapters = context.adapters_for(want)
        try:
            day = fetch_stage(now=now, settings=context.settings, db=context.db, adapters=adapters,
                              digest_date=want, categories=categories)
        except NoAnnouncementError as exc:
            log.info("no digest today: %s", exc)
            return "no announcement", None
        except FetchError as exc:
            # A warning when the trouble starts or changes; the same trouble at every try is routine
            # (compared without the message, which names the time of the try).
            problem = (want, type(exc), exc.url, exc.status, getattr(exc, "feed_date", None))
            level = logging.INFO if problem == self._problem else logging.WARNING
            self._problem = problem
            log.log(level, "fetching the announcement of %s failed (will retry): %s", want, exc)
            return "failed", str(exc)
        finally:
            adapters.source.close()  # the day is stored (or not): scoring needs no HTTP session
        if subscribers:
            prepared = score_ahead(now=now, settings=context.settings, db=context.db, adapters=adapters,
                                   digest_date=day.date, subscribers=subscribers)
            for alert in judge_alerts(prepared) if prepared else ():
                context.alerter.send(alert, now)
        return "fetched", None
