"""What a real small model did to the judge (issue 26), replayed by the loopback fake: answers that
repeat until the token cap, answers that never end, a deadline for the whole stage."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import pytest

from newsletter.models import Paper
from newsletter.ranking.llm import LiteLLMJudge
from newsletter.ranking.llm_call import answer_cap
from newsletter.ranking.prompt import parse_answer, salvage_items
from newsletter.ranking.scoring import DEADLINE_NOTE, score_criteria
from tests.fakes.llm_server import FakeLLM
from tests.ranking.test_llm_limits import CRITERIA, Sleeps, load_papers, make_judge, paper_ids_in
from tests.ranking.test_scoring import DictCache, WordRanker, top_half


def prompts(fake: FakeLLM) -> Counter[str]:
    """How often each exact prompt was sent."""
    return Counter(json.dumps(r["messages"], sort_keys=True) for r in fake.requests)


def test_every_call_carries_a_token_cap_sized_to_its_batch(fake_llm: FakeLLM) -> None:
    papers = load_papers(25)
    judge, _ = make_judge(fake_llm, batch_size=10)
    fake_llm.script("missing")  # the re-ask of one paper is capped for one paper

    result = judge.judge(CRITERIA, papers)

    assert result.unscored == frozenset()
    caps = [(len(paper_ids_in(r)), r.get("max_tokens")) for r in fake_llm.requests]
    assert all(cap == answer_cap(n) for n, cap in caps), caps
    assert answer_cap(10) <= 1300  # real answers for 10 papers were < 650 tokens


def test_the_complete_items_of_a_truncated_array_are_read() -> None:
    cut = '```json\n{"papers": [{"id": "1", "relevance": 7, "novelty": 3, "comment": "a"}, {"id": "2", "rel'
    assert salvage_items(cut) == [{"id": "1", "relevance": 7, "novelty": 3, "comment": "a"}]
    answer = parse_answer(cut, ["1", "2"])
    assert set(answer.verdicts) == {"1"} and answer.cut_short and not answer.malformed
    assert parse_answer("Sure! relevance 8", ["1"]).malformed


def test_an_answer_that_repeats_until_the_cap_keeps_its_items_and_asks_only_the_rest(
    fake_llm: FakeLLM,
) -> None:
    papers = load_papers(6)
    judge, _ = make_judge(fake_llm)
    fake_llm.script("repeat")

    result = judge.judge(CRITERIA, papers)

    assert result.unscored == frozenset(), result.errors
    first = fake_llm.requests[0]
    assert result.usage.completion_tokens <= sum(int(r["max_tokens"]) for r in fake_llm.requests)
    assert first["max_tokens"] == answer_cap(6)  # the loop stopped at the cap, not at 8,192 tokens
    # the first paper came back complete in the cut answer: only the other five are asked again
    assert paper_ids_in(fake_llm.requests[1]) == [p.arxiv_id for p in papers[1:]]
    assert len(fake_llm.requests) == 2


@pytest.mark.parametrize("step", ["repeat", "garbage", "all_ten"])
def test_no_identical_prompt_is_sent_more_than_twice(fake_llm: FakeLLM, step: str) -> None:
    fake_llm.default_step = step  # the model fails the same way for ever
    judge, _ = make_judge(fake_llm, batch_size=5)

    result = judge.judge(CRITERIA, load_papers(10))

    assert max(prompts(fake_llm).values()) <= 2, prompts(fake_llm).most_common(1)
    assert len(result.scores) + len(result.unscored) == 10


@pytest.mark.slow
def test_an_answer_that_never_ends_is_cut_at_the_bound_then_the_batch_is_split(
    fake_llm: FakeLLM,
) -> None:
    """A body trickling for an hour passes litellm's per-read timeout; the judge's bound on the
    whole call (timeout * 2 + 1 = 1.6 s) stops it. Asked once more, then in halves."""
    papers = load_papers(2)
    judge, sleeps = make_judge(fake_llm, timeout=0.3)
    fake_llm.script("forever", "forever")

    started = time.monotonic()
    result = judge.judge(CRITERIA, papers)

    assert time.monotonic() - started < 30  # two bounded calls, not an hour
    assert result.unscored == frozenset(), result.errors
    assert sorted(len(paper_ids_in(r)) for r in fake_llm.requests) == [1, 1, 2, 2]
    assert max(prompts(fake_llm).values()) == 2
    assert sleeps.delays == []  # a timeout is not a rate limit: no backoff, a different prompt
    assert result.usage.calls == 2  # the calls cut off were never answered, so they cost nothing


def slow_answers(fake: FakeLLM) -> None:
    fake.slow_seconds = 30.0  # cut short when the fake closes
    fake.default_step = "slow"


def test_the_deadline_stops_the_stage_and_the_rest_is_ranked_locally(fake_llm: FakeLLM) -> None:
    papers = load_papers(12)
    slow_answers(fake_llm)
    judge, _ = make_judge(fake_llm, deadline_seconds=0.5, timeout=60.0)

    started = time.monotonic()
    result = score_criteria(CRITERIA, papers, ranker=WordRanker(), judge=judge, cache=DictCache(),
                            cut=top_half)

    assert time.monotonic() - started < 20  # the calls in flight were cancelled at the deadline
    assert result.late == 6 and len(result.marked) == 6
    assert all(result.scores[i].comment.endswith(DEADLINE_NOTE) for i in result.marked)
    assert set(result.scores) == {p.arxiv_id for p in papers}


def test_after_the_deadline_no_call_is_made_for_the_other_criteria(fake_llm: FakeLLM) -> None:
    clock = [0.0]
    judge = LiteLLMJudge(fake_llm.model, api_base=fake_llm.api_base, api_key="sk-fake",
                         deadline_seconds=60.0, monotonic=lambda: clock[0], sleep=Sleeps())
    papers: list[Paper] = load_papers(4)

    first = judge.judge(CRITERIA, papers[:2])
    clock[0] = 61.0  # the first criteria text took the whole stage
    second = judge.judge("another reader's criteria", papers[2:])

    assert first.unscored == frozenset() and len(fake_llm.requests) == 1
    assert second.late == second.unscored == {p.arxiv_id for p in papers[2:]}
    assert any("deadline" in e for e in second.errors)


def test_frequency_penalty_is_sent_only_when_asked(fake_llm: FakeLLM) -> None:
    plain, _ = make_judge(fake_llm)
    penalised, _ = make_judge(fake_llm, frequency_penalty=0.3)
    plain.judge(CRITERIA, load_papers(1))
    penalised.judge(CRITERIA, load_papers(1))
    sent: list[dict[str, Any]] = fake_llm.requests
    assert "frequency_penalty" not in sent[0] and sent[1]["frequency_penalty"] == 0.3


def test_a_day_of_tens_or_of_one_score_is_degenerate_a_spread_is_not() -> None:
    from newsletter.models import Score
    from newsletter.ranking.judge_health import degenerate

    def day(*relevance: int) -> list[Score]:
        return [Score(f"p{n}", r, 5, "", source="llm") for n, r in enumerate(relevance)]

    found = degenerate(day(*[10] * 28, *[3] * 13))  # what a 1.5B model did to the bundled day
    assert found is not None and "28 of 41" in found and "10: 28, 3: 13" in found
    nines = degenerate(day(*[9] * 10, 8, 8))  # what a 0.5B model did to twelve candidates
    assert nines is not None and "10 of 12 judged papers got relevance 9 or more" in nines
    one = degenerate(day(*[6] * 9))
    assert one is not None and "all 9" in one
    assert degenerate(day(10, 10, 9, 7, 5, 3, 2, 1, 1)) is None
    assert degenerate(day(10, 10, 10)) is None  # too few judged to say
    assert degenerate([Score(f"l{n}", 10, 5, "", source="local") for n in range(20)]) is None
