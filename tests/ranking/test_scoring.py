"""score_criteria: local rank → cut → cache → LLM judge (the fake, through litellm) → merge."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping, Sequence

import pytest

from newsletter.models import CutAudit, Paper, Score, Usage
from newsletter.ranking.base import Judgement
from newsletter.ranking.budget import Budget
from newsletter.ranking.llm import LiteLLMJudge
from newsletter.ranking.scoring import BUDGET_NOTE, LLM_MISSING_NOTE, score_criteria
from tests.fakes.llm_server import FakeLLM
from tests.ranking.test_llm_judge import CRITERIA, KEY, Sleeps, load_papers


class WordRanker:
    """A trivial stand-in for the local ranker: shared words with the criteria → 1–10."""

    def __init__(self) -> None:
        self.histories: list[Sequence[tuple[Paper, int]]] = []
        self.votes: list[Sequence[tuple[Paper, int]]] = []

    def rank(
        self, criteria: str, papers: Sequence[Paper], history: Sequence[tuple[Paper, int]] = (),
        votes: Sequence[tuple[Paper, int]] = (),
    ) -> list[Score]:
        self.histories.append(history)
        self.votes.append(votes)
        words = set(criteria.lower().split())
        out = []
        for paper in papers:
            shared = len(words & set(f"{paper.title} {paper.abstract}".lower().split()))
            out.append(Score(paper.arxiv_id, max(1, min(10, shared // 3)), 3, "local: words"))
        return out


def top_half(scores: Sequence[Score]) -> list[str]:
    return [s.arxiv_id for s in scores[: len(scores) // 2]]


class DictCache:
    """In-memory ScoreCache keyed like the database one."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, str, int], tuple[Paper, Score]] = {}
        self.audits: dict[tuple[str, str, dt.date], CutAudit] = {}

    @staticmethod
    def _hash(criteria: str) -> str:
        return hashlib.sha256(criteria.encode()).hexdigest()

    def get_many(self, cache_key: str, criteria: str, papers: Iterable[Paper]) -> dict[str, Score]:
        h = self._hash(criteria)
        found = {}
        for p in papers:
            row = self.rows.get((cache_key, h, p.arxiv_id, p.version))
            if row:
                found[p.arxiv_id] = row[1]
        return found

    def put_many(
        self, cache_key: str, criteria: str, papers: Iterable[Paper], scores: Mapping[str, Score]
    ) -> None:
        h = self._hash(criteria)
        for p in papers:
            self.rows[(cache_key, h, p.arxiv_id, p.version)] = (p, scores[p.arxiv_id])

    def history(self, cache_key: str, criteria: str, limit: int) -> list[tuple[Paper, int]]:
        h = self._hash(criteria)
        rows = [v for k, v in self.rows.items() if k[:2] == (cache_key, h)]
        return [(p, s.relevance) for p, s in reversed(rows)][:limit]  # newest first, as the database

    def record_audit(self, cache_key: str, criteria: str, digest_date: dt.date, audit: CutAudit) -> None:
        self.audits[(cache_key, self._hash(criteria), digest_date)] = audit


def judge_for(fake: FakeLLM, **kw: object) -> LiteLLMJudge:
    options: dict[str, object] = {"timeout": 5.0, "backoff_base": 0.001, "sleep": Sleeps()}
    options.update(kw)
    model = str(options.pop("model", fake.model))
    return LiteLLMJudge(model, api_base=fake.api_base, api_key=KEY, **options)  # type: ignore[arg-type]


def test_without_a_judge_every_paper_gets_its_local_score() -> None:
    papers = load_papers(10)

    result = score_criteria(CRITERIA, papers, ranker=WordRanker(), judge=None, cache=None,
                            cut=top_half)

    assert set(result.scores) == {p.arxiv_id for p in papers}
    assert all(s.source == "local" for s in result.scores.values())
    assert result.locally_ranked == 10
    assert result.usage.calls == 0


def test_candidates_get_llm_scores_and_a_second_run_makes_no_call(fake_llm: FakeLLM) -> None:
    papers = load_papers(20)
    ranker, cache, judge = WordRanker(), DictCache(), judge_for(fake_llm)

    first = score_criteria(CRITERIA, papers, ranker=ranker, judge=judge, cache=cache, cut=top_half)
    calls_after_first = len(fake_llm.requests)
    second = score_criteria(CRITERIA, papers, ranker=ranker, judge=judge, cache=cache, cut=top_half)

    assert set(first.scores) == {p.arxiv_id for p in papers}
    assert first.candidates == 10
    assert first.llm_scored == 10
    assert first.locally_ranked == 10
    assert sum(s.source == "llm" for s in first.scores.values()) == 10
    sent = {pid for r in fake_llm.requests for pid in _ids(r)}
    assert sent == {pid for pid, s in first.scores.items() if s.source == "llm"}
    assert first.usage.calls == calls_after_first >= 1

    assert len(fake_llm.requests) == calls_after_first  # zero LLM calls the second time
    assert second.usage.calls == 0
    assert second.cached == 10
    assert second.llm_scored == 0
    assert second.scores == first.scores
    assert ranker.histories == [[], []]  # the day's own judgements never feed its ranking


