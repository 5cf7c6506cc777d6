"""The service's fetch job: try until the expected announcement is stored, then score it once
per distinct criteria ("prepare") so the first send finds the scores cached (see `newsletter.service.jobs`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection

from newsletter.daily.wiring import Adapters
from newsletter.fetch import FetchError, NoAnnouncementError
from newsletter.models import Subscriber
from newsletter.readers.roster import RosterError
from newsletter.service.alerts import fetch_alert
from newsletter.service.context import ServiceBase
from newsletter.service.schedule import FetchPlan, feed_shows, fetch_plan

log = logging.getLogger(__name__)

# Past the retry bound (alerted), one try an hour until the next announcement is expected: the feed
# may come back while readers' mornings are still ahead, and an hourly request costs arXiv nothing.
OVERDUE_RETRY = dt.timedelta(hours=1)


class FetchSide(ServiceBase):
    """`fetch_tick` and the prepare step after a fetch."""

    def fetch_tick(self, now: dt.datetime) -> str:
        """One step of the fetch job; returns what happened (also in the health state)."""
        with self.work:
            want = self._plan(now).want
            plan = self._plan(now, self.stored_dates(want), tried=want in self._tried_at)
            if plan.action == "done":
                self.state.update(fetch_want=plan.want, fetch_status="done", fetch_error=None, fetch_at=now)
                return "done"
            if plan.action == "overdue" and now - self._tried_at[plan.want] < OVERDUE_RETRY:
                last_error = self.state.fetch_error or "not fetched"
                self.state.update(fetch_want=plan.want, fetch_status="overdue", fetch_at=now)
                self.alerter.send(fetch_alert(plan.want, last_error, waited=now - feed_shows(plan.want)), now)
                return "overdue"
            self._tried_at[plan.want] = now
            status, error = self._fetch_and_prepare(plan.want, now)
            # Past the bound (or the one try of a late start) a failure is "overdue", alerted once.
            if status == "failed" and self._plan(now).action == "overdue":
                status = "overdue"
                waited = now - feed_shows(plan.want)
                self.alerter.send(fetch_alert(plan.want, error or "", waited=waited), now)
            self.state.update(fetch_want=plan.want, fetch_status=status, fetch_error=error, fetch_at=now)
            return status

    def _plan(self, now: dt.datetime, stored: Collection[dt.date] = (), *, tried: bool = True) -> FetchPlan:
        return fetch_plan(now, stored, retry_for=self.options.retry_for, tried=tried,
                          extra_holidays=self.settings.extra_holidays)

    def _fetch_and_prepare(self, want: dt.date, now: dt.datetime) -> tuple[str, str | None]:
        from newsletter.daily.stages import fetch_stage

        try:
            subscribers = self._active(self._roster())
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
            or set(self.settings.default_categories)
        )
        self._last_categories = set(categories)
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
            # A warning when the trouble starts or changes; the same trouble at every try is routine
            # (compared without the message, which names the time of the try).
            problem = (want, type(exc), exc.url, exc.status, getattr(exc, "feed_date", None))
            level = logging.INFO if problem == self._fetch_problem else logging.WARNING
            self._fetch_problem = problem
            log.log(level, "fetching the announcement of %s failed (will retry): %s", want, exc)
            self._close(adapters)
            return "failed", str(exc)
        self._close(adapters)
        if subscribers:
            self._prepare(day.date, subscribers, adapters, now)
        return "fetched", None

    def _prepare(
        self, digest_date: dt.date, subscribers: list[Subscriber], adapters: Adapters, now: dt.datetime
    ) -> None:
        from newsletter.daily.run import score_ahead

        score_ahead(now=now, settings=self.settings, db=self.db, adapters=adapters,
                    digest_date=digest_date, subscribers=subscribers)
