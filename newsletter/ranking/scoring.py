"""Scores for one criteria text over one day's papers: local rank → cut → cache → LLM → merge.

Every paper comes out with a score. The LLM's where it gave one (now or in an earlier run, from the
cache); the local ranker's otherwise. A paper the LLM was asked about but gave no score for keeps
its local score with a note at the end of its comment (`LLM_MISSING_NOTE`), so the digest can say
it was ranked locally. Nothing the LLM answers, and no exception from the judge, stops the run.

LLM scores are cached, and their cost metered (`on_usage`), answer by answer as they come: a run
killed half-way through the LLM stage leaves what it paid for, and its re-run asks only the rest.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from newsletter.models import CutAudit, Paper, Score, Usage
from newsletter.ranking.base import BatchListener, Judge, Judgement, Ranker, ScoreCache
from newsletter.ranking.judge_health import degenerate

log = logging.getLogger(__name__)

LLM_MISSING_NOTE = "(ranked locally: the LLM gave no score)"
BUDGET_NOTE = "(ranked locally: the day's LLM budget was spent)"
DEADLINE_NOTE = "(ranked locally: the LLM stage ran past its deadline)"

Cut = Callable[[Sequence[Score]], list[str]]
UsageMeter = Callable[[Usage], None]  # records LLM spend as it happens (the run's row, see db.runs)
HISTORY = 2000  # earlier LLM judgements handed to the ranker, newest first (LocalRanker uses as many)


@dataclass(frozen=True, slots=True)
class CriteriaScores:
    """The outcome of scoring one criteria text; `scores` holds every paper, by arXiv id, in the
    local ranker's order (which the digest keeps among papers of equal scores)."""

    scores: dict[str, Score]
    usage: Usage = field(default_factory=Usage)
    llm_scored: int = 0  # scored by the LLM in this run
    locally_ranked: int = 0  # keep their local score (below the cut, no LLM, or marked)
    budget_exhausted: bool = False
    candidates: int = 0  # papers for the LLM: those past the cut, or all on an audit day
    cached: int = 0  # LLM scores reused from the cache: no call made
    marked: frozenset[str] = field(default_factory=frozenset)  # asked, but no LLM score
    auth_failed: bool = False
    errors: tuple[str, ...] = ()
    audit: CutAudit | None = None  # an audit day: every paper went to the LLM
    late: int = 0  # of `marked`: left to the local ranker because the LLM deadline passed
    degenerate: str | None = None  # why the LLM's scores of the day look useless, with figures

    def ranked(self) -> list[Score]:
        """Best first: relevance, then novelty, then id for a stable order."""
        return sorted(self.scores.values(), key=lambda s: (-s.relevance, -s.novelty, s.arxiv_id))


def _local_scores(
    criteria: str, papers: Sequence[Paper], ranker: Ranker, history: Sequence[tuple[Paper, int]],
    votes: Sequence[tuple[Paper, int]],
) -> list[Score]:
    """The ranker's scores in its own order (best first), one per paper."""
    wanted = {p.arxiv_id for p in papers}
    ranked = list({s.arxiv_id: s for s in ranker.rank(criteria, papers, history, votes)
                   if s.arxiv_id in wanted}.values())
    seen = {s.arxiv_id for s in ranked}
    for paper in papers:
        if paper.arxiv_id not in seen:  # a ranker bug must not drop a paper from the day
            log.warning("local ranker gave no score for %s", paper.arxiv_id)
            ranked.append(Score(paper.arxiv_id, 1, 1, "not ranked", source="local"))
    return ranked


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


def _mark(score: Score, note: str) -> Score:
    comment = f"{score.comment} {note}".strip()
    return replace(score, comment=comment, source="local")


def _history(
    criteria: str, papers: Sequence[Paper], judge: Judge | None, cache: ScoreCache | None
) -> list[tuple[Paper, int]]:
    """The LLM's earlier judgements for this criteria text, for the ranker to learn from.

    Today's own judgements stay out: a rerun of the day then ranks and cuts exactly as the first
    run did, so every candidate is already cached and no LLM call is made. (Asking for that many
    more rows keeps the history as long as on the first run.)"""
    if cache is None or judge is None:
        return []
    today = {p.arxiv_id for p in papers}
    history = cache.history(judge.cache_key, criteria, HISTORY + len(today))
    return [(paper, relevance) for paper, relevance in history if paper.arxiv_id not in today][:HISTORY]


def _final(pid: str, local: Mapping[str, Score], judged: Mapping[str, Score], marked: frozenset[str],
           note: str) -> Score:
    """A paper's score: the LLM's (fresh or cached), else its local one, marked when it was asked
    and got no answer."""
    if pid in judged:
        return judged[pid]
    return _mark(local[pid], note) if pid in marked else local[pid]


