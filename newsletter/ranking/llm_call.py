"""One bounded chat call through litellm: the answer's text, whether it was cut at the token cap,
and what it cost. Used by the judge (`newsletter.ranking.llm`) and its check (`judge_check`).

Every call carries `max_tokens`, sized to the batch (`answer_cap`): a small model that starts
repeating entries stops at the cap instead of filling its context, and a paid provider bills at
most the cap. A timeout is not retried here (the same prompt at temperature 0 tends to run long
the same way: the judge splits the batch instead); rate limits, 5xx and dropped connections are
retried with backoff (`newsletter.backoff`), since the next try of the same prompt may well pass.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from newsletter.backoff import exponential_delay, retry_after_delay
from newsletter.clock import utc_now
from newsletter.models import Usage
from newsletter.ranking.llm_errors import CallFailed, is_retryable, is_timeout, retry_after_seconds

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

# Real answers were under 650 tokens for 10 papers (about 60 each); a comment may run to ~75
# tokens, so 120 a paper leaves room for a wordy model and still stops a runaway one early.
TOKENS_PER_PAPER = 120
ANSWER_BASE_TOKENS = 60  # the `{"papers": [...]}` frame, and a model's leading fence


def answer_cap(papers: int, per_paper: int = TOKENS_PER_PAPER) -> int:
    """`max_tokens` for an answer about `papers` papers."""
    return ANSWER_BASE_TOKENS + per_paper * max(1, papers)


@dataclass(frozen=True, slots=True)
class Answer:
    content: str
    cut_at_cap: bool  # finish_reason "length": the answer stopped at max_tokens
    usage: Usage
    seconds: float  # wall time of the call that answered


@dataclass(frozen=True)
class CallOptions:
    """How one judge talks to its model (all but the messages and the cap)."""

    model: str
    api_base: str | None
    api_key: str | None
    timeout: float
    max_attempts: int = 4
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    # Off by default: a JSON answer repeats its keys once per paper by design, and a frequency
    # penalty grows with each repeat; the token cap is what bounds a runaway answer.
    frequency_penalty: float | None = None

    def redact(self, text: str) -> str:
        return text.replace(self.api_key, "***") if self.api_key else text

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after the failed try number `attempt` (from 0): the provider's
        Retry-After if it gave one, else exponential backoff; never more than `backoff_max`."""
        if retry_after is not None:
            return retry_after_delay(retry_after, bound=self.backoff_max)
        return exponential_delay(attempt + 1, base=self.backoff_base, cap=self.backoff_max)


def request(
    options: CallOptions, messages: list[dict[str, str]], max_tokens: int, *, json_mode: bool = True
) -> dict[str, Any]:
    """litellm's keyword arguments for one call (`json_mode` off: a plain text answer)."""
    kwargs: dict[str, Any] = {
        "model": options.model,
        "messages": messages,
        "api_base": options.api_base,
        "api_key": options.api_key,
        "temperature": 0,
        "max_tokens": max_tokens,
        # A provider without a JSON mode (or a penalty) just gets the prompt: litellm drops
        # the parameters that provider does not take instead of failing the call.
        "drop_params": True,
        "timeout": options.timeout,
        "max_retries": 0,  # our retries, countable (the OpenAI SDK's own are off)
    }
    if json_mode:
        kwargs["response_format"] = {"type": "json_object"}
    if options.frequency_penalty:
        kwargs["frequency_penalty"] = options.frequency_penalty
    return kwargs


async def complete(
    options: CallOptions,
    messages: list[dict[str, str]],
    max_tokens: int,
    *,
    sleep: Sleep = asyncio.sleep,
    on_usage: Callable[[Any], Usage] | None = None,
    before_each: Callable[[], None] | None = None,
    json_mode: bool = True,
) -> Answer:
    """One answered call, or CallFailed (`timed_out` set when the call ran past its bound).
    `before_each` runs before every attempt and may raise CallFailed (a spent budget)."""
    import litellm
    from litellm.exceptions import AuthenticationError

    litellm.suppress_debug_info = True
    last = ""
    for attempt in range(options.max_attempts):
        if before_each is not None:
            before_each()
        started = time.monotonic()
        try:
            response = await asyncio.wait_for(
                litellm.acompletion(**request(options, messages, max_tokens, json_mode=json_mode)),
                # litellm's timeout is per HTTP read; this bounds the whole call.
                timeout=options.timeout * 2 + 1,
            )
        except Exception as exc:
            name = type(exc).__name__
            last = f"{name}: {options.redact(str(exc))[:200]}"
            if isinstance(exc, AuthenticationError):
                raise CallFailed(
                    f"the LLM provider rejected the API key (NEWSLETTER_LLM_API_KEY): {last}",
                    auth=True,
                ) from None
            if is_timeout(exc):
                raise CallFailed(f"LLM call timed out: {last}", timed_out=True) from None
            if not is_retryable(exc) or attempt + 1 >= options.max_attempts:
                break
            delay = options.delay(attempt, retry_after_seconds(exc, utc_now()))
            log.info("LLM call failed (%s); retry %d in %.2fs", name, attempt + 1, delay)
            await sleep(delay)
            continue
        usage = on_usage(response) if on_usage else Usage(1)
        return Answer(*_content(response), usage=usage, seconds=time.monotonic() - started)
    raise CallFailed(f"LLM call failed: {last}")


def measured_usage(response: Any) -> tuple[Usage, bool]:
    """One answered call's tokens and cost, and whether litellm knows the model's price (it
    raises for a model without one: then the tokens are counted and the cost is 0)."""
    import litellm

    usage = getattr(response, "usage", None)
    prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
    completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
    try:
        cost, priced = float(litellm.completion_cost(completion_response=response) or 0.0), True
    except Exception:
        cost, priced = 0.0, False
    return Usage(1, prompt_tokens, completion_tokens, cost), priced


def _content(response: Any) -> tuple[str, bool]:
    """The message text and whether it stopped at the cap (no choices: an empty answer)."""
    try:
        choice = response.choices[0]
        return str(choice.message.content or ""), getattr(choice, "finish_reason", None) == "length"
    except (AttributeError, IndexError, TypeError):
        return "", False
