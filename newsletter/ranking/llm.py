"""The LLM judge: scores papers against one criteria text through litellm, never losing a paper.

Transport: `litellm.acompletion` under a semaphore, a timeout per call, and our own bounded
retries with exponential backoff and jitter (litellm's `num_retries` needs tenacity, and the OpenAI
SDK's own retries are switched off with `max_retries=0` so attempts stay countable). Answers: every
asked paper must come back exactly once with valid scores; a malformed answer is asked again, the
papers missing from a usable answer are asked again one by one, all within `max_answer_rounds`.
Whatever still has no score is reported as unscored, with the reason, and never raised. Each
answered call is handed to the caller's `on_batch` as it comes (see `newsletter.ranking.base`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from newsletter.backoff import exponential_delay, retry_after_delay
from newsletter.clock import utc_now
from newsletter.models import Paper, Score, Usage
from newsletter.ranking import prompt
from newsletter.ranking.background_loop import run_coroutine
from newsletter.ranking.base import BatchListener, Judgement
from newsletter.ranking.budget import Budget
from newsletter.ranking.llm_errors import CallFailed, is_retryable, retry_after_seconds

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


@dataclass
class _Run:
    """The state of one `judge` call (touched only from its event loop)."""

    scores: dict[str, Score] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
    errors: list[str] = field(default_factory=list)
    auth_failed: bool = False
    budget_exhausted: bool = False
    on_batch: BatchListener | None = None


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
        max_answer_rounds: int = 3,
        abstract_chars: int = prompt.MAX_ABSTRACT_CHARS,
        sleep: Sleep | None = None,
    ) -> None:
        if not model:
            raise ValueError("LLM model name is empty (NEWSLETTER_LLM_MODEL)")
        if batch_size < 1 or concurrency < 1 or max_attempts < 1 or max_answer_rounds < 1:
            raise ValueError("batch_size, concurrency, max_attempts, max_answer_rounds must be ≥ 1")
        self.model = model
        self.api_base = api_base or None
        self._api_key = api_key or None
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.budget = budget
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_answer_rounds = max_answer_rounds
        self.abstract_chars = abstract_chars
        self._sleep: Sleep = sleep or asyncio.sleep
        self._cost_unknown_logged = False
        # One semaphore per event loop, shared by every `judge` call on it: the daily run
        # scores several criteria texts at once, and `concurrency` must bound all their calls
        # together (a semaphore per call let 8 criteria × 8 = 64 calls fly with concurrency=8).
        self._semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )
        self._semaphores_lock = threading.Lock()

    @property
    def cache_key(self) -> str:
        return judge_cache_key(self.model)

    def __repr__(self) -> str:  # never shows the key
        return f"LiteLLMJudge({self.model!r}, api_base={self.api_base!r})"

    # -- public ----------------------------------------------------------------------------
    def judge(
        self, criteria: str, papers: Sequence[Paper], on_batch: BatchListener | None = None
    ) -> Judgement:
        """Score `papers` (sync facade; safe to call from any thread, also inside an event loop)."""
        return run_coroutine(self.ajudge(criteria, papers, on_batch))

    async def ajudge(
        self, criteria: str, papers: Sequence[Paper], on_batch: BatchListener | None = None
    ) -> Judgement:
        unique = list({p.arxiv_id: p for p in papers}.values())
        run = _Run(on_batch=on_batch)
        if unique:
            semaphore = self._semaphore()
            system = prompt.system_message(criteria)
            outcomes = await asyncio.gather(
                *(self._score(run, semaphore, system, b, 0) for b in self._batches(unique)),
                return_exceptions=True,  # a bug in one batch must not lose the others' scores
            )
            for outcome in outcomes:
                if isinstance(outcome, Exception):
                    log.error("LLM batch failed unexpectedly", exc_info=outcome)
                    run.errors.append(f"{type(outcome).__name__}: {outcome}")
        scored = {i: s for i, s in run.scores.items() if i in {p.arxiv_id for p in unique}}
        unscored = frozenset(p.arxiv_id for p in unique) - scored.keys()
        if unscored:
            log.warning("LLM gave no score for %d of %d papers", len(unscored), len(unique))
        return Judgement(
            scores=scored,
            usage=run.usage,
            unscored=unscored,
            errors=tuple(dict.fromkeys(run.errors)),
            auth_failed=run.auth_failed,
            budget_exhausted=run.budget_exhausted,
        )

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        with self._semaphores_lock:
            semaphore = self._semaphores.get(loop)
            if semaphore is None:
                semaphore = self._semaphores[loop] = asyncio.Semaphore(self.concurrency)
            return semaphore

    # -- answers ---------------------------------------------------------------------------
    def _batches(self, papers: list[Paper]) -> list[list[Paper]]:
        """Near-equal batches of about `batch_size` (up to 1.5×): a small last batch would pay the
        whole criteria, the largest part of a prompt, for a few papers."""
        count = max(1, int(len(papers) / self.batch_size + 0.5))
        size, extra = divmod(len(papers), count)
        out, start = [], 0
        for index in range(count):
            end = start + size + (1 if index < extra else 0)
            out.append(papers[start:end])
            start = end
        return out

    async def _score(
        self, run: _Run, sem: asyncio.Semaphore, system: str, papers: list[Paper], round_: int
    ) -> None:
        user = prompt.user_message(papers, self.abstract_chars)
        try:
            async with sem:
                if run.auth_failed:  # the key is wrong for every batch: do not hammer the provider
                    return
                content, cost = await self._complete(run, system, user)
        except CallFailed as exc:
            run.errors.append(str(exc))
            run.auth_failed |= exc.auth
            run.budget_exhausted |= exc.budget
            return
        answer = prompt.parse_answer(content, [p.arxiv_id for p in papers])
        fresh = {
            paper_id: Score(paper_id, verdict.relevance, verdict.novelty, verdict.comment, source="llm")
            for paper_id, verdict in answer.verdicts.items()
        }
        run.scores.update(fresh)
        await self._report(run, fresh, cost)
        left = [p for p in papers if p.arxiv_id not in answer.verdicts]
        if not left:
            return
        log.info("LLM answer round %d: %s", round_ + 1, "; ".join(answer.problems))
        if round_ + 1 >= self.max_answer_rounds:
            run.errors.append(
                f"no valid LLM answer for {len(left)} paper(s) after {self.max_answer_rounds} "
                f"tries: {answer.problems[0] if answer.problems else 'unknown'}"
            )
            return
        if answer.malformed:
            await self._score(run, sem, system, left, round_ + 1)
        else:  # asked on their own, so one confusing paper cannot spoil the others again
            await asyncio.gather(*(self._score(run, sem, system, [p], round_ + 1) for p in left))

    @staticmethod
    async def _report(run: _Run, scores: dict[str, Score], cost: Usage) -> None:
        """Hand one answer to `on_batch`, off the event loop: it writes to the database, which
        may wait for a lock, and the other calls in flight must not wait with it."""
        if run.on_batch is None:
            return
        try:
            await asyncio.to_thread(run.on_batch, scores, cost)
        except Exception as exc:  # the scores are still in the Judgement; the caller saves them then
            log.warning("could not save an LLM answer as it came: %s", exc)

    # -- transport -------------------------------------------------------------------------
    async def _complete(self, run: _Run, system: str, user: str) -> tuple[str, Usage]:
        """The answer's text and what the call cost (only a call that was answered costs)."""
        import litellm
        from litellm.exceptions import AuthenticationError

        litellm.suppress_debug_info = True
        last = ""
        for attempt in range(self.max_attempts):
            if self.budget is not None and self.budget.exhausted:
                raise CallFailed("daily LLM budget reached; ranked locally", budget=True)
            try:
                response = await asyncio.wait_for(
                    litellm.acompletion(
                        model=self.model,
                        messages=[
                            {"role": "system", "content": system},
                            {"role": "user", "content": user},
                        ],
                        api_base=self.api_base,
                        api_key=self._api_key,
                        temperature=0,
                        response_format={"type": "json_object"},
                        drop_params=True,  # providers without a JSON mode just get the prompt
                        timeout=self.timeout,
                        max_retries=0,
                    ),
                    # litellm's timeout is per HTTP read; this bounds the whole call.
                    timeout=self.timeout * 2 + 1,
                )
            except Exception as exc:
                name = type(exc).__name__
                last = f"{name}: {self._redact(str(exc))[:200]}"
                if isinstance(exc, AuthenticationError):
                    raise CallFailed(
                        f"the LLM provider rejected the API key (NEWSLETTER_LLM_API_KEY): {last}",
                        auth=True,
                    ) from None
                if not is_retryable(exc) or attempt + 1 >= self.max_attempts:
                    break
                delay = self._delay(attempt, retry_after_seconds(exc, utc_now()))
                log.info("LLM call failed (%s); retry %d in %.2fs", name, attempt + 1, delay)
                await self._sleep(delay)
                continue
            cost = self._account(run, response)
            try:
                return str(response.choices[0].message.content or ""), cost
            except (AttributeError, IndexError, TypeError):  # no choices: treated as malformed
                return "", cost
        raise CallFailed(f"LLM call failed: {last}")

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after the failed try number `attempt` (counted from 0): the provider's
        Retry-After if it gave one, else exponential backoff; never more than `backoff_max`."""
        if retry_after is not None:
            return retry_after_delay(retry_after, bound=self.backoff_max)
        return exponential_delay(attempt + 1, base=self.backoff_base, cap=self.backoff_max)

    def _account(self, run: _Run, response: Any) -> Usage:
        import litellm

        usage = getattr(response, "usage", None)
        prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
        try:
            cost = float(litellm.completion_cost(completion_response=response) or 0.0)
        except Exception:  # litellm raises for models without a price: count tokens only
            cost = 0.0
            if not self._cost_unknown_logged:
                self._cost_unknown_logged = True
                log.warning("no price known for LLM model %s: counting tokens only", self.model)
        call = Usage(1, prompt_tokens, completion_tokens, cost)
        run.usage = run.usage + call
        if self.budget is not None:
            self.budget.charge(cost)
        return call

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text
