"""Can the configured model judge? (`newsletter check`, and `bench/judge_real.py`'s sanity line.)

For each criteria text, one call asks the judge about a handful of a stored day's papers: the
local ranker's best matches and its clearest non-matches, interleaved so position gives nothing
away. A judge that ranks is expected to put (nearly) every best match above every non-match; a
small model that rates everything 10, or upside down, fails that — as do a call that takes most
of a minute and an answer that is not the JSON asked for. The figures are returned as they are:
the caller turns them into a warning.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from newsletter.models import Paper
from newsletter.ranking import prompt
from newsletter.ranking.background_loop import run_coroutine
from newsletter.ranking.base import Ranker
from newsletter.ranking.llm_call import CallOptions, answer_cap, complete
from newsletter.ranking.llm_errors import CallFailed

PER_SIDE = 3  # best matches and non-matches asked about per criteria text
SANE_AGREEMENT = 0.75  # share of (match, non-match) pairs the judge must order right
SLOW_CALL_SECONDS = 60.0  # a call this long for six papers makes a day's stage take hours


@dataclass(frozen=True, slots=True)
class Probe:
    """One criteria text's check: how the judge ordered the local ranker's extremes."""

    name: str
    seconds: float
    valid_json: bool
    agreement: float | None  # share of (best, worst) pairs ordered right; ties count half
    best: tuple[int, ...] = ()  # the judge's relevance for the best matches
    worst: tuple[int, ...] = ()  # … and for the non-matches
    error: str = ""
    topics_named: int = 0  # best matches the judge gave one of the criteria's topic numbers

    @property
    def sane(self) -> bool:
        return (self.valid_json and self.agreement is not None and self.agreement >= SANE_AGREEMENT
                and self.seconds < SLOW_CALL_SECONDS)

    def describe(self) -> str:
        if self.error:
            return f"{self.name}: {self.error}"
        order = "n/a" if self.agreement is None else f"{self.agreement:.0%} of pairs in order"
        return (f"{self.name}: {order} (matches {list(self.best)}, non-matches {list(self.worst)}),"
                f" {self.seconds:.1f} s, JSON {'valid' if self.valid_json else 'invalid'},"
                f" topic named for {self.topics_named} of {len(self.best)} matches")


def extremes(criteria: str, papers: Sequence[Paper], ranker: Ranker,
             per_side: int = PER_SIDE) -> tuple[list[Paper], list[Paper]]:
    """The local ranker's `per_side` best and worst papers (none when the day is too small)."""
    if len(papers) < 2 * per_side:
        return [], []
    by_id = {p.arxiv_id: p for p in papers}
    order = [by_id[s.arxiv_id] for s in ranker.rank(criteria, papers) if s.arxiv_id in by_id]
    return order[:per_side], order[-per_side:]


def agreement(best: Sequence[int], worst: Sequence[int]) -> float | None:
    pairs = [(b, w) for b in best for w in worst]
    if not pairs:
        return None
    return sum(1.0 if b > w else 0.5 if b == w else 0.0 for b, w in pairs) / len(pairs)


def probe(options: CallOptions, name: str, criteria: str, best: list[Paper], worst: list[Paper]) -> Probe:
    """Ask the judge about `best` and `worst` in one call and measure the answer."""
    batch = [paper for pair in zip(worst, best, strict=True) for paper in pair]
    started = time.monotonic()
    try:
        reply = run_coroutine(complete(options, prompt.messages(criteria, batch), answer_cap(len(batch))))
    except CallFailed as exc:
        return Probe(name, time.monotonic() - started, False, None, error=str(exc)[:200])
    answer = prompt.parse_answer(reply.content, [p.arxiv_id for p in batch], prompt.topic_numbers(criteria))
    valid = not answer.malformed and not answer.cut_short and len(answer.verdicts) == len(batch)
    got = {i: v.relevance for i, v in answer.verdicts.items()}
    best_scores = tuple(got[p.arxiv_id] for p in best if p.arxiv_id in got)
    worst_scores = tuple(got[p.arxiv_id] for p in worst if p.arxiv_id in got)
    # Not part of `sane`: a judge that names no topic costs the HTML digest its sections, not papers.
    named = sum(1 for p in best if (v := answer.verdicts.get(p.arxiv_id)) and v.topic is not None)
    return Probe(name, reply.seconds, valid, agreement(best_scores, worst_scores), best_scores, worst_scores,
                 topics_named=named)


def check_judge(
    options: CallOptions, days: Sequence[tuple[str, str, Sequence[Paper]]], ranker: Ranker
) -> tuple[bool, list[Probe]]:
    """(all sane, the probes) for each (name, criteria text, that text's papers of the day)."""
    probes = []
    for name, criteria, papers in days:
        best, worst = extremes(criteria, papers, ranker)
        if best:
            probes.append(probe(options, name, criteria, best, worst))
    return all(p.sane for p in probes), probes