def test_earlier_days_feed_the_ranker_and_a_rerun_sees_the_same_history(
    fake_llm: FakeLLM,
) -> None:
    papers = load_papers(24)
    yesterday, today = papers[:12], papers[12:]
    ranker, cache, judge = WordRanker(), DictCache(), judge_for(fake_llm)

    for day in (yesterday, today, today):
        score_criteria(CRITERIA, day, ranker=ranker, judge=judge, cache=cache, cut=top_half)

    assert len(ranker.histories[1]) == 6  # yesterday's six LLM-judged candidates
    assert {p.arxiv_id for p, _ in ranker.histories[1]} <= {p.arxiv_id for p in yesterday}
    assert ranker.histories[2] == ranker.histories[1]


def test_a_paper_the_llm_fails_on_keeps_its_local_score_and_is_marked(fake_llm: FakeLLM) -> None:
    papers = load_papers(8)
    ranker, cache = WordRanker(), DictCache()
    judge = judge_for(fake_llm, max_answer_rounds=2)
    fake_llm.script("missing", "garbage")  # the re-ask of the missing paper fails too

    result = score_criteria(CRITERIA, papers, ranker=ranker, judge=judge, cache=cache, cut=top_half)

    assert len(result.marked) == 1
    (lost,) = result.marked
    local = {s.arxiv_id: s for s in ranker.rank(CRITERIA, papers)}[lost]
    assert result.scores[lost].source == "local"
    assert result.scores[lost].relevance == local.relevance
    assert result.scores[lost].comment.endswith(LLM_MISSING_NOTE)
    assert result.llm_scored == 3
    assert result.errors
    # the failure is not cached: the next run asks the LLM about that paper again
    again = score_criteria(CRITERIA, papers, ranker=ranker, judge=judge, cache=cache, cut=top_half)
    assert again.llm_scored == 1
    assert again.cached == 3
    assert not again.marked


@pytest.mark.parametrize("step", ["401", "400"])
def test_a_failing_provider_leaves_every_paper_ranked(fake_llm: FakeLLM, step: str) -> None:
    papers = load_papers(8)
    fake_llm.script(*[step] * 5)

    result = score_criteria(CRITERIA, papers, ranker=WordRanker(), judge=judge_for(fake_llm),
                            cache=DictCache(), cut=top_half)

    assert set(result.scores) == {p.arxiv_id for p in papers}
    assert len(result.marked) == 4
    assert result.auth_failed is (step == "401")


def test_a_judge_that_raises_does_not_stop_the_run() -> None:
    class Broken:
        cache_key = "broken|p1"

        def judge(self, criteria: str, papers: Sequence[Paper], on_batch: object = None) -> Judgement:
            raise RuntimeError("boom")

    papers = load_papers(6)
    result = score_criteria(CRITERIA, papers, ranker=WordRanker(), judge=Broken(), cache=None,
                            cut=top_half)

    assert len(result.scores) == 6
    assert len(result.marked) == 3
    assert "boom" in result.errors[0]


def test_a_judge_answer_for_a_paper_never_asked_is_ignored() -> None:
    class Chatty:
        cache_key = "chatty|p1"

        def judge(self, criteria: str, papers: Sequence[Paper], on_batch: object = None) -> Judgement:
            scores = {p.arxiv_id: Score(p.arxiv_id, 9, 9, "yes", "llm") for p in papers}
            scores["not-asked"] = Score("not-asked", 10, 10, "?", "llm")
            return Judgement(scores=scores)

    result = score_criteria(CRITERIA, load_papers(4), ranker=WordRanker(), judge=Chatty(),
                            cache=None, cut=top_half)

    assert "not-asked" not in result.scores
    assert result.llm_scored == 2


