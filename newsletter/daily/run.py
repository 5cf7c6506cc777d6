"""One daily cycle: fetch → score → select → render → deliver, for every due subscriber.

`run_daily` takes `now`, the settings and the adapters (outside services) as arguments and reads
no clock of its own; the CLI and the service build the adapters with `build_adapters`.
The stages themselves are in `newsletter.daily.stages`; this module holds the run lock and the wiring.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Collection, Iterator, Sequence

from filelock import FileLock, Timeout

from newsletter.daily.send import DeliveryJob, deliver_all, recover_interrupted
from newsletter.daily.stages import SCORE_WORKERS, criteria_categories, digest_stage, fetch_stage, score_stage
from newsletter.daily.summary import Adapters, Progress, RunSummary, no_progress
from newsletter.daily.wiring import audit_every_for
from newsletter.db import Database, DatabaseError
from newsletter.db import deliveries as delivery_store
from newsletter.db import runs as run_log
from newsletter.db import subscribers as subscriber_store
from newsletter.fetch import FetchError, NoAnnouncementError
from newsletter.fetch.calendar import FEED_LAG, latest_announcement_date
from newsletter.models import Subscriber, Usage
from newsletter.ranking.scoring import UsageMeter
from newsletter.readers.roster import Roster, RosterError, load_roster
from newsletter.settings import Settings

log = logging.getLogger(__name__)

IsDue = Callable[[Subscriber, dt.date, dt.datetime], bool]
RUN_LOCK_WAIT = 600.0  # seconds a run waits for another one to finish


@contextlib.contextmanager
def _exclusive(settings: Settings, dry_run: bool) -> Iterator[bool]:
    """Hold the data folder's run lock (waiting for another run); yields False if it never came."""
    if dry_run:
        yield True
        return
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(settings.data_dir / "run.lock"))
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
    """The newest announcement the feed should show at `now` (arXiv's feed switches ~4 h after mailing)."""
    return latest_announcement_date(now, settings.extra_holidays, lag=FEED_LAG)


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
            key in handled or (is_due is not None and not is_due(subscriber, digest_date, now))
        ):
            continue
        due.append(subscriber)
    return due


def _why_nobody_is_due(roster: Roster, only: Sequence[str], suppressed: Collection[str]) -> str:
    wanted = {address.lower() for address in only}
    named = [s.email for s in roster.subscribers if not wanted or s.email.lower() in wanted]
    if not named:
        return f"{roster.path} lists no subscriber that can be served"
    left = [address for address in named if address.lower() in suppressed]
    if len(left) == len(named):
        return f"{left[0]} has unsubscribed" if len(left) == 1 else "every subscriber has unsubscribed"
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
    with _exclusive(settings, dry_run) as locked:
        if not locked:
            summary.fatal = (
                f"another run holds {settings.data_dir / 'run.lock'}; try again when it has finished"
            )
            return summary
        digest_date = summary.digest_date
        assert digest_date is not None
        if not dry_run:
            if killed := run_log.close_killed_runs(db):
                log.warning("%d earlier run(s) had been killed before they finished", killed)
            summary.interrupted = [d.email for d in recover_interrupted(db, adapters.transport, now)]
            if resend_unknown:
                summary.released = delivery_store.release_unknown(
                    db, now, digest_date if date else None, emails=only or None
                )
                log.info("%d unknown deliveries released for resending", len(summary.released))
        try:
            roster = roster or load_roster(settings.subscribers, settings)
        except RosterError as exc:
            summary.fatal = str(exc)
            return summary
        summary.problems = [str(p) for p in roster.problems]
        summary.problem_rows = len({p.line for p in roster.problems})
        if only:
            known = {s.email.lower() for s in roster.subscribers}
            summary.fatal = next(
                (
                    f"{a} is not a valid subscriber in {settings.subscribers}"
                    for a in only
                    if a.lower() not in known
                ),
                None,
            )
            if summary.fatal:
                return summary
        suppressed = subscriber_store.suppressions(db)  # lower-cased addresses
        subscribers = _due_subscribers(
            roster, db, digest_date, now, only=only, suppressed=suppressed, is_due=is_due, dry_run=dry_run
        )
        summary.due = len(subscribers)
        summary.unknown = [d.email for d in delivery_store.with_status(db, "unknown")]
        if not subscribers:
            summary.nothing_due = _why_nobody_is_due(roster, only, suppressed)
            return summary
        record = run_log.start_run(
            db,
            run_log.RunRecord(kind="dry-run" if dry_run else "run", started_at=now, digest_date=digest_date),
        )
        try:
            _cycle(
                summary,
                subscribers,
                peers=[s for s in roster.subscribers if s.email.lower() not in suppressed],
                now=now,
                settings=settings,
                db=db,
                adapters=adapters,
                dry_run=dry_run,
                progress=progress,
                on_usage=run_log.usage_meter(db, record),
            )
        except BaseException as exc:  # the runs log must not call a run that crashed "ok"
            summary.fatal = summary.fatal or f"the run stopped: {exc or type(exc).__name__}"
            raise
        finally:
            summary.fill_record(record)
            try:
                run_log.finish_run(db, record, adapters.clock())
            except DatabaseError as exc:  # the summary of who got what is still worth showing
                log.error("could not record the run: %s", exc)
                summary.aborted = summary.aborted or f"the run's record could not be stored: {exc}"
        return summary


