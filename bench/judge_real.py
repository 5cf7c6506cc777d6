"""The LLM judge against a real model (not in CI): one reference day through any OpenAI-compatible
endpoint — a hosted API, Ollama, or llama.cpp's server on loopback (README, "The LLM judge").

For each criteria text of the day it runs what a daily run runs (local ranker → cut → the
judge with its token caps, re-asks, splits and deadline) and prints: time per call, JSON
adherence (whole, cut at the cap, unreadable, timed out), papers lost and re-asked, the
relevance distribution (and whether `judge_health` calls it degenerate), how the judge orders
the local ranker's extremes (`newsletter check`'s probe), and agreement with the reference
selection of that day (the papers a gpt-4o judge selected).

    python bench/judge_real.py --api-base http://127.0.0.1:8080/v1 --model openai/qwen
    python bench/judge_real.py --criteria generation --limit 20 --timeout 300 ...
    python bench/judge_real.py --reference ../shared/reference ...   # the full day, 3 readers
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import newsletter  # noqa: E402,F401 - sets litellm's environment before it is imported
from newsletter.models import Paper  # noqa: E402
from newsletter.ranking import llm as llm_module  # noqa: E402
from newsletter.ranking import prompt  # noqa: E402
from newsletter.ranking.judge_check import check_judge  # noqa: E402
from newsletter.ranking.judge_health import degenerate, describe, distribution  # noqa: E402
from newsletter.ranking.llm import LiteLLMJudge  # noqa: E402
from newsletter.ranking.llm_call import Answer, complete  # noqa: E402
from newsletter.ranking.llm_errors import CallFailed  # noqa: E402
from newsletter.ranking.local import LocalRanker, llm_candidates  # noqa: E402
from newsletter.ranking.scoring import score_criteria  # noqa: E402

BUNDLED = ROOT / "tests" / "data" / "ranking"
MIN_RELEVANCE = 5  # NEWSLETTER_MIN_RELEVANCE's default: what reaches a digest


@dataclass(frozen=True)
class Case:
    name: str
    criteria: str
    papers: tuple[Paper, ...]
    selected: frozenset[str]  # the reference judge's selection among these papers


@dataclass(frozen=True)
class Call:
    papers: int
    seconds: float
    outcome: str  # whole JSON | cut at cap | unreadable | timed out | failed
    prompt_tokens: int = 0
    completion_tokens: int = 0


CALLS: list[Call] = []


def _paper(row: dict[str, Any]) -> Paper:
    return Paper(str(row["id"]), str(row["title"]), tuple(row["authors"]), str(row["summary"]),
                 tuple(row["categories"]), comment=row.get("comment") or None)


def load_cases(reference: Path, day: str) -> list[Case]:
    """The bundled layout (tests/data/ranking) or the shared reference's (arxiv/days, selections)."""
    bundled = (reference / f"day-{day}.jsonl.gz").exists()
    day_file = reference / (f"day-{day}.jsonl.gz" if bundled else f"arxiv/days/{day}.jsonl.gz")
    with gzip.open(day_file, "rt", encoding="utf-8") as lines:
        papers = [_paper(json.loads(line)) for line in lines if line.strip()]
    pattern = f"selection-{day}_*.json" if bundled else f"selections/{day}_*.json"
    cases = []
    for path in sorted(reference.glob(pattern)):
        selection = json.loads(path.read_text(encoding="utf-8"))
        name = Path(selection["subscriber_criteria_file"]).stem
        criteria_file = reference / (f"criteria-{name}.md" if bundled else f"criteria/{name}.md")
        categories = {c.strip() for c in selection["categories"].split(",")}
        mine = tuple(p for p in papers if p.primary_category in categories)
        chosen = frozenset(s["arxiv_id"] for s in selection["selected"]) & {p.arxiv_id for p in mine}
        cases.append(Case(name, criteria_file.read_text(encoding="utf-8"), mine, chosen))
    return cases


async def recording_complete(options: Any, messages: list[dict[str, str]], max_tokens: int,
                             **kw: Any) -> Answer:
    """`complete`, with each call's figures kept in CALLS."""
    count = messages[-1]["content"].count("<paper id=")
    started = time.monotonic()
    try:
        answer = await complete(options, messages, max_tokens, **kw)
    except CallFailed as exc:
        CALLS.append(Call(count, time.monotonic() - started, "timed out" if exc.timed_out else "failed"))
        raise
    parsed = prompt.parse_answer(answer.content, [])
    outcome = ("cut at cap" if answer.cut_at_cap else "unreadable" if parsed.malformed
               else "cut short" if parsed.cut_short else "whole JSON")
    CALLS.append(Call(count, answer.seconds, outcome, answer.usage.prompt_tokens,
                      answer.usage.completion_tokens))
    return answer


