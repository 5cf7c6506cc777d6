"""The litellm judge's limits, through the loopback fake LLM: how long it waits before a retry,
when the budget stops it, what a failing batch costs the others, and what its errors never show."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from newsletter.daily.wiring import build_judge
from newsletter.db import Database
from newsletter.db import runs as run_log
from newsletter.models import Paper
from newsletter.ranking.budget import Budget
from newsletter.ranking.llm import LiteLLMJudge
from newsletter.ranking.llm_errors import is_retryable
from newsletter.settings import load_settings
from tests.fakes.llm_server import FakeLLM

DATA = Path(__file__).parents[1] / "data"
CRITERIA = (DATA / "llm_criteria_spatial.md").read_text(encoding="utf-8")
KEY = "sk-limits-secret-4711"


def load_papers(limit: int) -> list[Paper]:
    rows = [json.loads(line) for line in (DATA / "llm_papers_2025-06-19.jsonl").open()][:limit]
    return [Paper(r["id"], r["title"], tuple(r["authors"]), r["summary"], tuple(r["categories"]))
            for r in rows]


class Sleeps:
    """Records backoff delays instead of waiting them out; `then` runs after each."""

    def __init__(self, then: Callable[[], None] | None = None) -> None:
        self.delays: list[float] = []
        self.then = then

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        if self.then is not None:
            self.then()


def make_judge(fake: FakeLLM, sleeps: Sleeps | None = None, **kw: object) -> tuple[LiteLLMJudge, Sleeps]:
    sleeps = sleeps or Sleeps()
    options: dict[str, object] = {"timeout": 5.0, "backoff_base": 0.001, "sleep": sleeps}
    options.update(kw)
    return LiteLLMJudge(fake.model, api_base=fake.api_base, api_key=KEY, **options), sleeps  # type: ignore[arg-type]


def paper_ids_in(request: dict[str, object]) -> list[str]:
    user = request["messages"][1]["content"]  # type: ignore[index]
    return re.findall(r'<paper id="([^"]+)">', user)


# -- how long a retry waits ------------------------------------------------------------------


def test_a_long_retry_after_is_capped_by_backoff_max(fake_llm: FakeLLM) -> None:
    fake_llm.retry_after = "3600"  # a provider asking for an hour must not stall the run an hour
    fake_llm.script("429")
    judge, sleeps = make_judge(fake_llm, backoff_max=5.0)

    result = judge.judge(CRITERIA, load_papers(2))

    assert sleeps.delays == [5.0]
    assert len(result.scores) == 2


def test_a_retry_after_given_as_an_http_date_is_honoured(fake_llm: FakeLLM) -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    fake_llm.retry_after = email.utils.format_datetime(later, usegmt=True)  # RFC 9110's other form
    fake_llm.script("429")
    judge, sleeps = make_judge(fake_llm, backoff_max=60.0)

    result = judge.judge(CRITERIA, load_papers(2))

    # an hour from now, capped: not the 1 ms exponential backoff used without a Retry-After
    assert sleeps.delays == [60.0]
    assert len(result.scores) == 2


def test_a_retry_after_date_in_the_past_means_retry_at_once(fake_llm: FakeLLM) -> None:
    fake_llm.retry_after = "Wed, 21 Oct 2015 07:28:00 GMT"
    fake_llm.script("429")
    judge, sleeps = make_judge(fake_llm, backoff_base=0.5)  # without a Retry-After: 0.25–0.5 s

    result = judge.judge(CRITERIA, load_papers(2))

    assert sleeps.delays == [0.0]
    assert len(result.scores) == 2


@pytest.mark.slow
def test_backoff_jitter_never_drops_below_half_the_ceiling(fake_llm: FakeLLM) -> None:
    """Full jitter could retry at once, into the very overload that failed the call: the delay
    stays within [ceiling / 2, ceiling]. The ceiling is 1 s for every attempt here (base 1 s,
    capped at 1 s), so 24 random delays all land in [0.5, 1]."""
    fake_llm.script(*["500"] * 24)
    judge, sleeps = make_judge(fake_llm, max_attempts=25, backoff_base=1.0, backoff_max=1.0)

    result = judge.judge(CRITERIA, load_papers(1))

    assert len(sleeps.delays) == 24
    assert all(0.5 <= d <= 1.0 for d in sleeps.delays), sleeps.delays
    assert len(result.scores) == 1


def api_error(status: int) -> Exception:
    """litellm's catch-all error class, whose name is not among the retryable ones."""
    from litellm.exceptions import APIError

    return APIError(status_code=status, message="upstream trouble", llm_provider="openai", model="x")


def test_any_error_with_a_5xx_status_is_retryable_from_500_on() -> None:
    assert is_retryable(api_error(500))
    assert is_retryable(api_error(502))
    assert not is_retryable(api_error(499))
    assert not is_retryable(api_error(400))


def test_the_whole_call_timing_out_is_retryable() -> None:
    """The judge bounds each whole call with asyncio.wait_for, whose TimeoutError (the builtin
    since Python 3.11) may pass next time."""
    assert is_retryable(TimeoutError())
    assert not is_retryable(ValueError("a bug, not a timeout"))


# -- the budget --------------------------------------------------------------------------------


