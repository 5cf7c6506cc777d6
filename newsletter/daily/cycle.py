"""The body of one daily cycle, run under the run lock for the due readers: fetch → score →
each reader's digest → the senders. `Kept` holds the digests that go to no sender (empty days,
previews, failures) while the composed ones stream on.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from newsletter.daily.send import ComposedDigest, DeliveryReport, deliver_all
from newsletter.daily.span import prepare_spans
from newsletter.daily.stages import (
    SCORE_WORKERS,
    NothingToSend,
    PreparedDigest,
    Preview,
    criteria_categories,
    criteria_votes,
    digest_stage,
    fetch_stage,
    score_stage,
    uncovered,
)
from newsletter.daily.summary import Progress, RunSummary, scoring_report
from newsletter.daily.wiring import Adapters, audit_every_for
from newsletter.db import Database
from newsletter.fetch import FetchError, NoAnnouncementError
from newsletter.models import AnnouncementDay, DigestEntry, Subscriber
from newsletter.ranking.llm_stage import UsageMeter
from newsletter.ranking.scoring import CriteriaScores
from newsletter.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Cycle:
    """fetch → score → select → render → deliver for the due readers, under the run lock."""

    now: dt.datetime
    settings: Settings
    db: Database
    adapters: Adapters
    dry_run: bool
    progress: Progress

    def run(
        self,
        summary: RunSummary,
        subscribers: Sequence[Subscriber],
        peers: Sequence[Subscriber],
        on_usage: UsageMeter,
    ) -> RunSummary:
        categories = sorted({c for cats in criteria_categories(subscribers, peers).values() for c in cats})
        try:
            day = fetch_stage(now=self.now, settings=self.settings, db=self.db, adapters=self.adapters,
                              digest_date=summary.digest_date, categories=categories)
        except NoAnnouncementError as exc:
            log.info("no digest today: %s", exc)
            return summary.ended("no announcement", str(exc))
        except FetchError as exc:
            log.info("fetching the announcement failed: %s", exc)
            return summary.ended("fatal", str(exc))  # the caller reports it (error line, alert)
        lacking = uncovered(subscribers, day)  # one reader's missing category must not stop the rest
        for email, reason in lacking.items():
            log.error("%s: %s", email, reason)
        subscribers = [s for s in subscribers if s.email not in lacking]
        scored = score_stage(
            day, subscribers, self.adapters, self.progress, peers=peers,
            workers=min(self.settings.llm_concurrency, SCORE_WORKERS),
            audit_every=audit_every_for(self.settings, self.db, day.date), on_usage=on_usage,
            votes=(votes := criteria_votes(self.db, subscribers)),
        )
        summary = replace(summary, papers=len(day.papers), scoring=scoring_report(scored, subscribers))
        # The earlier days weekly (and resuming, or switching) readers' digests also cover.
        spans = prepare_spans(self.db, subscribers, day.date, self.adapters, peers=peers, on_usage=on_usage,
                              votes=votes)
        kept = Kept(advance=self.progress("Digests", len(subscribers)), failed=lacking)
        # A generator: each digest is rendered when a sender is free for it, so memory holds a
        # few digests at a time whatever the number of readers.
        digests = (
            digest
            for subscriber in subscribers
            if (digest := kept.sendable(self._digest(
                subscriber, *spans.digest_input(subscriber, day, scored[subscriber.criteria]))))
        )
        if self.dry_run:
            for _ in digests:  # previews are written while preparing; a dry run yields no digest
                pass
            return kept.into(summary)
        report = deliver_all(digests, db=self.db, transport=self.adapters.transport,
                             clock=self.adapters.clock, concurrency=self.settings.send_concurrency,
                             progress=kept.advance)
        return kept.into(summary, report)

    def _digest(
        self, subscriber: Subscriber, day: AnnouncementDay, scored: CriteriaScores, first: dt.date | None
    ) -> PreparedDigest | _NotPrepared:
        try:
            return digest_stage(subscriber, day, scored, now=self.now, settings=self.settings,
                                db=self.db, dry_run=self.dry_run, first=first)
        except Exception as exc:  # one reader's bad data must not stop the others
            log.error("could not prepare the digest of %s: %s", subscriber.email, exc)
            log.debug("the traceback", exc_info=True)  # shown with NEWSLETTER_DEBUG=1
            return _NotPrepared(subscriber.email, f"could not prepare the digest: {exc}")


@dataclass(frozen=True, slots=True)
class _NotPrepared:
    email: str
    reason: str


@dataclass
class Kept:
    """The digests that go to no sender (empty days, previews, failures), kept for the summary
    while the composed ones stream on to the senders."""

    advance: Callable[[], None]
    empty: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    previews: dict[str, tuple[Path, ...]] = field(default_factory=dict)
    near_misses: dict[str, tuple[DigestEntry, ...]] = field(default_factory=dict)

    def sendable(self, digest: PreparedDigest | _NotPrepared) -> ComposedDigest | None:
        """The digest itself when a sender should have it; anything else is kept here."""
        if isinstance(digest, ComposedDigest):
            return digest
        if isinstance(digest, _NotPrepared):
            self.failed[digest.email] = digest.reason
        elif isinstance(digest, NothingToSend):
            self.empty.append(digest.email)
        else:
            self._keep_preview(digest)
        self.advance()
        return None

    def _keep_preview(self, preview: Preview) -> None:
        if preview.near_misses is not None:
            self.near_misses[preview.email] = preview.near_misses
        if preview.paths:
            self.previews[preview.email] = preview.paths
        else:
            self.empty.append(preview.email)

    def into(self, summary: RunSummary, report: DeliveryReport | None = None) -> RunSummary:
        """`summary` with what was kept and what the senders did (`report`)."""
        summary = replace(summary, empty=tuple(self.empty), failed=dict(self.failed),
                          previews=dict(self.previews), near_misses=dict(self.near_misses))
        if report is None:
            return summary
        summary = replace(summary, sent=report.sent, skipped=report.skipped,
                          failed={**self.failed, **report.failed})
        # This run's own `unknown` sends are in `failed` ("status unknown: …"); `unknown` stays
        # what earlier runs left, so the summary does not call this run's "of earlier runs".
        return summary.ended("aborted", report.aborted) if report.aborted else summary