def test_budget_spent_leaves_the_rest_locally_ranked(fake_llm: FakeLLM) -> None:
    papers = load_papers(20)
    budget = Budget(cap_usd=1e-9)
    judge = judge_for(fake_llm, model="openai/gpt-4o-mini", batch_size=5, concurrency=1,
                      budget=budget)

    result = score_criteria(CRITERIA, papers, ranker=WordRanker(), judge=judge, cache=DictCache(),
                            cut=top_half)
    later = score_criteria("another reader's criteria", papers, ranker=WordRanker(), judge=judge,
                           cache=DictCache(), cut=top_half)

    assert result.budget_exhausted
    assert later.budget_exhausted
    assert result.llm_scored == 5
    assert len(result.marked) == 5
    assert all(result.scores[i].comment.endswith(BUDGET_NOTE) for i in result.marked)
    assert result.usage.cost_usd > 0
    assert later.llm_scored == 0
    assert later.usage.calls == 0
    assert len(fake_llm.requests) == 1


def _ids(request: dict[str, object]) -> list[str]:
    import re

    return re.findall(r'<paper id="([^"]+)">', request["messages"][1]["content"])  # type: ignore[index]


def test_with_the_real_local_ranker_a_rerun_of_the_day_makes_no_llm_call(
    fake_llm: FakeLLM,
) -> None:
    from newsletter.ranking.local import LocalRanker, llm_candidates

    papers = load_papers()
    cache, judge = DictCache(), judge_for(fake_llm)

    first = score_criteria(CRITERIA, papers, ranker=LocalRanker(), judge=judge, cache=cache,
                           cut=llm_candidates)
    calls = len(fake_llm.requests)
    second = score_criteria(CRITERIA, papers, ranker=LocalRanker(), judge=judge, cache=cache,
                            cut=llm_candidates)

    assert set(first.scores) == {p.arxiv_id for p in papers}
    assert first.llm_scored == first.candidates > 0
    assert first.usage.calls == calls
    assert len(fake_llm.requests) == calls
    assert second.cached == first.candidates
    assert second.scores == first.scores


@pytest.mark.parametrize(
    "step", ["garbage", "missing", "out_of_range", "duplicate", "429", "500", "disconnect", "slow"]
)
def test_a_provider_that_keeps_failing_ends_with_every_paper_scored_or_marked(
    fake_llm: FakeLLM, step: str
) -> None:
    papers = load_papers(12)
    fake_llm.slow_seconds = 2.0
    fake_llm.script(*[step] * 60)
    judge = judge_for(fake_llm, timeout=0.2, max_attempts=2, max_answer_rounds=2)

    result = score_criteria(CRITERIA, papers, ranker=WordRanker(), judge=judge, cache=DictCache(),
                            cut=top_half)

    assert set(result.scores) == {p.arxiv_id for p in papers}
    assert result.candidates == 6
    for pid in result.marked:
        assert result.scores[pid].source == "local"
        assert result.scores[pid].comment.endswith(LLM_MISSING_NOTE)
    llm = {pid for pid, s in result.scores.items() if s.source == "llm"}
    assert len(llm) + len(result.marked) == 6
    assert result.marked  # the failure did reach these papers
    assert result.errors


def test_scores_are_cached_and_spend_metered_answer_by_answer(fake_llm: FakeLLM) -> None:
    papers, cache = load_papers(20), DictCache()
    seen: list[tuple[int, Usage]] = []  # (scores cached when the call's cost is metered, its cost)

    result = score_criteria(CRITERIA, papers, ranker=WordRanker(), judge=judge_for(fake_llm, batch_size=2),
                            cache=cache, cut=top_half, on_usage=lambda u: seen.append((len(cache.rows), u)))

    assert result.usage.calls == 5 and len(seen) == 5
    # Each call's scores are in the cache by the time its cost is metered, before the judge returns:
    # a run killed half-way keeps what it paid for. (Calls overlap, so the k-th meter reading sees
    # at least k answers cached.)
    assert all(cached >= 2 * k for k, (cached, _) in enumerate(seen, start=1))
    assert sum((u for _, u in seen), Usage()) == result.usage


def test_a_judge_that_reports_as_it_goes_is_not_cached_twice(fake_llm: FakeLLM) -> None:
    class CountingCache(DictCache):
        def __init__(self) -> None:
            super().__init__()
            self.written: list[str] = []

        def put_many(self, cache_key: str, criteria: str, papers: Iterable[Paper],
                     scores: Mapping[str, Score]) -> None:
            papers = list(papers)
            self.written += [p.arxiv_id for p in papers]
            super().put_many(cache_key, criteria, papers, scores)

    cache = CountingCache()

    result = score_criteria(CRITERIA, load_papers(20), ranker=WordRanker(), judge=judge_for(fake_llm),
                            cache=cache, cut=top_half)

    assert sorted(cache.written) == sorted(i for i, s in result.scores.items() if s.source == "llm")