def test_the_budget_is_checked_again_before_each_retry(fake_llm: FakeLLM) -> None:
    """Another batch spends the rest of the budget while this one waits to retry: no retry."""
    budget = Budget(cap_usd=1.0)
    fake_llm.script("500")
    judge, _ = make_judge(fake_llm, Sleeps(then=lambda: budget.charge(1.0)), budget=budget)
    papers = load_papers(3)

    result = judge.judge(CRITERIA, papers)

    assert len(fake_llm.requests) == 1
    assert result.budget_exhausted
    assert result.unscored == {p.arxiv_id for p in papers}
    assert any("budget" in e for e in result.errors)


def test_a_budget_of_zero_makes_no_call(fake_llm: FakeLLM) -> None:
    papers = load_papers(3)
    judge, _ = make_judge(fake_llm, budget=Budget(cap_usd=0.0))

    result = judge.judge(CRITERIA, papers)

    assert fake_llm.requests == []
    assert result.budget_exhausted
    assert result.unscored == {p.arxiv_id for p in papers}
    assert result.usage.calls == 0


def test_a_budget_spent_by_earlier_runs_makes_no_call(fake_llm: FakeLLM) -> None:
    spent = Budget(cap_usd=0.5, spent_usd=0.5)  # the day's earlier runs used it all
    assert spent.spent_usd == 0.5
    assert spent.exhausted
    judge, _ = make_judge(fake_llm, budget=spent)

    result = judge.judge(CRITERIA, load_papers(3))

    assert fake_llm.requests == []
    assert result.budget_exhausted


def test_a_day_whose_earlier_runs_spent_the_budget_gets_no_more_llm_calls(fake_llm: FakeLLM) -> None:
    settings = load_settings(llm_model=fake_llm.model, llm_api_base=fake_llm.api_base, llm_api_key=KEY,
                             llm_daily_budget_usd=0.5)
    db = Database.open(settings.db_path)
    day, now = dt.date(2025, 6, 19), dt.datetime(2025, 6, 19, 6, tzinfo=dt.UTC)
    record = run_log.start_run(db, run_log.RunRecord(kind="prepare", started_at=now, digest_date=day))
    run_log.finish_run(db, replace(record, cost_usd=0.5), now)

    spent_day = build_judge(settings, db, day)
    fresh_day = build_judge(settings, db, day + dt.timedelta(days=1))
    assert spent_day is not None and fresh_day is not None

    assert spent_day.judge(CRITERIA, load_papers(2)).budget_exhausted
    assert fake_llm.requests == []
    assert len(fresh_day.judge(CRITERIA, load_papers(2)).scores) == 2
    assert len(fake_llm.requests) == 1


def test_the_budget_counts_on_from_what_was_spent() -> None:
    budget = Budget(cap_usd=1.0, spent_usd=0.25)
    assert budget.spent_usd == 0.25
    assert not budget.exhausted
    budget.charge(0.75)
    assert budget.spent_usd == 1.0
    assert budget.exhausted  # reaching the cap exactly is reaching it
    assert Budget(cap_usd=0.0).exhausted
    assert not Budget(cap_usd=None, spent_usd=1e9).exhausted


# -- failures, duplicates, secrets --------------------------------------------------------------


def test_an_unexpected_error_in_one_batch_keeps_the_other_batches_scores(fake_llm: FakeLLM) -> None:
    def broken() -> None:
        raise RuntimeError("a bug while waiting to retry")

    papers = load_papers(6)
    fake_llm.script("500")  # the first batch to call fails once, and its retry hits the bug
    judge, _ = make_judge(fake_llm, Sleeps(then=broken), batch_size=2, concurrency=1)

    result = judge.judge(CRITERIA, papers)

    assert len(result.scores) == 4
    assert len(result.unscored) == 2
    assert result.unscored | set(result.scores) == {p.arxiv_id for p in papers}
    assert any("RuntimeError: a bug while waiting to retry" in e for e in result.errors)


def test_a_paper_listed_twice_is_judged_once(fake_llm: FakeLLM) -> None:
    papers = load_papers(3)
    judge, _ = make_judge(fake_llm)

    result = judge.judge(CRITERIA, [*papers, papers[0], papers[1]])

    sent = [i for r in fake_llm.requests for i in paper_ids_in(r)]
    assert sorted(sent) == sorted(p.arxiv_id for p in papers)
    assert len(fake_llm.requests) == 1
    assert set(result.scores) == {p.arxiv_id for p in papers}
    assert result.unscored == frozenset()


def echoing_key(status: int) -> Callable[[dict[str, object]], tuple[int, dict[str, str], dict[str, object]]]:
    """A provider whose error message quotes the key it was given (as OpenAI's 401 used to)."""

    def step(body: dict[str, object]) -> tuple[int, dict[str, str], dict[str, object]]:
        message = f"Incorrect API key provided: {KEY}. You can find your API key elsewhere."
        return status, {}, {"error": {"message": message, "type": "fake", "code": str(status)}}

    return step


@pytest.mark.parametrize("status", [401, 500])
def test_the_api_key_never_shows_in_errors_even_when_the_provider_echoes_it(
    fake_llm: FakeLLM, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    papers = load_papers(2)
    fake_llm.script(echoing_key(status))
    judge, _ = make_judge(fake_llm, max_attempts=1)

    result = judge.judge(CRITERIA, papers)

    assert len(fake_llm.requests) == 1
    assert result.unscored == {p.arxiv_id for p in papers}
    assert result.auth_failed is (status == 401)
    assert result.errors
    assert all(KEY not in e for e in result.errors), result.errors
    assert any("Incorrect API key provided: ***" in e for e in result.errors), result.errors
    assert KEY not in caplog.text