def _audit(
    day: dt.date, criteria: str, judge: Judge, cache: ScoreCache | None, candidates: list[str],
    would_send: list[str], judged: Mapping[str, Score],
) -> CutAudit:
    audit = CutAudit.measure(candidates, would_send, judged)
    log.info("cut audit of %s: %s", day, audit.describe())
    if cache:
        cache.record_audit(judge.cache_key, criteria, day, audit)
    return audit


def score_criteria(
    criteria: str,
    papers: Sequence[Paper],
    *,
    ranker: Ranker,
    judge: Judge | None,
    cache: ScoreCache | None,
    cut: Cut,
    audit_on: dt.date | None = None,
    on_usage: UsageMeter | None = None,
    votes: Sequence[tuple[Paper, int]] = (),
) -> CriteriaScores:
    """Score every paper of `papers` against `criteria` (see the module docstring).

    `audit_on`: the day is an audit day (`newsletter.ranking.audit`): every paper goes to the
    judge, and what the usual cut would have caught is measured and stored. `on_usage` hears of
    each LLM call's cost as it is made. `votes`: the readers' votes on earlier papers (+1/-1),
    which move papers across the cut; the LLM never sees them, so its cached scores stay shared.
    """
    papers = list({p.arxiv_id: p for p in papers}.values())
    ranked = _local_scores(criteria, papers, ranker, _history(criteria, papers, judge, cache), votes)
    local = {s.arxiv_id: s for s in ranked}
    if judge is None:
        return CriteriaScores(scores=local, locally_ranked=len(local))

    by_id = {p.arxiv_id: p for p in papers}
    would_send = [i for i in dict.fromkeys(cut(ranked)) if i in by_id]
    usual = set(would_send)
    extras = [s.arxiv_id for s in ranked if s.arxiv_id not in usual] if audit_on else []
    candidates = [by_id[i] for i in would_send + extras]

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

    note = BUDGET_NOTE if judgement.budget_exhausted else LLM_MISSING_NOTE
    # Only a usual candidate is marked: past the cut, an audit's failure leaves a normal day's score.
    marked = frozenset((asked - fresh.keys()) & usual)
    late = marked & judgement.late
    judged = {**cached, **fresh}
    scores = {
        s.arxiv_id: _final(s.arxiv_id, local, judged, marked, DEADLINE_NOTE if s.arxiv_id in late else note)
        for s in ranked
    }
    if judgement.auth_failed or extra.auth_failed:
        log.error("the LLM provider rejected the API key (NEWSLETTER_LLM_API_KEY)")
    if marked:
        log.warning("%d of %d LLM candidates ranked locally", len(marked), len(would_send))
    audit = None
    if audit_on:
        audit = _audit(audit_on, criteria, judge, cache, [p.arxiv_id for p in candidates], would_send,
                       judged)
    return CriteriaScores(
        scores=scores,
        usage=judgement.usage + extra.usage,
        llm_scored=len(fresh),
        locally_ranked=len(papers) - len(fresh) - len(cached),
        budget_exhausted=judgement.budget_exhausted,
        candidates=len(candidates),
        cached=len(cached),
        marked=marked,
        auth_failed=judgement.auth_failed or extra.auth_failed,
        errors=judgement.errors + extra.errors,
        audit=audit,
        late=len(late),
        degenerate=degenerate(judged.values()),
    )


def score_from_cache(
    criteria: str,
    papers: Sequence[Paper],
    *,
    ranker: Ranker,
    judge: Judge | None,
    cache: ScoreCache | None,
    votes: Sequence[tuple[Paper, int]] = (),
) -> CriteriaScores | None:
    """An earlier day's scores again without a single LLM call: its cached LLM scores over the
    local ranker's. None when the cache holds no LLM score of these papers for this text (the day
    was never scored for it), and with no judge (then local ranking is all there is anyway).

    Not `score_criteria` again: the ranker has learnt from the days since, so its cut would now
    pick other candidates, and those would be new calls for a day already paid for."""
    if judge is None or cache is None:
        return None
    papers = list({p.arxiv_id: p for p in papers}.values())
    cached = cache.get_many(judge.cache_key, criteria, papers)
    if not cached:
        return None
    ranked = _local_scores(criteria, papers, ranker, _history(criteria, papers, judge, cache), votes)
    judged = {i: replace(s, source="llm") for i, s in cached.items()}
    scores = {s.arxiv_id: judged.get(s.arxiv_id, s) for s in ranked}
    return CriteriaScores(scores=scores, locally_ranked=len(scores) - len(judged), cached=len(judged))
