"""The service's fetch job. After every Sunday-to-Thursday mailing, whatever the holiday table says,
it reads arXiv's feed and stores the day the feed shows, dated by the feed itself (the table can be
wrong: arXiv publishes closures late and edits them). The table only says what to expect: a day it
expects is looked for through the staleness margin (`fetch_retry_hours` after the feed should
show it), then alerted once and looked for once an hour; a day it calls closed is looked for
through the margin and, if the feed shows it after all, served and alerted once.
Right after a fetch the day is scored once per distinct criteria ("prepare"), logged as a run so
its cost counts, so the first send finds the scores cached.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection

from newsletter.db.papers import load_day, save_day, stored_dates
from newsletter.fetch import FetchError, is_announcement_date, latest_possible_date
from newsletter.models import AnnouncementDay, Subscriber
from newsletter.readers.roster import RosterError
from newsletter.service.alerts import (
    closed_day_shown_alert,
    expected_day_missing_alert,
    fetch_alert,
    judge_alerts,
)
from newsletter.service.context import ServiceContext
from newsletter.service.health import FetchStatus
from newsletter.service.schedule import FetchPlan, feed_shows, fetch_plan

log = logging.getLogger(__name__)

# Past the retry bound (alerted), one try an hour until the next announcement is expected: the feed
# may come back while readers' mornings are still ahead, and an hourly request costs arXiv nothing.
OVERDUE_RETRY = dt.timedelta(hours=1)
STORED_LOOKBACK = dt.timedelta(days=14)  # stored dates the plan looks at (more than any closure)


class FetchJob:
    """`tick(now)`: one step of the fetch job, and the prepare step after a fetch."""

    def __init__(self, context: ServiceContext) -> None:
        self.context = context
        self._tried_at: dict[dt.date, dt.datetime] = {}  # the last try of each looked-for day
        self._problem: tuple[object, ...] | None = None  # what the last failed fetch met
        self._last_categories: set[str] = set()  # what the last readable roster asked to fetch
        self._feed_date: dt.date | None = None  # the date the feed showed at the last try

    def tick(self, now: dt.datetime) -> FetchStatus:
        """One step; returns what happened (also in the health state)."""
        context, state = self.context, self.context.state
        with context.work:
            stored = stored_dates(context.db, (now - STORED_LOOKBACK).date())
            want = self._plan(now, stored).want
            plan = self._plan(now, stored, tried=want in self._tried_at)
            if plan.action == "done":
                status: FetchStatus = "done" if plan.want in stored else "no announcement"
                state.record_fetch(plan.want, status, None, now)
                return status
            if plan.action == "overdue" and now - self._tried_at[plan.want] < OVERDUE_RETRY:
                # not tried again yet: what the last try met, past the margin now
                last: FetchStatus = "waiting" if state.fetch_status in ("waiting", "stale") else "failed"
                kept = self._past_margin(plan.want, last, state.fetch_error, now)
                state.record_fetch(plan.want, kept, state.fetch_error, now)
                return kept
            self._tried_at[plan.want] = now
            status, error = self._fetch_and_prepare(plan, now)
            stored = stored_dates(context.db, (now - STORED_LOOKBACK).date())
            if status in ("failed", "waiting") and self._plan(now, stored).action == "overdue":
                status = self._past_margin(plan.want, status, error, now)
            state.record_fetch(plan.want, status, error, now)
            return status

    def _past_margin(self, want: dt.date, status: FetchStatus, error: str | None,
                     now: dt.datetime) -> FetchStatus:
        """Past the margin (or the one try of a late start): alerted once. A feed that cannot be
        read is "overdue"; one that answers but stays on the day before is "stale"."""
        waited = now - feed_shows(want)
        if status == "waiting" and self._feed_date is not None:
            if self.context.state.fetch_status != "stale":  # once, not at every hourly try
                log.warning("no announcement dated %s: %s", want, error)
            self.context.alerter.send(expected_day_missing_alert(want, self._feed_date, waited=waited), now)
            return "stale"
        self.context.alerter.send(fetch_alert(want, error or "", waited=waited), now)
        return "overdue"

    def _plan(self, now: dt.datetime, stored: Collection[dt.date] = (), *, tried: bool = True) -> FetchPlan:
        settings = self.context.settings
        return fetch_plan(now, stored, retry_for=dt.timedelta(hours=settings.fetch_retry_hours), tried=tried,
                          extra_holidays=settings.extra_holidays)

    def _readers(self, want: dt.date) -> tuple[list[Subscriber], list[str]] | str:
        """The active readers and the categories to fetch, or why there are none to fetch."""
        context = self.context
        try:
            subscribers = context.active(context.roster())
        except RosterError as exc:
            # A broken subscriber list is alerted by the delivery side; fetch what the readers
            # last wanted, so the day is stored by the time the list is fixed.
            if not self._last_categories:
                error = f"the subscriber list cannot be read, so nor its categories: {exc}"
                log.warning("fetching %s: %s", want, error)  # /healthz says "failed", the log why
                return error
            log.warning("fetching %s for the categories last read: %s", want, exc)
            subscribers = []
        categories = sorted(
            {c for s in subscribers for c in s.categories}
            or self._last_categories
            or set(context.settings.default_categories)
        )
        self._last_categories = set(categories)
        return subscribers, categories

    def _fetch_and_prepare(self, plan: FetchPlan, now: dt.datetime) -> tuple[FetchStatus, str | None]:
        from newsletter.daily.run import score_ahead

        context = self.context
        readers = self._readers(plan.want)
        if isinstance(readers, str):
            return "failed", readers
        subscribers, categories = readers
        adapters = context.adapters_for(plan.want)
        try:
            day = adapters.source.fetch_latest(categories)
            self._check_date(day, now)
        except FetchError as exc:
            # A warning when the trouble starts or changes; the same trouble at every try is routine
            # (compared without the message, which names the time of the try).
            problem = (plan.want, type(exc), exc.url, exc.status)
            level = logging.INFO if problem == self._problem else logging.WARNING
            self._problem = problem
            log.log(level, "fetching the announcement of %s failed (will retry): %s", plan.want, exc)
            return "failed", str(exc)
        finally:
            adapters.source.close()  # the day is stored (or not): scoring needs no HTTP session
        self._problem, self._feed_date = None, day.date
        new = self._store(day, now)
        if new and subscribers:
            prepared = score_ahead(now=now, settings=context.settings, db=context.db, adapters=adapters,
                                   digest_date=day.date, subscribers=subscribers)
            for alert in judge_alerts(prepared) if prepared else ():
                context.alerter.send(alert, now)
        if day.date >= plan.want:
            return ("fetched" if new else "done"), None
        if not plan.expected:
            log.info("the feed still shows %s: no announcement dated %s, as the holiday table says",
                     day.date, plan.want)
            return "no announcement", None
        log.info("the feed still shows %s; the announcement dated %s is not there yet", day.date, plan.want)
        return "waiting", (f"the feed still shows {day.date}; the holiday table expected {plan.want}"
                           f" from {feed_shows(plan.want):%Y-%m-%d %H:%M} UTC")

    @staticmethod
    def _check_date(day: AnnouncementDay, now: dt.datetime) -> None:
        latest = latest_possible_date(now)
        if day.date > latest:
            raise FetchError(f"the feed is dated {day.date}, after any announcement possible at"
                             f" {now.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC (the newest is {latest});"
                             " not stored")

    def _store(self, day: AnnouncementDay, now: dt.datetime) -> bool:
        """Store the feed's day unless it is stored (True when new); a date the table calls closed
        is logged and alerted once: the feed is trusted."""
        context = self.context
        if load_day(context.db, day.date, day.categories) is not None:
            return False
        save_day(context.db, day, source=context.settings.arxiv_feed_url, now=now)
        log.info("fetched %d papers announced on %s for %s", len(day.papers), day.date,
                 "+".join(day.categories))
        if not is_announcement_date(day.date, context.settings.extra_holidays):
            log.warning("the feed shows an announcement dated %s, which the holiday table calls closed:"
                        " the feed is trusted and the day is served", day.date)
            context.alerter.send(closed_day_shown_alert(day.date), now)
        return True
