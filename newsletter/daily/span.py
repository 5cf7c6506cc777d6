"""Which announcement days one digest covers: weekly digests, pauses, and changes of frequency.

Each reader is "covered through" the date of the newest digest they have had (a `deliveries` row
that is sent, in flight, `unknown` or `empty`; see `newsletter.db.deliveries.covered_through`).
A digest dated D covers the stored announcement days after that date up to D, so:

- a daily reader whose last digest was the previous announcement day gets D alone, as ever;
- a weekly reader gets the days since their last digest (`weekly`: on their weekday only);
- a paused reader gets nothing while paused, and no day before `paused_until` ever: the first
  digest after the pause starts at it, so nothing piles up;
- a reader who switches daily → weekly → daily mid-week gets every day exactly once: each digest
  starts where the last one ended, whichever frequency sent it.

No state of its own: what was delivered says where the next digest starts. A paper is never sent
twice in any case (`delivered_paper_ids`), so a span that overlaps an earlier one repeats nothing.
Earlier days are scored from the score cache (`score_from_cache`): no LLM call for a day that was
scored already.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from newsletter.daily.selection import in_categories
from newsletter.daily.stages import Votes, criteria_categories
from newsletter.daily.wiring import Adapters
from newsletter.db import Database
from newsletter.db import deliveries as delivery_store
from newsletter.db.papers import load_day, stored_dates
from newsletter.models import AnnouncementDay, Paper, Subscriber
from newsletter.ranking.llm_stage import UsageMeter
from newsletter.ranking.scoring import CriteriaScores, score_criteria, score_from_cache

log = logging.getLogger(__name__)

# How far back one digest reaches, its own date included: two weeks of announcements. Longer
# would mean a reader back after a long gap the pause did not cover (an outage, a roster row
# removed and added again) gets a month of papers ranked against each other, most of them stale;
# two weeks still covers a weekly reader who missed one week (a failed send, a holiday closure).
LOOK_BACK_DAYS = 14
# A weekly reader's first digest (no earlier one): the week that ends with it.
FIRST_WEEK_DAYS = 7


def local_today(subscriber: Subscriber, now: dt.datetime) -> dt.date:
    """The reader's calendar date at `now`, in their time zone."""
    return now.astimezone(ZoneInfo(subscriber.timezone)).date()


def is_paused(subscriber: Subscriber, now: dt.datetime) -> bool:
    """No digest at all on the reader's local dates before `paused_until`."""
    return subscriber.paused_until is not None and local_today(subscriber, now) < subscriber.paused_until


def cadence_allows(subscriber: Subscriber, digest_date: dt.date, now: dt.datetime) -> bool:
    """Whether the reader's frequency and pause let them have the digest dated `digest_date` at
    `now` (send times and windows aside: that is `newsletter.service.schedule`'s part). A day
    before `paused_until` is never sent; a weekly reader is served on their weekday only."""
    if subscriber.paused_until is not None and (
        digest_date < subscriber.paused_until or is_paused(subscriber, now)
    ):
        return False
    if subscriber.frequency == "weekly":
        return local_today(subscriber, now).weekday() == subscriber.weekday
    return True


def first_date(subscriber: Subscriber, digest_date: dt.date, covered: dt.date | None) -> dt.date:
    """The earliest announcement date the digest dated `digest_date` may cover: the day after the
    last digest's (`covered`), never before the pause's end nor `LOOK_BACK_DAYS` back."""
    if covered is not None:
        start = covered + dt.timedelta(days=1)
    elif subscriber.frequency == "weekly":
        start = digest_date - dt.timedelta(days=FIRST_WEEK_DAYS - 1)
    else:
        start = digest_date  # a new daily reader starts with the day, as ever
    floor = digest_date - dt.timedelta(days=LOOK_BACK_DAYS - 1)
    start = max(start, floor, subscriber.paused_until or start)
    return min(start, digest_date)


def earlier_dates(db: Database, subscriber: Subscriber, digest_date: dt.date) -> tuple[dt.date, ...]:
    """The stored announcement dates before `digest_date` that its digest also covers, oldest first."""
    covered = delivery_store.covered_through(db, subscriber.email, before=digest_date)
    start = first_date(subscriber, digest_date, covered)
    return tuple(sorted(d for d in stored_dates(db, start) if d < digest_date))


