"""The LLM judge's bookkeeping of one `judge` call: the papers cut into batches, what to ask again
after an answer (see `newsletter.ranking.llm`'s docstring), an answer's verdicts as scores handed
to the caller's `on_batch`, and the `Judgement` made of it all. The calls are `llm.py`'s."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from newsletter.models import Paper, Score, Usage
from newsletter.ranking import prompt
from newsletter.ranking.base import BatchListener, Judgement

log = logging.getLogger(__name__)

Plan = list[tuple[list[Paper], bool]]  # batches to ask, each with whether it is a retry as it was


@dataclass
class JudgeRun:
    """The state of one `judge` call (touched only from its event loop)."""

    scores: dict[str, Score] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
    errors: list[str] = field(default_factory=list)
    given_up: set[str] = field(default_factory=set)  # failed for good (not for lack of time)
    auth_failed: bool = False
    budget_exhausted: bool = False
    on_batch: BatchListener | None = None
    topics: frozenset[int] = frozenset()  # the criteria's topic numbers: what an answer may name


def halves(papers: list[Paper]) -> list[list[Paper]]:
    middle = (len(papers) + 1) // 2
    return [papers[:middle], papers[middle:]]


def batches(papers: list[Paper], batch_size: int) -> list[list[Paper]]:
    """Near-equal batches of about `batch_size` (up to 1.5×): a small last batch would pay the
    whole criteria, the largest part of a prompt, for a few papers."""
    count = max(1, int(len(papers) / batch_size + 0.5))
    size, extra = divmod(len(papers), count)
    out, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        out.append(papers[start:end])
        start = end
    return out


def reask_plan(left: list[Paper], *, failed: bool, gained: bool, retried: bool) -> Plan:
    """How to ask about the papers an answer left without a score: `failed`, the answer was not
    usable; `gained`, it scored some papers all the same; `retried`, this batch was asked before."""
    if not failed:  # asked on their own, so one confusing paper cannot spoil the others again
        return [([paper], False) for paper in left]
    if gained:  # a new, smaller prompt: only the papers still missing
        return [(left, False)]
    if not retried:  # once more as it was: a timeout or a garbled answer may be a fluke
        return [(left, True)]
    return [(half, False) for half in halves(left)]


def answer_scores(answer: prompt.ParsedAnswer) -> dict[str, Score]:
    return {
        paper_id: Score(
            paper_id, verdict.relevance, verdict.novelty, verdict.comment, "llm", verdict.topic
        )
        for paper_id, verdict in answer.verdicts.items()
    }


async def report(run: JudgeRun, scores: dict[str, Score], cost: Usage) -> None:
    """Hand one answer to `on_batch`, off the event loop: it writes to the database, which
    may wait for a lock, and the other calls in flight must not wait with it."""
    if run.on_batch is None:
        return
    try:
        await asyncio.to_thread(run.on_batch, scores, cost)
    except Exception as exc:  # the scores are still in the Judgement; the caller saves them then
        log.warning("could not save an LLM answer as it came: %s", exc)


def judgement(run: JudgeRun, papers: list[Paper], *, late: bool, deadline_seconds: float | None) -> Judgement:
    """What the run made of `papers`; with `late`, what it did not score for lack of time is
    reported as such."""
    ids = {p.arxiv_id for p in papers}
    scored = {i: s for i, s in run.scores.items() if i in ids}
    unscored = frozenset(ids) - scored.keys()
    overdue = unscored - run.given_up if late else frozenset()
    if overdue:
        log.warning("LLM deadline (%.0f s) passed: %d paper(s) left to the local ranker",
                    deadline_seconds or 0, len(overdue))
        run.errors.append(f"the LLM deadline passed before {len(overdue)} paper(s) were scored")
    elif unscored:
        log.warning("LLM gave no score for %d of %d papers", len(unscored), len(papers))
    return Judgement(
        scores=scored,
        usage=run.usage,
        unscored=unscored,
        errors=tuple(dict.fromkeys(run.errors)),
        auth_failed=run.auth_failed,
        budget_exhausted=run.budget_exhausted,
        late=frozenset(overdue),
    )
