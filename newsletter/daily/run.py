"""One daily cycle: fetch → score → select → render → deliver, for every due subscriber.

`run_daily` takes `now`, the settings and the adapters (outside services) as arguments and reads
no clock of its own; the CLI and the service build the adapters with `build_adapters`.
The stages are in `newsletter.daily.stages` and return what they did; this module holds the run
lock and combines the stages' results into one `RunSummary`. `score_ahead` is the service's head
start: the day scored once per criteria text right after the fetch, before anyone is due.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import replace

from filelock import FileLock, Timeout

from newsletter.clock import Clock
from newsletter.daily.cycle import Cycle
from newsletter.daily.send import recover_interrupted
from newsletter.daily.span import cadence_allows
from newsletter.daily.stages import (
    SCORE_WORKERS,
    criteria_votes,
    score_stage,
)
from newsletter.daily.summary import Progress, RunSummary, no_progress, scoring_report
from newsletter.daily.wiring import Adapters, audit_every_for
from newsletter.db import Database, DatabaseError, delivery_transitions
from newsletter.db import deliveries as delivery_store
from newsletter.db import runs as run_log
from newsletter.db import subscribers as subscriber_store
from newsletter.db.papers import load_day, save_day, stored_dates
from newsletter.fetch import FetchError
from newsletter.fetch.calendar import FEED_LAG, latest_announcement_date, latest_possible_date
from newsletter.models import Subscriber
from newsletter.ranking.llm_stage import UsageMeter
from newsletter.readers.preferences import load_roster
from newsletter.readers.roster import Roster, RosterError
from newsletter.settings import Settings

log = logging.getLogger(__name__)

IsDue = Callable[[Subscriber, dt.date, dt.datetime], bool]
RUN_LOCK_WAIT = 600.0  # seconds a run waits for another one to finish


@contextlib.contextmanager
def exclusive(settings: Settings, dry_run: bool) -> Iterator[bool]:
    """Hold the data folder's run lock (waiting for another run); yields False if it never came."""
    if dry_run:
        yield True
        return
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(settings.data_dir / "run.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        # Said at once: a cron job that waits in silence for minutes looks hung.
        log.warning("another run holds %s; waiting up to %d minutes for it to finish",
                    settings.data_dir / "run.lock", RUN_LOCK_WAIT // 60)
        try:
            lock.acquire(timeout=RUN_LOCK_WAIT)
        except Timeout:
            yield False
            return
    try:
        yield True
    finally:
        lock.release()


def default_digest_date(now: dt.datetime, settings: Settings) -> dt.date:
    """The newest announcement the feed should show at `now` by the holiday table (arXiv's feed
    switches ~4 h after mailing); `_newest_shown` may find a newer one the feed shows."""
    return latest_announcement_date(now, settings.extra_holidays, lag=FEED_LAG)


def _newest_shown(now: dt.datetime, settings: Settings, db: Database, adapters: Adapters,
                  roster: Roster, table_day: dt.date) -> dt.date:
    """Without --date: the table's newest day, unless a feed showed a newer one. Where the table
    calls the newest possible day closed, the feed is asked (the table can be wrong) and a newer
    day it shows is stored and served: the feed's own date decides."""
    turn = latest_possible_date(now, lag=FEED_LAG)
    newer = [d for d in stored_dates(db, table_day) if table_day < d <= turn]
    if newer or turn == table_day:
        return max([table_day, *newer])
    categories = sorted({c for s in roster.subscribers for c in s.categories} or settings.default_categories)
    try:
        day = adapters.source.fetch_latest(categories)
    except FetchError as exc:  # the run goes on with the table's day, which fetches again
        log.info("could not look at the feed: %s", exc)
        return table_day
    if not table_day < day.date <= latest_possible_date(now):
        return table_day
    save_day(db, day, source=settings.arxiv_feed_url, now=now)
    log.warning("the feed shows an announcement dated %s, which the holiday table calls closed:"
                " the feed is trusted and the day is served", day.date)
    return day.date


def _due_subscribers(
    roster: Roster,
    db: Database,
    digest_date: dt.date,
    now: dt.datetime,
    *,
    only: Sequence[str],
    suppressed: Collection[str],
    is_due: IsDue | None,
    dry_run: bool,
) -> list[Subscriber]:
    wanted = {address.lower() for address in only}
    handled = {
        email
        for email, d in delivery_store.for_date(db, digest_date).items()
        if d.status in delivery_store.HANDLED
    }
    due = []
    for subscriber in roster.subscribers:
        key = subscriber.email.lower()
        if wanted and key not in wanted:
            continue
        if key in suppressed and not (dry_run and key in wanted):  # a preview may ask for anyone
            continue
        if not dry_run and (
            key in handled
            or not cadence_allows(subscriber, digest_date, now)  # paused, or not their weekday
            or (is_due is not None and not is_due(subscriber, digest_date, now))
        ):
            continue
        due.append(subscriber)
    return due


def _why_nobody_is_due(roster: Roster, only: Sequence[str], suppressed: Collection[str],
                       digest_date: dt.date, now: dt.datetime) -> str:
    wanted = {address.lower() for address in only}
    named = [s for s in roster.subscribers if not wanted or s.email.lower() in wanted]
    if not named:
        return f"{roster.path} lists no subscriber that can be served"
    left = [s.email for s in named if s.email.lower() in suppressed]
    if len(left) == len(named):
        return f"{left[0]} has unsubscribed" if len(left) == 1 else "every subscriber has unsubscribed"
    waiting = [s for s in named if s.email.lower() not in suppressed
               and not cadence_allows(s, digest_date, now)]
    if waiting:  # no failure: their digest comes on their weekday, or after the pause
        return (f"every active subscriber has had that day's digest or is not due today"
                f" ({len(waiting)} paused or weekly on another day)")
    return "every active subscriber has had that day's digest"


def run_daily(
    *,
    now: dt.datetime,
    settings: Settings,
    db: Database,
    adapters: Adapters,
    date: dt.date | None = None,
    only: Sequence[str] = (),
    dry_run: bool = False,
    is_due: IsDue | None = None,
    resend_unknown: bool = False,
    progress: Progress = no_progress,
    roster: Roster | None = None,
) -> RunSummary:
    """One daily cycle for every due subscriber (or `only` these); never two at once on one data folder.

    A second run waits for the first: otherwise it would take the first one's in-flight sends for
    interrupted ones. A dry run touches no delivery state and needs no lock.
    """
    summary = RunSummary(digest_date=date or default_digest_date(now, settings))
    with exclusive(settings, dry_run) as locked:
        if not locked:
            lock = settings.data_dir / "run.lock"
            return summary.ended("fatal", f"another run holds {lock}; try again when it has finished")
        if not dry_run:
            summary = _recover(summary, db, adapters, now, released_on=date, only=only,
                               resend_unknown=resend_unknown)
        try:
            roster = roster or load_roster(settings.subscribers, settings, db)  # with readers' own settings
        except RosterError as exc:
            return summary.ended("fatal", str(exc))
        if date is None:
            summary = replace(summary, digest_date=_newest_shown(now, settings, db, adapters, roster,
                                                                 summary.digest_date))
        summary = replace(summary, problems=tuple(str(p) for p in roster.problems),
                          problem_rows=len({p.line for p in roster.problems}))
        known = {s.email.lower() for s in roster.subscribers}
        if stranger := next((a for a in only if a.lower() not in known), None):
            return summary.ended("fatal", roster.why_not_served(stranger))
        suppressed = subscriber_store.suppressions(db)  # lower-cased addresses
        subscribers = _due_subscribers(
            roster, db, summary.digest_date, now, only=only, suppressed=suppressed, is_due=is_due,
            dry_run=dry_run,
        )
        summary = replace(summary, due=len(subscribers),
                          unknown=tuple(d.email for d in delivery_store.with_status(db, "unknown")))
        if not subscribers:
            return summary.ended("nothing due", _why_nobody_is_due(roster, only, suppressed,
                                                                        summary.digest_date, now))
        peers = [s for s in roster.subscribers if s.email.lower() not in suppressed]
        cycle = Cycle(now, settings, db, adapters, dry_run, progress)
        return _logged("dry-run" if dry_run else "run", summary, db, started_at=now, clock=adapters.clock,
                       work=lambda meter: cycle.run(summary, subscribers, peers, meter))


def _recover(
    summary: RunSummary,
    db: Database,
    adapters: Adapters,
    now: dt.datetime,
    *,
    released_on: dt.date | None,
    only: Sequence[str],
    resend_unknown: bool,
) -> RunSummary:
    """Close what killed runs left open; with `--resend-unknown`, put `unknown` sends back to pending."""
    if killed := run_log.close_killed_runs(db):
        log.warning("%d earlier run(s) had been killed before they finished", killed)
    interrupted = tuple(d.email for d in recover_interrupted(db, adapters.transport, now))
    released: tuple[str, ...] = ()
    if resend_unknown:
        released = tuple(delivery_transitions.release_unknown(
            db, now, summary.digest_date if released_on else None, emails=only or None
        ))
        log.info("%d unknown deliveries released for resending", len(released))
    return replace(summary, interrupted=interrupted, released=released)


def _logged(
    kind: run_log.RunKind,
    summary: RunSummary,
    db: Database,
    *,
    started_at: dt.datetime,
    clock: Clock,
    work: Callable[[UsageMeter], RunSummary],
) -> RunSummary:
    """`work` recorded in the runs log as one run: its LLM spend metered call by call, its
    figures stored when it ends — also when it crashes (a crashed run is never "ok")."""
    record = run_log.start_run(
        db, run_log.RunRecord(kind=kind, started_at=started_at, digest_date=summary.digest_date)
    )
    result = summary
    try:
        result = work(run_log.usage_meter(db, record))
    except BaseException as exc:
        result = summary.ended("fatal", f"the run stopped: {exc or type(exc).__name__}")
        raise
    finally:
        try:
            run_log.finish_run(db, result.as_record(record), clock())
        except DatabaseError as exc:  # the summary of who got what is still worth showing
            log.error("could not record the run: %s", exc)
            if result.outcome.kind not in ("fatal", "aborted"):
                result = result.ended("aborted", f"the run's record could not be stored: {exc}")
    return result


def score_ahead(
    *, now: dt.datetime, settings: Settings, db: Database, adapters: Adapters,
    digest_date: dt.date, subscribers: Sequence[Subscriber],
) -> RunSummary | None:
    """Score a stored day once per distinct criteria text before anyone is due (the service's
    head start after a fetch), logged as a `prepare` run so its cost counts. None when the day
    is not stored. A failure is only logged: the delivery run scores again."""
    categories = sorted({c for s in subscribers for c in s.categories})
    day = load_day(db, digest_date, categories)
    if day is None:
        return None

    # No reader paused past the day ever gets it: their criteria text is not paid for, unless
    # another reader shares it (all of them stay peers, so it is ranked as the delivery run does).
    wanted = [s for s in subscribers if s.paused_until is None or s.paused_until <= digest_date]

    def scoring(on_usage: UsageMeter) -> RunSummary:
        summary = RunSummary(digest_date=digest_date, papers=len(day.papers))
        try:
            scored = score_stage(
                day, wanted, adapters, no_progress, peers=subscribers,
                workers=min(settings.llm_concurrency, SCORE_WORKERS),
                audit_every=audit_every_for(settings, db, digest_date), on_usage=on_usage,
                votes=criteria_votes(db, subscribers),
            )
        except Exception as exc:  # the delivery run scores again; this was only a head start
            log.exception("scoring %s ahead of the sends failed", digest_date)
            return summary.ended("fatal", f"prepare: {exc}")
        return replace(summary, scoring=scoring_report(scored, wanted))

    summary = _logged("prepare", RunSummary(digest_date=digest_date), db, started_at=now,
                      clock=adapters.clock, work=scoring)
    log.info("prepared %s: %d criteria scored, LLM $%.4f", digest_date,
             len(summary.usage_by_criteria), summary.usage.cost_usd)
    return summary
