"""The day's digest to each due chat channel (`channels.csv`): one message (or a few, split at
paper boundaries when the service's limit is small), posted once per channel and day.

A channel is scored as one more reader of its criteria text, through the same score stage and
cache as the readers (a criteria text a reader shares costs no LLM call); a lab channel (`*`) gets
the papers most readers' digests carried that day, with how many readers each reached, and no
scoring at all. The post is claimed (→ sending) before the first message and settled after, each
step committed; a 429, a 5xx or a refused connection is retried with backoff, a post that went out
unanswered is `unknown` (never posted again blindly), anything else `failed` (a later run retries).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from newsletter.channels.file import Channel
from newsletter.channels.message import ChannelItem, messages
from newsletter.daily.run import exclusive
from newsletter.daily.selection import select
from newsletter.daily.send import RetryPolicy
from newsletter.daily.stages import SCORE_WORKERS, criteria_categories, fetch_stage, score_stage
from newsletter.daily.summary import no_progress
from newsletter.daily.wiring import Adapters, audit_every_for
from newsletter.db import Database
from newsletter.db import channel_deliveries as store
from newsletter.db.papers import papers_by_id
from newsletter.fetch import FetchError
from newsletter.mail.base import PermanentSendError, SendError, TransientSendError, UncertainSendError
from newsletter.models import AnnouncementDay, Subscriber
from newsletter.ranking.scoring import CriteriaScores
from newsletter.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChannelReport:
    """What each channel got; keyed by channel name (never its URL)."""

    sent: tuple[str, ...] = ()
    empty: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    failed: dict[str, str] = field(default_factory=dict)
    unknown: dict[str, str] = field(default_factory=dict)
    interrupted: tuple[str, ...] = ()  # left `sending` by a crash before this run: now `unknown`

    @property
    def problems(self) -> dict[str, str]:
        """Each channel that needs the admin's look → why (for the alert and the exit code)."""
        interrupted = "status unknown: interrupted mid-post by an earlier run; not posted again"
        return {**{f"channel {n}": r for n, r in self.failed.items()},
                **{f"channel {n}": f"status unknown: {r}" for n, r in self.unknown.items()},
                **{f"channel {n}": interrupted for n in self.interrupted}}


def lab_items(db: Database, digest_date: dt.date, max_papers: int) -> list[ChannelItem]:
    """The papers most readers' digests carried on `digest_date`, most readers first."""
    counts = store.reader_counts(db, digest_date)
    top = sorted(counts, key=lambda arxiv_id: (-counts[arxiv_id], arxiv_id))[:max_papers]
    papers = papers_by_id(db, top)
    return [ChannelItem(papers[i], readers=counts[i]) for i in top if i in papers]


def _scored_items(channel: Channel, day: AnnouncementDay, scored: CriteriaScores, settings: Settings,
                  db: Database) -> list[ChannelItem]:
    already = store.posted_paper_ids(db, channel.name, other_than=day.date)
    entries = select(channel.as_reader(), day.papers, scored.scores, min_relevance=settings.min_relevance,
                     min_novelty=settings.min_novelty, max_papers=channel.max_papers, already_sent=already)
    return [ChannelItem(e.paper, relevance=e.score.relevance, comment=e.score.comment) for e in entries]


@dataclass
class _Posting:
    """One channel's post with its retries (one thread per channel at a time)."""

    db: Database
    adapters: Adapters
    policy: RetryPolicy
    sleep: Callable[[float], None]
    stopping: Callable[[], bool]

    def post(self, channel: Channel, digest_date: dt.date, items: Sequence[ChannelItem]) -> tuple[str, str]:
        """(outcome, reason): outcome one of sent, empty, skipped, failed, unknown."""
        ids = tuple(item.paper.arxiv_id for item in items)
        clock = self.adapters.clock
        if not items:
            done = store.begin(self.db, channel.name, digest_date, paper_ids=(), parts=0, now=clock(),
                               status="empty")
            return ("empty" if done is not None else "skipped"), ""
        limit = self.adapters.poster.max_length(channel.url)
        parts = messages(channel.name, digest_date, items, lab=channel.lab, limit=limit)
        done = store.begin(self.db, channel.name, digest_date, paper_ids=ids, parts=len(parts), now=clock())
        if done is None:
            return "skipped", ""
        for number in range(done, len(parts)):
            outcome, reason = self._one(channel, parts[number])
            if outcome != "sent":
                store.mark_failed(self.db, channel.name, digest_date, error=reason, now=clock(),
                                  status="unknown" if outcome == "unknown" else "failed")
                return outcome, reason
            store.mark_part_sent(self.db, channel.name, digest_date, number + 1, clock())
        store.mark_sent(self.db, channel.name, digest_date, clock())
        return "sent", ""

    def _one(self, channel: Channel, body: str) -> tuple[str, str]:
        for attempt in range(1, self.policy.max_attempts + 1):
            if self.stopping():
                return "failed", "not posted: the service was stopping; retried on the next start"
            try:
                self.adapters.poster.post(channel.url, body, "")
                return "sent", ""
            except UncertainSendError as exc:
                return "unknown", f"{exc} (not retried: it may have been posted)"
            except TransientSendError as exc:
                if attempt == self.policy.max_attempts:
                    return "failed", f"gave up after {attempt} attempts: {exc}"
                delay = self.policy.wait(attempt, exc.retry_after)
                log.warning("post to channel %s failed (%s); retrying in %.1f s", channel.name, exc, delay)
                self.sleep(delay)
            except (PermanentSendError, SendError) as exc:
                return "failed", str(exc)
            except Exception as exc:  # one channel's surprise must not stop the others
                log.exception("unexpected error posting to channel %s", channel.name)
                return "failed", f"unexpected error: {type(exc).__name__}"
        return "failed", "not posted"  # pragma: no cover - the loop always returns