class NoCache:
    def get_many(self, *args: object) -> dict[str, Any]:
        return {}

    def put_many(self, *args: object) -> None:
        return None

    def history(self, *args: object) -> list[Any]:
        return []

    def record_audit(self, *args: object) -> None:
        return None


def run_case(case: Case, judge: LiteLLMJudge, *, audit: bool, limit: int | None) -> None:
    ranker = LocalRanker()
    before = len(CALLS)

    def cut(scores: Sequence[Any]) -> list[str]:
        chosen = [s.arxiv_id for s in scores] if audit else llm_candidates(scores)
        return chosen[:limit] if limit else chosen

    started = time.monotonic()
    result = score_criteria(case.criteria, case.papers, ranker=ranker, judge=judge, cache=NoCache(),
                            cut=cut)
    elapsed = time.monotonic() - started
    calls = CALLS[before:]
    judged = [s for s in result.scores.values() if s.source == "llm"]
    asked = sum(c.papers for c in calls)
    print(f"\n== {case.name}: {len(case.papers)} papers, {result.candidates} sent to the judge,"
          f" {elapsed:.0f} s for the stage")
    if calls:
        times = [c.seconds for c in calls]
        outcomes: dict[str, int] = {}
        for c in calls:
            outcomes[c.outcome] = outcomes.get(c.outcome, 0) + 1
        print(f"calls: {len(calls)}; seconds per call: median {statistics.median(times):.1f},"
              f" max {max(times):.1f}; per paper asked {sum(times) / max(asked, 1):.1f}")
        print(f"answers: {outcomes}; tokens {sum(c.prompt_tokens for c in calls):,} prompt +"
              f" {sum(c.completion_tokens for c in calls):,} completion")
    print(f"papers: {len(judged)} scored, {len(result.marked)} lost (ranked locally; {result.late}"
          f" for the deadline), {max(0, asked - result.candidates)} re-asked")
    print(f"relevance: count = {describe(distribution(judged)) or '-'};"
          f" degenerate: {degenerate(judged) or 'no'}")
    local = {s.arxiv_id: s for s in ranker.rank(case.criteria, case.papers)}
    for label, scores in (("judge", result.scores), ("local", local)):
        kept = {i for i, s in scores.items() if s.relevance >= MIN_RELEVANCE}
        hit = len(kept & case.selected)
        print(f"{label:>5}: {len(kept)} paper(s) at relevance >= {MIN_RELEVANCE}; of the reference's"
              f" {len(case.selected)} selected, {hit} among them")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--api-base", required=True, help="e.g. http://127.0.0.1:8080/v1")
    parser.add_argument("--model", required=True, help="litellm's name, e.g. openai/qwen2.5")
    parser.add_argument("--api-key", default="sk-local")
    parser.add_argument("--reference", type=Path, default=BUNDLED)
    parser.add_argument("--day", default="2025-06-19")
    parser.add_argument("--criteria", default="", help="only criteria files whose name contains this")
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=1, help="a local server runs one at a time")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per read")
    parser.add_argument("--deadline-minutes", type=float, default=30.0)
    parser.add_argument("--frequency-penalty", type=float, default=None)
    parser.add_argument("--limit", type=int, default=None, help="at most this many papers per criteria")
    parser.add_argument("--audit", action="store_true", help="send every paper, as on an audit day")
    parser.add_argument("--no-probe", action="store_true", help="skip the check's ordering probe")
    args = parser.parse_args()

    llm_module.complete = recording_complete  # type: ignore[assignment]
    cases = [c for c in load_cases(args.reference, args.day) if args.criteria in c.name]
    judge = LiteLLMJudge(args.model, api_base=args.api_base, api_key=args.api_key,
                         batch_size=args.batch_size, concurrency=args.concurrency, timeout=args.timeout,
                         deadline_seconds=args.deadline_minutes * 60,
                         frequency_penalty=args.frequency_penalty)
    print(f"model {args.model} at {args.api_base}; day {args.day}; {len(cases)} criteria text(s)")
    if not args.no_probe:
        sane, probes = check_judge(judge.options, [(c.name, c.criteria, c.papers) for c in cases],
                                   LocalRanker())
        for probe in probes:
            print(f"probe {probe.describe()}")
        print(f"probe verdict: {'sane' if sane else 'NOT sane (newsletter check warns)'}")
    for case in cases:
        run_case(case, judge, audit=args.audit, limit=args.limit)


if __name__ == "__main__":
    main()