def _cycle(
    summary: RunSummary,
    subscribers: Sequence[Subscriber],
    *,
    peers: Sequence[Subscriber],
    now: dt.datetime,
    settings: Settings,
    db: Database,
    adapters: Adapters,
    dry_run: bool,
    progress: Progress,
    on_usage: UsageMeter,
) -> None:
    digest_date = summary.digest_date
    assert digest_date is not None
    categories = sorted({c for cats in criteria_categories(subscribers, peers).values() for c in cats})
    try:
        day = fetch_stage(
            now=now,
            settings=settings,
            db=db,
            adapters=adapters,
            digest_date=digest_date,
            categories=categories,
        )
    except NoAnnouncementError as exc:
        summary.no_announcement = str(exc)
        log.info("no digest today: %s", exc)
        return
    except FetchError as exc:
        summary.fatal = str(exc)  # the caller reports it (the CLI's error line, the service's alert)
        log.info("fetching the announcement failed: %s", exc)
        return
    summary.papers = len(day.papers)
    scored = score_stage(
        day,
        subscribers,
        adapters,
        progress,
        peers=peers,
        workers=min(settings.llm_concurrency, SCORE_WORKERS),
        audit_every=audit_every_for(settings, db, day.date),
        on_usage=on_usage,
    )
    summary.add_scoring(scored, subscribers)

    advance = progress("Digests", len(subscribers))

    def jobs() -> Iterator[DeliveryJob]:
        # A generator: each digest is rendered when a sender is free for it, so memory holds a
        # few digests at a time whatever the number of readers.
        for subscriber in subscribers:
            try:
                job = digest_stage(
                    subscriber,
                    day,
                    scored[subscriber.criteria],
                    now=now,
                    settings=settings,
                    db=db,
                    dry_run=dry_run,
                    summary=summary,
                )
            except Exception as exc:  # one reader's bad data must not stop the others
                log.error("could not prepare the digest of %s: %s", subscriber.email, exc)
                log.debug("the traceback", exc_info=True)  # shown with NEWSLETTER_DEBUG=1
                summary.failed[subscriber.email] = f"could not prepare the digest: {exc}"
                job = None
            if job is None:
                advance()
            else:
                yield job

    if dry_run:
        for _ in jobs():  # previews are written while preparing; a dry run yields no job
            pass
        return
    report = deliver_all(
        jobs(),
        db=db,
        transport=adapters.transport,
        clock=adapters.clock,
        concurrency=settings.send_concurrency,
        progress=advance,
    )
    summary.add_delivery(report)


__all__ = ["Adapters", "RunSummary", "Usage", "run_daily"]
