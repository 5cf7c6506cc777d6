"""The LLM judge: scores papers against one criteria text through litellm, never losing a paper.

Transport (`newsletter.ranking.llm_call`): `litellm.acompletion` under a semaphore, a token cap
sized to the batch, a bound on each call, backoff for rate limits and server errors. Answers:
every asked paper must come back exactly once with valid scores. A usable answer's complete items
are kept, also from an answer cut at the cap. What a failed answer (a timeout, or an answer cut
short or unreadable) left unscored is asked once more as it was, then in halves down to single
papers: the same prompt is never sent more than twice, since a model that looped on it at
temperature 0 loops again. Papers a valid answer left out are asked one by one.
A deadline (`deadline_seconds`, from the judge's first call: one judge serves one run) bounds the
whole stage: calls still in flight then are cancelled, and their papers reported `late`.
Whatever has no score is reported as unscored, with the reason, and never raised. Each answered
call is handed to the caller's `on_batch` as it comes (see `newsletter.ranking.base`). The
batches, the re-ask plan and the Judgement are `newsletter.ranking.llm_batches`'s; the calls are here.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from newsletter.models import Paper, Usage
from newsletter.ranking import prompt
from newsletter.ranking.background_loop import run_coroutine
from newsletter.ranking.base import BatchListener, Judgement
from newsletter.ranking.budget import Budget
from newsletter.ranking.llm_batches import JudgeRun, answer_scores, batches, judgement, reask_plan, report
from newsletter.ranking.llm_call import (
    TOKENS_PER_PAPER,
    CallOptions,
    Sleep,
    answer_cap,
    complete,
    measured_usage,
)
from newsletter.ranking.llm_errors import CallFailed

log = logging.getLogger(__name__)


def judge_cache_key(model: str) -> str:
    """What cached scores and audits are filed under: a new model or prompt starts afresh."""
    return f"{model}|{prompt.PROMPT_VERSION}"


class LiteLLMJudge:
    """Implements `newsletter.ranking.base.Judge` with any model litellm can call."""

    def __init__(
        self,
        model: str,
        *,
        api_base: str | None,
        api_key: str | None,
        batch_size: int = 10,
        concurrency: int = 8,
        timeout: float = 60.0,
        max_attempts: int = 4,
        budget: Budget | None = None,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        max_answer_rounds: int = 8,
        abstract_chars: int = prompt.MAX_ABSTRACT_CHARS,
        tokens_per_paper: int = TOKENS_PER_PAPER,
        frequency_penalty: float | None = None,
        deadline_seconds: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Sleep | None = None,
    ) -> None:
        if not model:
            raise ValueError("LLM model name is empty (NEWSLETTER_LLM_MODEL)")
        if min(batch_size, concurrency, max_attempts, max_answer_rounds, tokens_per_paper) < 1:
            raise ValueError(
                "batch_size, concurrency, max_attempts, max_answer_rounds, tokens_per_paper must be ≥ 1"
            )
        self.model = model
        self.api_base = api_base or None
        self.options = CallOptions(
            model, self.api_base, api_key or None, timeout, max_attempts, backoff_base, backoff_max,
            frequency_penalty,
        )
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.budget = budget
        self.max_answer_rounds = max_answer_rounds  # a safety bound on re-asks of one batch
        self.abstract_chars = abstract_chars
        self.tokens_per_paper = tokens_per_paper
        self.deadline_seconds = deadline_seconds
        self._monotonic = monotonic
        self._deadline_at: float | None = None
        self._sleep: Sleep = sleep or asyncio.sleep
        self._cost_unknown_logged = False
        # One semaphore per event loop, shared by every `judge` call on it: the daily run
        # scores several criteria texts at once, and `concurrency` must bound all their calls
        # together (a semaphore per call let 8 criteria × 8 = 64 calls fly with concurrency=8).
        self._semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    @property
    def cache_key(self) -> str:
        return judge_cache_key(self.model)

    @property
    def timeout(self) -> float:
        return self.options.timeout

    def __repr__(self) -> str:  # never shows the key
        return f"LiteLLMJudge({self.model!r}, api_base={self.api_base!r})"

    # -- public ----------------------------------------------------------------------------
    def judge(
        self, criteria: str, papers: Sequence[Paper], on_batch: BatchListener | None = None
    ) -> Judgement:
        """Score `papers` (sync facade; safe to call from any thread, also inside an event loop)."""
        return run_coroutine(self.ajudge(criteria, papers, on_batch))

    def time_left(self) -> float | None:
        """Seconds until the deadline (started by the first call), None without one."""
        if self.deadline_seconds is None:
            return None
        with self._lock:
            if self._deadline_at is None:
                self._deadline_at = self._monotonic() + self.deadline_seconds
            return self._deadline_at - self._monotonic()

    async def ajudge(
        self, criteria: str, papers: Sequence[Paper], on_batch: BatchListener | None = None
    ) -> Judgement:
        unique = list({p.arxiv_id: p for p in papers}.values())
        run = JudgeRun(on_batch=on_batch, topics=prompt.topic_numbers(criteria))
        left = self.time_left()
        late = left is not None and left <= 0
        if unique and not late:
            work = self._score_all(run, prompt.system_message(criteria), unique)
            try:
                await (work if left is None else asyncio.wait_for(work, left))
            except TimeoutError:  # the deadline: calls in flight are cancelled
                late = True
        return judgement(run, unique, late=late, deadline_seconds=self.deadline_seconds)

    async def _score_all(self, run: JudgeRun, system: str, papers: list[Paper]) -> None:
        semaphore = self._semaphore()
        outcomes = await asyncio.gather(
            *(self._score(run, semaphore, system, b) for b in batches(papers, self.batch_size)),
            return_exceptions=True,  # a bug in one batch must not lose the others' scores
        )
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                log.error("LLM batch failed unexpectedly", exc_info=outcome)
                run.errors.append(f"{type(outcome).__name__}: {outcome}")

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        with self._lock:
            semaphore = self._semaphores.get(loop)
            if semaphore is None:
                semaphore = self._semaphores[loop] = asyncio.Semaphore(self.concurrency)
            return semaphore

    # -- calls -----------------------------------------------------------------------------
    async def _score(
        self, run: JudgeRun, sem: asyncio.Semaphore, system: str, papers: list[Paper],
        round_: int = 0, retried: bool = False,
    ) -> None:
        """Ask about `papers`, then about what the answer left out (see the module docstring).
        `retried`: this very batch was asked before and failed."""
        answer, problem = await self._ask(run, sem, system, papers)
        if answer is None and problem is None:  # fatal for this run (key, budget): no re-ask
            return
        gained = answer.verdicts if answer is not None else {}
        left = [p for p in papers if p.arxiv_id not in gained]
        if not left:
            return
        failed = answer is None or answer.malformed or answer.cut_short or len(papers) == 1
        reason = problem or (answer.problems[0] if answer and answer.problems else "unknown")
        log.info("LLM answer round %d on %d paper(s): %s", round_ + 1, len(papers), reason)
        if round_ + 1 >= self.max_answer_rounds or (failed and retried and len(left) == 1):
            run.errors.append(f"no valid LLM answer for {len(left)} paper(s): {reason}")
            run.given_up.update(p.arxiv_id for p in left)
            return
        plan = reask_plan(left, failed=failed, gained=bool(gained), retried=retried)
        await asyncio.gather(*(self._score(run, sem, system, batch, round_ + 1, again)
                               for batch, again in plan))

    async def _ask(
        self, run: JudgeRun, sem: asyncio.Semaphore, system: str, papers: list[Paper]
    ) -> tuple[prompt.ParsedAnswer | None, str | None]:
        """(the parsed answer, None), (None, why) after a timeout, or (None, None) when a re-ask
        cannot help: the key was rejected, the budget is spent, a 4xx, or backoff ran out."""
        messages = [
            {"role": "system", "content": system},
            {"role": "user", "content": prompt.user_message(papers, self.abstract_chars)},
        ]
        try:
            async with sem:
                if run.auth_failed:  # the key is wrong for every batch: do not hammer the provider
                    return None, None
                reply = await complete(
                    self.options, messages, answer_cap(len(papers), self.tokens_per_paper),
                    sleep=self._sleep, on_usage=lambda response: self._account(run, response),
                    before_each=self._check_budget,
                )
        except CallFailed as exc:
            run.errors.append(str(exc))
            run.auth_failed |= exc.auth
            run.budget_exhausted |= exc.budget
            if not exc.timed_out:  # backoff was spent on it already, or no retry can cure it
                run.given_up.update(p.arxiv_id for p in papers)
                return None, None
            return None, str(exc)
        answer = prompt.parse_answer(reply.content, [p.arxiv_id for p in papers], run.topics)
        if reply.cut_at_cap and not answer.cut_short:  # whole JSON, yet stopped at the cap
            answer = prompt.ParsedAnswer(answer.verdicts, answer.problems, answer.malformed, True)
        fresh = answer_scores(answer)
        run.scores.update(fresh)
        await report(run, fresh, reply.usage)
        return answer, None

    # -- cost ------------------------------------------------------------------------------
    def _check_budget(self) -> None:
        if self.budget is not None and self.budget.exhausted:
            raise CallFailed("daily LLM budget reached; ranked locally", budget=True)

    def _account(self, run: JudgeRun, response: Any) -> Usage:
        call, priced = measured_usage(response)
        if not priced and not self._cost_unknown_logged:
            self._cost_unknown_logged = True
            log.warning("no price known for LLM model %s: counting tokens only", self.model)
        run.usage = run.usage + call
        if self.budget is not None:
            self.budget.charge(call.cost_usd)
        return call
