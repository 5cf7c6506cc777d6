"""The preferences page's criteria preview (newsletter/web/preview.py): the latest stored day's
digest under a reader's new text, ranked with no LLM call.

Built here, not in web/, because it selects as the daily cycle does (`selection.select` with the
site's limits and the reader's own), and the web layer may not import the daily cycle.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from newsletter.clock import Clock, utc_now
from newsletter.daily.selection import in_categories, select
from newsletter.daily.stages import known_papers
from newsletter.db import Database
from newsletter.db import votes as vote_store
from newsletter.db.papers import load_day, stored_dates
from newsletter.db.scores import DatabaseScoreCache
from newsletter.models import Subscriber
from newsletter.ranking.base import Ranker
from newsletter.ranking.local import LocalRanker
from newsletter.ranking.scoring import HISTORY
from newsletter.settings import Settings
from newsletter.web.preview import Previewer, PreviewResult

LOOK_BACK = dt.timedelta(days=30)  # the newest stored day within this is previewed


def build_previewer(settings: Settings, db: Database, *, ranker: Ranker | None = None,
                    clock: Clock = utc_now) -> Previewer:
    """A Previewer over the state database: the local ranker learns from the text's cached LLM
    judgements (of the configured model) and the reader's votes; cached LLM scores win where the
    cache has them."""
    local = ranker or LocalRanker()
    cache = DatabaseScoreCache(db)
    key = _cache_key(settings)

    def preview(subscriber: Subscriber) -> PreviewResult:
        dates = sorted(stored_dates(db, clock().date() - LOOK_BACK), reverse=True)
        day = next((d for date in dates if (d := load_day(db, date, subscriber.categories))), None)
        if day is None:
            return PreviewResult(None, (), 0)
        papers = [p for p in day.papers if in_categories(p, subscriber.categories)]
        history = cache.history(key, subscriber.criteria, HISTORY) if key else []
        votes = vote_store.taught(db, [subscriber.email])
        scores = {s.arxiv_id: s for s in local.rank(subscriber.criteria, papers, history, votes)}
        if key:
            cached = cache.get_many(key, subscriber.criteria, papers)
            scores.update({i: replace(s, source="llm") for i, s in cached.items()})
        already = known_papers(db, subscriber.email, day.date)
        entries = select(subscriber, papers, scores, min_relevance=settings.min_relevance,
                         min_novelty=settings.min_novelty, max_papers=settings.max_papers,
                         already_sent=already)
        return PreviewResult(day.date, entries, len(papers))

    return preview


def _cache_key(settings: Settings) -> str | None:
    if not settings.llm_model:
        return None
    from newsletter.ranking.llm import judge_cache_key  # litellm only where a model is set

    return judge_cache_key(settings.llm_model)
