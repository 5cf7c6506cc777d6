"""Scores for one criteria text over one day's papers: local rank → cut → cache → LLM → merge.

Every paper comes out with a score. The LLM's where it gave one (now or in an earlier run, from the
cache); the local ranker's otherwise. A paper the LLM was asked about but gave no score for keeps
its local score with a note at the end of its comment (`LLM_MISSING_NOTE`), so the digest can say
it was ranked locally. Nothing the LLM answers, and no exception from the judge, stops the run.

LLM scores are cached, and their cost metered (`on_usage`), answer by answer as they come: a run
killed half-way through the LLM stage leaves what it paid for, and its re-run asks only the rest
(`newsletter.ranking.llm_stage`). Here: the local ranking, the cut, and the merge.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from newsletter.models import CutAudit, Paper, Score, Usage
from newsletter.ranking.base import Judge, Ranker, ScoreCache
from newsletter.ranking.judge_health import degenerate
from newsletter.ranking.llm_stage import LlmAnswers, UsageMeter, ask_llm

log = logging.getLogger(__name__)

LLM_MISSING_NOTE = "(ranked locally: the LLM gave no score)"
BUDGET_NOTE = "(ranked locally: the day's LLM budget was spent)"
DEADLINE_NOTE = "(ranked locally: the LLM stage ran past its deadline)"

Cut = Callable[[Sequence[Score]], list[str]]
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


def _candidates(ranked: list[Score], by_id: Mapping[str, Paper], cut: Cut, *, audit: bool
                ) -> tuple[list[str], list[Paper]]:
    """The ids the usual cut keeps (the papers a normal day would send), and the papers for the
    LLM: those, then on an audit day all the others."""
    would_send = [i for i in dict.fromkeys(cut(ranked)) if i in by_id]
    usual = set(would_send)
    extras = [s.arxiv_id for s in ranked if s.arxiv_id not in usual] if audit else []
    return would_send, [by_id[i] for i in would_send + extras]


def _merged(ranked: list[Score], answers: LlmAnswers, usual: set[str]
            ) -> tuple[dict[str, Score], frozenset[str], frozenset[str]]:
    """Every paper's score in the local ranker's order; the usual candidates the LLM gave no score
    (marked as ranked locally), and those of them the deadline left out."""
    note = BUDGET_NOTE if answers.usual.budget_exhausted else LLM_MISSING_NOTE
    # Only a usual candidate is marked: past the cut, an audit's failure leaves a normal day's score.
    marked = frozenset((answers.asked - answers.fresh.keys()) & usual)
    late = marked & answers.usual.late
    local, judged = {s.arxiv_id: s for s in ranked}, answers.judged
    scores = {
        s.arxiv_id: _final(s.arxiv_id, local, judged, marked, DEADLINE_NOTE if s.arxiv_id in late else note)
        for s in ranked
    }
    return scores, marked, late


def _log_trouble(answers: LlmAnswers, marked: frozenset[str], would_send: int) -> None:
    if answers.auth_failed:
        log.error("the LLM provider rejected the API key (NEWSLETTER_LLM_API_KEY)")
    if marked:
        log.warning("%d of %d LLM candidates ranked locally", len(marked), would_send)


def _outcome(
    scores: dict[str, Score], answers: LlmAnswers, marked: frozenset[str], late: frozenset[str], *,
    papers: int, candidates: int, audit: CutAudit | None,
) -> CriteriaScores:
    """What scoring the day came to, counts and the LLM's account included."""
    return CriteriaScores(
        scores=scores,
        usage=answers.usual.usage + answers.extra.usage,
        llm_scored=len(answers.fresh),
        locally_ranked=papers - len(answers.fresh) - len(answers.cached),
        budget_exhausted=answers.usual.budget_exhausted,
        candidates=candidates,
        cached=len(answers.cached),
        marked=marked,
        auth_failed=answers.auth_failed,
        errors=answers.usual.errors + answers.extra.errors,
        audit=audit,
        late=len(late),
        degenerate=degenerate(answers.judged.values()),
    )


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
    if judge is None:
        local = {s.arxiv_id: s for s in ranked}
        return CriteriaScores(scores=local, locally_ranked=len(local))

    by_id = {p.arxiv_id: p for p in papers}
    would_send, candidates = _candidates(ranked, by_id, cut, audit=bool(audit_on))
    usual = set(would_send)
    answers = ask_llm(criteria, candidates, usual, by_id=by_id, judge=judge, cache=cache, on_usage=on_usage)
    scores, marked, late = _merged(ranked, answers, usual)
    _log_trouble(answers, marked, len(would_send))
    audit = None
    if audit_on:
        audit = _audit(audit_on, criteria, judge, cache, [p.arxiv_id for p in candidates], would_send,
                       answers.judged)
    return _outcome(scores, answers, marked, late, papers=len(papers), candidates=len(candidates),
                    audit=audit)


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
