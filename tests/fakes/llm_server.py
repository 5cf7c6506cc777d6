"""A loopback fake of an OpenAI-compatible chat server, for driving litellm for real.

Use it through the `fake_llm` pytest fixture (loaded by conftest via `pytest_plugins`):

    def test_something(fake_llm):
        judge = LiteLLMJudge(fake_llm.model, api_base=fake_llm.api_base, api_key="sk-fake")
        fake_llm.script("429", "garbage")   # the next two requests fail like this, then the oracle
        judgement = judge.judge(criteria, papers)
        assert len(fake_llm.requests) == 4

What it serves: `POST /v1/chat/completions` (also `/chat/completions`), answering in the OpenAI
format with a `usage` block (prompt tokens estimated as characters / 4). Every request body is
recorded, parsed, in `fake_llm.requests` (a list of dicts; thread-safe to read after the call),
and the message content of every 200 answer in `fake_llm.answers`.

Answers. By default the **oracle** answers: it reads the criteria from `<criteria>…</criteria>`
in the messages and each paper from `<paper id="…">…</paper>` blocks (the format of
`newsletter/ranking/prompt.py`; `&lt; &gt; &amp;` are unescaped), and scores every paper
deterministically from its content: relevance from the share of the paper's distinct content words
(title and abstract, ≥ 4 letters, no stop words) found in the criteria, novelty from a hash of the
id. `FakeLLM.oracle_relevance(criteria, text)` is the same function, for assertions. The topic is
the number, from the system message's numbered topic list, of the topic whose title shares the
most content words with the paper (the lower number on a tie), or null when none shares any
(`FakeLLM.oracle_topic(topics, text)`).

A **criteria draft** request (`newsletter/ranking/draft.py`, told by its user message beginning
"Seed papers (") is answered with plain text criteria in the reference shape, written from the
seed papers (`tests/fakes/llm_draft.py`; `FakeLLM.oracle_draft(papers)` for assertions).

The oracle is gullible in one way, like a weak model: text in the user message *outside* any
paper block that says "ignore previous instructions" makes it rate every paper 10/10. So a paper
whose abstract breaks out of its delimiters (`</paper>` not escaped) takes over the whole batch,
and a criteria draft is answered with `HIJACKED_DRAFT` (no criteria) instead.

`fake_llm.scorer`, when set, replaces the oracle's relevance, novelty and comment of each paper
(benches that replay recorded judgements; the topic stays the oracle's):
`scorer(criteria, paper_id, paper_text) -> (relevance, novelty, comment)`.

`fake_llm.script(*steps)` queues one step per coming request (first in, first out); when the queue
is empty the oracle answers. A step is one of:
  "oracle"        a normal answer
  "draft"         the oracle's criteria draft (plain text, see above)
  "garbage"       HTTP 200 whose message content is not JSON
  "missing"       the oracle's answer without its last paper
  "extra"         the oracle's answer plus a paper id that was never asked for
  "out_of_range"  the oracle's answer with relevance 11 for the first paper
  "no_topic"      the oracle's answer with no `topic` field at all (a model of the old prompt)
  "duplicate"     the oracle's answer with the first paper listed twice (different scores)
  "429"           HTTP 429 with `Retry-After: {fake_llm.retry_after}` (default "0")
  "500" / "503"   server errors;   "401" bad key;   "400" bad request
  "slow"          sleeps `fake_llm.slow_seconds` (default 5; cut short when the fake closes)
                  then answers like the oracle
  "trickle"       the oracle's answer, its body led by one byte of JSON whitespace every 0.05 s
                  for `slow_seconds`: no single read waits long, only the whole call is slow
  "disconnect"    closes the connection without an answer
  "repeat"        a model stuck in a loop: the first paper's entry over and over until the answer
                  hits the request's `max_tokens` (tokens counted as characters / 4; without a cap,
                  a small model's whole 8,192-token context), then finish_reason "length"
  "forever"       a body that trickles in for an hour: only the client's bound on the call ends it
  "all_ten"       every paper rated relevance 10 and novelty 10 (a degenerate judge)
  "invert"        relevance 11 - the oracle's: the best matches last (a judge that ranks upside down)
  Reply(content)  HTTP 200 with this exact message content
  a callable      `fn(body: dict) -> tuple[int, dict[str, str], dict | bytes]` (status, headers, body)
Knobs: `fake_llm.default_step` (what answers once the script is empty; "oracle"),
`fake_llm.latency` (seconds added to every answer, for scale benches), `retry_after`,
`slow_seconds`, `served_model` (the `model` field echoed in answers; default: the requested one,
so litellm's `completion_cost` prices e.g. `gpt-4o-mini` when the test asks for
`openai/gpt-4o-mini`). Outside pytest: `with FakeLLM() as fake: ...`.
"""

