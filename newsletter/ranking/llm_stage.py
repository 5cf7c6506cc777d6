"""The LLM's part of scoring one criteria text (`newsletter.ranking.scoring`): the candidates'
cached LLM scores, then the judge asked about the rest. Each answer is cached, and its cost
metered, as the judge hands it over; a judge that raises (against its contract) costs no paper.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from newsletter.models import Paper, Score, Usage
from newsletter.ranking.base import BatchListener, Judge, Judgement, ScoreCache

log = logging.getLogger(__name__)

UsageMeter = Callable[[Usage], None]  # records LLM spend as it happens (the run's row, see db.runs)


def _safe_judge(
    judge: Judge, criteria: str, papers: Sequence[Paper], on_batch: BatchListener
) -> Judgement:
    if not papers:
        return Judgement(scores={})
    try:
        return judge.judge(criteria, papers, on_batch)
    except Exception as exc:  # the contract says a judge never raises; a run survives if it does
        log.exception("LLM judge failed on %d papers", len(papers))
        ids = frozenset(p.arxiv_id for p in papers)
        return Judgement(scores={}, unscored=ids, errors=(f"{type(exc).__name__}: {exc}",))


class _Saver:
    """Caches each LLM answer's scores and meters its cost as the judge hands them over."""

    def __init__(
        self,
        judge: Judge,
        criteria: str,
        asked: Mapping[str, Paper],
        cache: ScoreCache | None,
        on_usage: UsageMeter | None,
    ) -> None:
        self.key, self.criteria, self.asked = judge.cache_key, criteria, asked
        self.cache, self.on_usage = cache, on_usage
        self.saved: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, scores: Mapping[str, Score], usage: Usage) -> None:
        try:
            self.save(scores)
        finally:
            if self.on_usage is not None and usage.calls:
                self.on_usage(usage)

    def save(self, scores: Mapping[str, Score]) -> None:
        """Cache the LLM scores of asked papers not saved yet (the judge's own answer may not be
        trusted to hold only those)."""
        with self._lock:
            fresh = {
                i: s for i, s in scores.items()
                if i in self.asked and i not in self.saved and s.source == "llm"
            }
            if self.cache is not None and fresh:
                self.cache.put_many(self.key, self.criteria, [self.asked[i] for i in fresh], fresh)
            self.saved.update(fresh)


@dataclass(frozen=True, slots=True)
class LlmAnswers:
    """The LLM's part of the day: scores reused from the cache, fresh ones of the papers `asked`,
    and the judge's account of the usual candidates (`usual`) and of an audit day's others."""

    cached: dict[str, Score]
    fresh: dict[str, Score]
    asked: frozenset[str]
    usual: Judgement
    extra: Judgement

    @property
    def auth_failed(self) -> bool:
        return self.usual.auth_failed or self.extra.auth_failed

    @property
    def judged(self) -> dict[str, Score]:
        return {**self.cached, **self.fresh}


def ask_llm(
    criteria: str, candidates: list[Paper], usual: set[str], *, by_id: Mapping[str, Paper], judge: Judge,
    cache: ScoreCache | None, on_usage: UsageMeter | None,
) -> LlmAnswers:
    """The candidates' cached LLM scores, and the judge's on the rest, each answer cached and
    metered as it comes. `usual`: the ids the usual cut keeps; `by_id`: every paper of the day."""
    cached = cache.get_many(judge.cache_key, criteria, candidates) if cache else {}
    cached = {i: replace(s, source="llm") for i, s in cached.items() if i in by_id}
    to_judge = [p for p in candidates if p.arxiv_id not in cached]
    asked = {p.arxiv_id for p in to_judge}
    saver = _Saver(judge, criteria, {i: by_id[i] for i in asked}, cache, on_usage)
    # An audit day judges the usual candidates first, then the rest: the audit's extra spend can
    # never take the budget of the papers a normal day would have sent.
    judgement = _safe_judge(judge, criteria, [p for p in to_judge if p.arxiv_id in usual], saver)
    extra = _safe_judge(judge, criteria, [p for p in to_judge if p.arxiv_id not in usual], saver)
    fresh = {
        i: s
        for i, s in {**extra.scores, **judgement.scores}.items()
        if i in asked and s.source == "llm"
    }
    saver.save(fresh)  # what no answer handed over (a judge that does not report as it goes)
    return LlmAnswers(cached, fresh, frozenset(asked), judgement, extra)
