"""One daily cycle: fetch → score → select → render → deliver, for every due subscriber.

`run_daily` takes `now`, the settings and the adapters (outside services) as arguments and reads
no clock of its own; the CLI and the service build the adapters with `build_adapters`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from filelock import FileLock, Timeout

from newsletter.db import Database
from newsletter.db import deliveries as delivery_store
from newsletter.db import runs as run_log
from newsletter.db import subscribers as subscriber_store
from newsletter.db.papers import load_day, save_day
from newsletter.deliver import DeliveryJob, deliver_all
from newsletter.fetch import FetchError, NoAnnouncementError
from newsletter.fetch.calendar import FEED_LAG, latest_announcement_date
from newsletter.files import atomic_write_text
from newsletter.mail.compose import compose, reply_address, unsubscribe_url
from newsletter.mail.outbox import safe_filename
from newsletter.models import AnnouncementDay, Digest, Subscriber, Usage
from newsletter.pipeline import Adapters, Progress, RunSummary, no_progress
from newsletter.ranking.scoring import CriteriaScores, score_criteria
from newsletter.render import render_digest, render_empty
from newsletter.roster import Roster, RosterError, load_roster
from newsletter.select import in_categories, select
from newsletter.settings import Settings

log = logging.getLogger(__name__)

IsDue = Callable[[Subscriber, dt.date, dt.datetime], bool]
# Criteria ranked at once: the judge's shared semaphore bounds LLM calls; more workers only cost memory.
SCORE_WORKERS = 8
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
    is_due: IsDue | None,
    dry_run: bool,
) -> list[Subscriber]:
    wanted = {address.lower() for address in only}
    suppressed = subscriber_store.suppressions(db)
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
        if key in suppressed and not dry_run:
            continue
        if not dry_run and (
            key in handled or (is_due is not None and not is_due(subscriber, digest_date, now))
        ):
            continue
        due.append(subscriber)
    return due


def fetch_stage(
    *,
    now: dt.datetime,
    settings: Settings,
    db: Database,
    adapters: Adapters,
    digest_date: dt.date,
    categories: Sequence[str],
) -> AnnouncementDay:
    """The day from the database if it was fetched already, else from arXiv (stored once)."""
    stored = load_day(db, digest_date, categories)
    if stored is not None:
        return stored
    day = adapters.source.fetch_day(categories=tuple(sorted(categories)), want=digest_date, now=now)
    save_day(db, day, source=settings.arxiv_feed_url, now=now)
    log.info("fetched %d papers announced on %s for %s", len(day.papers), day.date, "+".join(day.categories))
    return day


def score_stage(
    day: AnnouncementDay,
    subscribers: Sequence[Subscriber],
    adapters: Adapters,
    progress: Progress,
    *,
    workers: int = 1,
) -> dict[str, CriteriaScores]:
    """Score once per distinct criteria text, over the union of its readers' categories.

    With an LLM judge, several criteria texts are scored at once (`workers`): the judge's own
    semaphore still bounds the calls in flight, and its latency then overlaps across criteria.
    """
    by_criteria: dict[str, set[str]] = defaultdict(set)
    for subscriber in subscribers:
        by_criteria[subscriber.criteria].update(subscriber.categories)
    advance = progress("Scoring", len(by_criteria))

    def one(item: tuple[str, set[str]]) -> tuple[str, CriteriaScores]:
        criteria, categories = item
        papers = [p for p in day.papers if in_categories(p, categories)]
        result = score_criteria(
            criteria,
            papers,
            ranker=adapters.ranker,
            judge=adapters.judge,
            cache=adapters.cache,
            cut=adapters.cut,
        )
        advance()
        return criteria, result

    if adapters.judge is None or workers <= 1 or len(by_criteria) <= 1:
        return dict(map(one, by_criteria.items()))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="score") as pool:
        return dict(pool.map(one, by_criteria.items()))


def _write_preview(folder: Path, digest_date: dt.date, address: str, markdown: str, html: str) -> list[Path]:
    base = folder / digest_date.isoformat()
    name = safe_filename(address)
    paths = [base / f"{name}.md", base / f"{name}.html"]
    atomic_write_text(paths[0], markdown)
    atomic_write_text(paths[1], html)
    return paths


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
            summary.interrupted = [d.email for d in delivery_store.recover_interrupted(db, now)]
            if resend_unknown:
                released = delivery_store.release_unknown(db, now, digest_date if date else None)
                log.info("%d unknown deliveries released for resending", released)
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
        subscribers = _due_subscribers(
            roster, db, digest_date, now, only=only, is_due=is_due, dry_run=dry_run
        )
        summary.due = len(subscribers)
        summary.unknown = [d.email for d in delivery_store.with_status(db, "unknown")]
        if not subscribers:
            return summary
        record = run_log.start_run(
            db,
            run_log.RunRecord(kind="dry-run" if dry_run else "run", started_at=now, digest_date=digest_date),
        )
        try:
            _cycle(
                summary,
                subscribers,
                now=now,
                settings=settings,
                db=db,
                adapters=adapters,
                dry_run=dry_run,
                progress=progress,
            )
        finally:
            summary.fill_record(record)
            run_log.finish_run(db, record, adapters.clock())
        return summary


def _cycle(
    summary: RunSummary,
    subscribers: Sequence[Subscriber],
    *,
    now: dt.datetime,
    settings: Settings,
    db: Database,
    adapters: Adapters,
    dry_run: bool,
    progress: Progress,
) -> None:
    digest_date = summary.digest_date
    assert digest_date is not None
    categories = sorted({c for s in subscribers for c in s.categories})
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
        summary.fatal = str(exc)
        log.error("fetching the announcement failed: %s", exc)
        return
    summary.papers = len(day.papers)
    scored = score_stage(
        day, subscribers, adapters, progress, workers=min(settings.llm_concurrency, SCORE_WORKERS)
    )
    summary.add_scoring(scored, subscribers)

    advance = progress("Digests", len(subscribers))

    def jobs() -> Iterator[DeliveryJob]:
        # A generator: each digest is rendered when a sender is free for it, so memory holds a
        # few digests at a time whatever the number of readers.
        for subscriber in subscribers:
            try:
                job = _prepare(
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
                log.exception("could not prepare the digest of %s", subscriber.email)
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


def _prepare(
    subscriber: Subscriber,
    day: AnnouncementDay,
    scored: CriteriaScores,
    *,
    now: dt.datetime,
    settings: Settings,
    db: Database,
    dry_run: bool,
    summary: RunSummary,
) -> DeliveryJob | None:
    already = set() if dry_run else delivery_store.delivered_paper_ids(db, subscriber.email)
    entries = select(
        subscriber,
        day.papers,
        scored.scores,
        min_relevance=settings.min_relevance,
        min_novelty=settings.min_novelty,
        max_papers=settings.max_papers,
        already_sent=already,
    )
    token = subscriber_store.token_for(db, subscriber.email, now)
    leave_url, reply_to = unsubscribe_url(token, settings), reply_address(token, settings)
    if entries:
        rendered = render_digest(
            Digest(subscriber, day.date, entries), unsubscribe_url=leave_url, reply_to=reply_to
        )
    elif settings.send_empty:
        rendered = render_empty(subscriber, day.date, unsubscribe_url=leave_url, reply_to=reply_to)
    else:
        rendered = None
    if dry_run:
        if rendered is not None:
            summary.previews[subscriber.email] = _write_preview(
                settings.preview_dir, day.date, subscriber.email, rendered.markdown, rendered.html
            )
        else:
            summary.empty.append(subscriber.email)
        return None
    digest_id = delivery_store.digest_id_for(subscriber.email, day.date)
    if rendered is None:
        delivery_store.begin(
            db, subscriber.email, day.date, paper_ids=(), message_id="", now=now, status="empty"
        )
        summary.empty.append(subscriber.email)
        return None
    email = compose(
        rendered, to=subscriber.email, token=token, settings=settings, now=now, digest_id=digest_id
    )
    return DeliveryJob(email=email, digest_date=day.date, paper_ids=tuple(e.paper.arxiv_id for e in entries))


__all__ = ["Adapters", "RunSummary", "Usage", "fetch_stage", "run_daily", "score_stage"]