from __future__ import annotations

import html
import json
import re
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.fakes import llm_draft
from tests.fakes.loopback import Exchange, LoopbackFake, Steps

StepResult = tuple[int, dict[str, str], "dict[str, Any] | bytes"]
Step = "str | Reply | Callable[[dict[str, Any]], StepResult]"
Scorer = Callable[[str, str, str], tuple[int, int, str]]  # (criteria, paper id, text) → judgement

_TRICKLE = "X-Fake-Trickle-Seconds"  # internal: tells _send to pace the body (never sent)
_CRITERIA = re.compile(r"<criteria>(.*?)</criteria>", re.S)
_PAPER = re.compile(r'<paper id="([^"]*)">(.*?)</paper>', re.S)
_TOPICS = re.compile(r"topics, by number:\n((?:\d+\. .*\n?)+)")
_TOPIC_LINE = re.compile(r"^(\d+)\. (.*)$", re.M)
_WORD = re.compile(r"[a-z][a-z0-9\-]{3,}")
_STOP_WORDS = """this that with from have been were their which these those into than then them they
    also such when where while what more most other some only over under about after before
    between both each many much very well using used based paper papers propose proposed
    method methods approach results show shows work works model models task tasks data
    title authors abstract novel existing across within without new"""
_STOP = frozenset(_STOP_WORDS.split())


@dataclass(frozen=True)
class Reply:
    """A scripted HTTP 200 answer whose message content is exactly `content`."""

    content: str


def _words(text: str) -> set[str]:
    return {w.strip("-") for w in _WORD.findall(text.lower())} - _STOP