@dataclass(frozen=True)
class Spans:
    """The earlier days the due readers' digests cover: per reader their dates, and per date and
    criteria text the day's papers (of that text's categories) and their scores."""

    dates: Mapping[str, tuple[dt.date, ...]]  # lower-cased address → earlier dates, oldest first
    papers: Mapping[tuple[dt.date, str], AnnouncementDay]
    scores: Mapping[tuple[dt.date, str], CriteriaScores]

    def digest_input(
        self, subscriber: Subscriber, day: AnnouncementDay, scored: CriteriaScores
    ) -> tuple[AnnouncementDay, CriteriaScores, dt.date | None]:
        """The reader's papers and scores over their whole span, dated `day.date`, and the span's
        first date (None for `day` alone: then `day` and `scored` come back as they are)."""
        earlier = [d for d in self.dates.get(subscriber.email.lower(), ())
                   if (d, subscriber.criteria) in self.papers]
        if not earlier:
            return day, scored, None
        papers = list(day.papers)
        scores = dict(scored.scores)
        # Newest day first: a paper announced again (a new version) is shown as its newest.
        for date in reversed(earlier):
            seen = {p.arxiv_id for p in papers}
            older = self.papers[(date, subscriber.criteria)]
            found = self.scores[(date, subscriber.criteria)].scores
            for paper in older.papers:
                if paper.arxiv_id not in seen and paper.arxiv_id in found:
                    papers.append(paper)
                    scores[paper.arxiv_id] = found[paper.arxiv_id]
        spanned = AnnouncementDay(day.date, day.categories, tuple(papers))
        return spanned, replace(scored, scores=scores), earlier[0]


NO_SPANS = Spans({}, {}, {})


def prepare_spans(
    db: Database,
    subscribers: Sequence[Subscriber],
    digest_date: dt.date,
    adapters: Adapters,
    *,
    peers: Sequence[Subscriber] = (),
    on_usage: UsageMeter | None = None,
    votes: Votes | None = None,
) -> Spans:
    """Load and score the earlier days of every due reader's span, once per (day, criteria text),
    over the same categories the day's own scoring used (`criteria_categories`)."""
    dates = {s.email.lower(): earlier_dates(db, s, digest_date) for s in subscribers}
    wanted: dict[dt.date, list[Subscriber]] = {}
    for subscriber in subscribers:
        for date in dates[subscriber.email.lower()]:
            wanted.setdefault(date, []).append(subscriber)
    papers: dict[tuple[dt.date, str], AnnouncementDay] = {}
    scores: dict[tuple[dt.date, str], CriteriaScores] = {}
    for date, readers in sorted(wanted.items()):
        loaded: dict[frozenset[str], AnnouncementDay | None] = {}  # texts often share categories
        for criteria, categories in criteria_categories(readers, peers).items():
            key = frozenset(categories)
            if key not in loaded:
                loaded[key] = load_day(db, date, sorted(categories))
            day = loaded[key]
            if day is None:  # stored for other categories only: nothing of theirs to carry
                log.info("no stored announcement of %s for %s", date, "+".join(sorted(categories)))
                continue
            day = replace(day, papers=tuple(p for p in day.papers if in_categories(p, categories)))
            papers[(date, criteria)] = day
            taught = (votes or {}).get(criteria, ())
            scores[(date, criteria)] = _scores(criteria, day, adapters, on_usage, taught)
    return Spans(dates, papers, scores)


def _scores(
    criteria: str, day: AnnouncementDay, adapters: Adapters, on_usage: UsageMeter | None,
    votes: Sequence[tuple[Paper, int]],
) -> CriteriaScores:
    """An earlier day's scores: from the cache when it was scored for this text (no LLM call);
    else scored as usual, once (no reader of the text was served that day: its cost is the day's)."""
    cached = score_from_cache(criteria, day.papers, ranker=adapters.ranker, judge=adapters.judge,
                              cache=adapters.cache, votes=votes)
    if cached is not None:
        return cached
    return score_criteria(criteria, day.papers, ranker=adapters.ranker, judge=adapters.judge,
                          cache=adapters.cache, cut=adapters.cut, on_usage=on_usage, votes=votes)
