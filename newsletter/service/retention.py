"""The service's daily prune: what is older than NEWSLETTER_RETENTION_DAYS goes (0 keeps all).

The rows first (newsletter/db/retention.py: papers, scores, runs; never the suppression list,
tokens, deliveries, which papers each reader had, feedback or alerts), then the `outbox/<date>/`
and `preview/<date>/` folders of the same days: a prune stopped between the two leaves only
folders, which the next prune removes (the database, not the files, says what was sent).
The readers' feed entries (newsletter/db/feed.py) go once the feed no longer shows them (30
days), or sooner with a shorter NEWSLETTER_RETENTION_DAYS; even with 0 they go after 30 days.

The file is not vacuumed: SQLite reuses the freed pages for the days that follow, so with a steady
retention the file stops growing; VACUUM would rewrite all of it (twice its size on disk for a
moment, and the write lock held throughout) to give back space that is soon needed again.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from newsletter.db import feed, retention
from newsletter.db.retention import PruneCounts
from newsletter.files import remove_dated_folders
from newsletter.service.context import ServiceContext
from newsletter.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PruneReport:
    before: dt.date  # everything dated before this went
    rows: PruneCounts
    folders: int  # outbox and preview folders removed
    feed_entries: int = 0  # the readers' feed entries removed (dated before the feed's window)


def cutoff(settings: Settings, now: dt.datetime) -> dt.date | None:
    """The first date kept; None when NEWSLETTER_RETENTION_DAYS is 0 (keep everything)."""
    if settings.retention_days == 0:
        return None
    return now.astimezone(dt.UTC).date() - dt.timedelta(days=settings.retention_days)


class RetentionJob:
    """`tick(now)`, once a day from the scheduler."""

    def __init__(self, context: ServiceContext) -> None:
        self.context = context

    def tick(self, now: dt.datetime) -> PruneReport | None:
        context = self.context
        before = cutoff(context.settings, now)
        window = now.astimezone(dt.UTC).date() - dt.timedelta(days=feed.FEED_DAYS)
        entries = feed.prune(context.db, window if before is None else max(before, window))
        if before is None:
            return None
        with context.work:  # not while a tick reads or writes the days
            rows = retention.prune(context.db, before)
            folders = [*remove_dated_folders(context.settings.outbox_dir, before),
                       *remove_dated_folders(context.settings.preview_dir, before)]
        if rows.days or rows.scores or rows.runs or folders:
            log.info("retention: removed what is dated before %s: %d day(s), %d paper(s), %d score(s),"
                     " %d run(s), %d folder(s)", before, rows.days, rows.papers, rows.scores, rows.runs,
                     len(folders))
        return PruneReport(before, rows, len(folders), entries)