class FakeLLM(LoopbackFake):
    model = "openai/fake-model"

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.answers: list[str] = []  # message contents of the 200 answers, in order
        self.latency = 0.0
        self.retry_after = "0"
        self.slow_seconds = 5.0
        self.served_model: str | None = None
        self.default_step: Any = "oracle"
        self.scorer: Scorer | None = None
        self._steps: Steps[Any] = Steps()
        self._lock = threading.Lock()
        self._listen(post=self._post, protocol="HTTP/1.1")

    @property
    def api_base(self) -> str:
        return self.url + "/v1"

    def script(self, *steps: Any) -> None:
        self._steps.add(steps)

    @property
    def pending_steps(self) -> int:
        return len(self._steps)

    # -- the oracle ------------------------------------------------------------------------
    @staticmethod
    def oracle_relevance(criteria: str, text: str) -> int:
        """1–10 from the share of the paper's content words that the criteria mention."""
        paper_words = _words(text)
        if not paper_words:
            return 1
        share = len(paper_words & _words(criteria)) / len(paper_words)
        return max(1, min(10, 1 + round(share * 18)))

    @staticmethod
    def oracle_novelty(paper_id: str) -> int:
        return 3 + zlib.crc32(paper_id.encode()) % 6

    @staticmethod
    def oracle_topic(topics: dict[int, str], text: str) -> int | None:
        """The topic whose title shares the most content words with the paper; None if none does."""
        paper_words = _words(text)
        overlap = {number: len(_words(title) & paper_words) for number, title in topics.items()}
        best = max(sorted(overlap), key=lambda number: overlap[number], default=None)
        return best if best is not None and overlap[best] > 0 else None

    @staticmethod
    def topics_in(system: str) -> dict[int, str]:
        """The numbered topic list of a system message (number → title)."""
        block = _TOPICS.search(system)
        if block is None:
            return {}
        return {int(n): html.unescape(title) for n, title in _TOPIC_LINE.findall(block.group(1))}

    def oracle_answer(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = body.get("messages", [])
        text = "\n".join(str(m.get("content", "")) for m in messages)
        match = _CRITERIA.search(text)
        criteria = html.unescape(match.group(1)) if match else ""
        topics = self.topics_in(text)
        user = "\n".join(str(m.get("content", "")) for m in messages if m.get("role") == "user")
        outside = _PAPER.sub(" ", user).lower()
        hijacked = "ignore previous instructions" in outside
        papers = []
        for paper_id, raw in _PAPER.findall(user):
            content = html.unescape(raw)
            if self.scorer is not None:
                relevance, novelty, comment = self.scorer(criteria, html.unescape(paper_id), content)
            else:
                relevance = self.oracle_relevance(criteria, content)
                novelty = self.oracle_novelty(paper_id)
                shared = sorted(_words(content) & _words(criteria))[:3]
                comment = "Matches: " + (", ".join(shared) or "nothing")
            papers.append(
                {
                    "id": html.unescape(paper_id),
                    "relevance": 10 if hijacked else relevance,
                    "novelty": 10 if hijacked else novelty,
                    "topic": self.oracle_topic(topics, content),
                    "comment": comment,
                }
            )
        return {"papers": papers}

    oracle_draft = staticmethod(llm_draft.oracle_draft)
    draft_answer = staticmethod(llm_draft.draft_answer)

    # -- serving ---------------------------------------------------------------------------
    def _answer(self, body: dict[str, Any]) -> StepResult | None:
        with self._lock:
            self.requests.append(body)
            step = self._steps.take(self.default_step)
        if self.latency:
            self.pause(self.latency)
        if callable(step):
            result: StepResult = step(body)
            return result
        if isinstance(step, Reply):
            return 200, {}, self._completion(body, step.content)
        if step == "disconnect":
            return None
        if step.isdigit():
            headers = {"Retry-After": self.retry_after} if step == "429" else {}
            error = {"error": {"message": f"fake error {step}", "type": "fake", "code": step}}
            return int(step), headers, error
        if step == "slow":
            self.pause(self.slow_seconds)
        if step == "draft" or (step in ("oracle", "slow") and llm_draft.is_draft_request(body)):
            return 200, {}, self._completion(body, self.draft_answer(body))
        answer = self.oracle_answer(body)
        papers = answer["papers"]
        if step == "repeat":
            return 200, {}, self._looping(body, papers)
        if step == "forever":
            return 200, {_TRICKLE: "3600"}, self._completion(body, json.dumps(answer))
        if step == "garbage":
            return 200, {}, self._completion(body, "Sure! Here are the scores: relevance 8, {oops")
        if step == "missing" and papers:
            papers.pop()
        elif step == "no_topic":
            for paper in papers:
                del paper["topic"]
        elif step == "extra":
            papers.append({"id": "9999.99999", "relevance": 9, "novelty": 9, "comment": "x"})
        elif step == "out_of_range" and papers:
            papers[0]["relevance"] = 11
        elif step == "duplicate" and papers:
            papers.append({**papers[0], "relevance": 1, "comment": "second opinion"})
        elif step in ("all_ten", "invert"):
            for paper in papers:
                paper["relevance"] = 10 if step == "all_ten" else 11 - paper["relevance"]
                paper["novelty"] = 10 if step == "all_ten" else paper["novelty"]
        elif step not in ("oracle", "slow", "trickle", "missing", "out_of_range", "duplicate", "no_topic"):
            raise ValueError(f"unknown fake LLM step {step!r}")
        completion = self._completion(body, json.dumps(answer))
        if step == "trickle":
            return 200, {_TRICKLE: str(self.slow_seconds)}, completion
        return 200, {}, completion

    def _looping(self, body: dict[str, Any], papers: list[dict[str, Any]]) -> dict[str, Any]:
        """The first entry repeated until the cap: cut mid-entry, as a real model is."""
        cap = int(body.get("max_tokens") or 8192)
        entry = json.dumps(papers[0] if papers else {"id": "x"})
        content = ('{"papers": [' + ", ".join([entry] * (cap * 4 // len(entry) + 2)))[: cap * 4]
        completion = self._completion(body, content, finish_reason="length")
        completion["usage"]["completion_tokens"] = cap
        return completion

    def _completion(self, body: dict[str, Any], content: str, finish_reason: str = "stop") -> dict[str, Any]:
        with self._lock:
            self.answers.append(content)
        prompt_chars = sum(len(str(m.get("content", ""))) for m in body.get("messages", []))
        prompt, completion = max(1, prompt_chars // 4), max(1, len(content) // 4)
        requested = str(body.get("model", "fake-model"))
        return {
            "id": f"chatcmpl-fake-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.served_model or requested,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            },
        }

    def _post(self, exchange: Exchange) -> None:
        raw = exchange.body()
        if not exchange.path.rstrip("/").endswith("/chat/completions"):
            self._send(exchange, 404, {}, {"error": {"message": "not found"}})
            return
        try:
            body = json.loads(raw)
        except ValueError:
            self._send(exchange, 400, {}, {"error": {"message": "body is not JSON"}})
            return
        result = self._answer(body)
        if result is None:
            exchange.drop()
            return
        self._send(exchange, *result)

    @staticmethod
    def _send(exchange: Exchange, status: int, headers: dict[str, str], payload: Any) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        trickle = float(headers.pop(_TRICKLE, 0))
        exchange.reply(status, data, "application/json", headers.items(), trickle=trickle)


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    """A running FakeLLM on 127.0.0.1 (see the module docstring)."""
    with FakeLLM() as fake:
        yield fake