def _score(
    channels: Sequence[Channel], peers: Sequence[Subscriber], *, now: dt.datetime, settings: Settings,
    db: Database, adapters: Adapters, digest_date: dt.date,
) -> tuple[AnnouncementDay, dict[str, CriteriaScores]]:
    """The day and the scores of every scored channel's criteria text, shared with the readers'."""
    readers = [c.as_reader() for c in channels if not c.lab]
    by_criteria = criteria_categories(readers, peers)
    categories = sorted({c for cats in by_criteria.values() for c in cats})
    day = fetch_stage(now=now, settings=settings, db=db, adapters=adapters, digest_date=digest_date,
                      categories=categories)
    scored = score_stage(day, readers, adapters, no_progress, peers=peers,
                         workers=min(settings.llm_concurrency, SCORE_WORKERS),
                         audit_every=audit_every_for(settings, db, day.date)) if readers else {}
    return day, scored


def serve_channels(
    channels: Sequence[Channel],
    *,
    now: dt.datetime,
    settings: Settings,
    db: Database,
    adapters: Adapters,
    digest_date: dt.date,
    peers: Sequence[Subscriber] = (),
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], None] | None = None,
    stopping: Callable[[], bool] = lambda: False,
) -> ChannelReport:
    """Post `digest_date`'s digest to each of `channels` not yet handled. `peers`: the active
    readers (their categories join a shared criteria text's ranking, as in the readers' runs)."""
    rows = store.for_date(db, digest_date)
    due = [c for c in channels
           if not (r := rows.get(c.name.lower())) or not r.is_final(settings.max_send_runs)]
    if not due:
        return ChannelReport()
    scored_channels = [c for c in due if not c.lab]
    day, scored = (_score(scored_channels, peers, now=now, settings=settings, db=db, adapters=adapters,
                          digest_date=digest_date) if scored_channels else (None, {}))
    posting = _Posting(db, adapters, policy or RetryPolicy(), sleep or time.sleep, stopping)

    def one(channel: Channel) -> tuple[str, str, str]:
        try:
            if channel.lab:
                items = lab_items(db, digest_date, channel.max_papers)
            else:
                assert day is not None
                items = _scored_items(channel, day, scored[channel.criteria], settings, db)
            return (channel.name, *posting.post(channel, digest_date, items))
        except Exception as exc:  # one channel's bad data or bookkeeping must not stop the others
            log.exception("the post to channel %s failed", channel.name)
            return channel.name, "failed", f"could not post: {type(exc).__name__}: {exc}"

    workers = max(1, settings.send_concurrency)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="channel") as pool:
        outcomes = list(pool.map(one, due))
    for name, outcome, reason in outcomes:
        if outcome in ("failed", "unknown"):
            log.error("channel %s: %s: %s", name, outcome, reason)
    return ChannelReport(
        sent=tuple(n for n, o, _ in outcomes if o == "sent"),
        empty=tuple(n for n, o, _ in outcomes if o == "empty"),
        skipped=tuple(n for n, o, _ in outcomes if o == "skipped"),
        failed={n: r for n, o, r in outcomes if o == "failed"},
        unknown={n: r for n, o, r in outcomes if o == "unknown"},
    )


def run_channels(
    channels: Sequence[Channel],
    *,
    now: dt.datetime,
    settings: Settings,
    db: Database,
    adapters: Adapters,
    digest_date: dt.date,
    peers: Sequence[Subscriber] = (),
    stopping: Callable[[], bool] = lambda: False,
) -> ChannelReport:
    """`serve_channels` under the data folder's run lock, after settling what a crash left `sending`
    (under the lock no post is in flight, so each is `unknown`: maybe posted, not posted again)."""
    with exclusive(settings, dry_run=False) as locked:
        if not locked:
            held = "not posted: another run held the run lock"
            return ChannelReport(failed=dict.fromkeys((c.name for c in channels), held))
        interrupted = tuple(d.channel for d in store.recover_interrupted(db, now))
        try:
            report = serve_channels(channels, now=now, settings=settings, db=db, adapters=adapters,
                                    digest_date=digest_date, peers=peers, stopping=stopping)
        except FetchError as exc:
            report = ChannelReport(failed={c.name: f"not posted: {exc}" for c in channels})
    return replace(report, interrupted=interrupted)
