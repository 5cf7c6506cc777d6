"""What the LLM judge costs on the reference days: the fake LLM, litellm for real, real prompts.

For each reference day × criteria file it runs `score_criteria` (local ranker → adaptive cut →
LiteLLMJudge against the loopback fake OpenAI server) and prints: LLM calls, prompt tokens
(counted with litellm.token_counter on the exact messages sent) per LLM-scored paper and per
candidate of the day, the recall of the reference relevance-≥7 papers among those sent to the LLM,
and the dollars at the model's list price — next to scoring every candidate in batches of five
with the full criteria and full abstracts each time (the reference system's shape).

    .venv/bin/python bench/llm_cost.py                 # every reference day
    .venv/bin/python bench/llm_cost.py --day 2025-07-15 --model gpt-4o-mini
    .venv/bin/python bench/llm_cost.py --audit         # as on an audit day: every candidate
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import newsletter  # noqa: E402,F401 - sets litellm's environment before it is imported
from newsletter.models import Paper, Score  # noqa: E402
from newsletter.ranking import prompt  # noqa: E402
from newsletter.ranking.llm import LiteLLMJudge  # noqa: E402
from newsletter.ranking.local import LocalRanker, llm_candidates  # noqa: E402
from newsletter.ranking.scoring import score_criteria  # noqa: E402
from tests.fakes.llm_server import FakeLLM  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from ranking import DEFAULT_REFERENCE, history_for, load_cases  # noqa: E402


class _History:
    """A read-only ScoreCache that only answers `history` (nothing is cached: every run calls)."""

    def __init__(self, rows: list[tuple[Paper, int]]) -> None:
        self.rows = rows

    def get_many(self, cache_key: str, criteria: str, papers: object) -> dict[str, Score]:
        return {}

    def put_many(self, cache_key: str, criteria: str, papers: object, scores: object) -> None:
        return None

    def history(self, cache_key: str, criteria: str, limit: int) -> list[tuple[Paper, int]]:
        return self.rows[:limit]

    def record_audit(self, cache_key: str, criteria: str, digest_date: dt.date, audit: object) -> None:
        return None


def tokens(model: str, messages: list[dict[str, str]]) -> int:
    import litellm

    return int(litellm.token_counter(model=model, messages=messages))


def dollars(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    import litellm

    try:
        p, c = litellm.cost_per_token(
            model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
    except Exception:
        return None
    return float(p + c)


def baseline(model: str, criteria: str, papers: list[Paper]) -> tuple[int, int]:
    """Calls and prompt tokens of scoring every paper, five at a time, full abstracts."""
    calls = prompt_tokens = 0
    for start in range(0, len(papers), 5):
        batch = papers[start : start + 5]
        prompt_tokens += tokens(model, prompt.messages(criteria, batch, abstract_chars=10**6))
        calls += 1
    return calls, prompt_tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--day", action="append", help="YYYY-MM-DD (default: every day)")
    parser.add_argument("--model", default="gpt-4o-mini", help="priced and tokenised as this")
    parser.add_argument(
        "--history",
        action="store_true",
        help="give the ranker the other days' reference labels as LLM history",
    )
    parser.add_argument(
        "--audit",
        action="store_true",
        help="score every day as an audit day (every candidate goes to the LLM; see ranking/audit.py)",
    )
    args = parser.parse_args()
    cases = load_cases(DEFAULT_REFERENCE)  # sorted by day, then criteria file
    known = sorted({case.date for case in cases})
    if unknown := sorted(set(args.day or ()) - set(known)):
        parser.error(f"no reference day {', '.join(unknown)}; there are {', '.join(known)}")
    ranker = LocalRanker()
    print(
        f"ranker: LocalRanker + llm_candidates ({'with' if args.history else 'no'} history); model priced as "
        f"{args.model}; batch 10; abstracts ≤ {prompt.MAX_ABSTRACT_CHARS} chars"
        + ("; audit days: every candidate to the LLM" if args.audit else "")
    )
    head = (
        f"{'day':10} {'criteria':22} {'cand':>4} {'sent':>4} {'calls':>5} {'prompt':>7} "
        f"{'tok/LLM':>7} {'tok/cand':>8} {'rec≥7':>7} {'$':>8} | {'b.calls':>7} "
        f"{'b.prompt':>8} {'b.tok/cand':>10} {'b.$':>8}"
    )
    print(head)
    print("-" * len(head))
    totals = {
        "cand": 0,
        "sent": 0,
        "calls": 0,
        "prompt": 0,
        "completion": 0,
        "pos": 0,
        "hit": 0,
        "b_calls": 0,
        "b_prompt": 0,
        "scored": 0,
    }
    worst_recall = 1.0
    started = time.perf_counter()
    with FakeLLM() as fake:
        judge = LiteLLMJudge(f"openai/{args.model}", api_base=fake.api_base, api_key="sk-bench", timeout=30)
        for case in cases:
            if args.day and case.date not in args.day:
                continue
            day, criteria, papers, labels = case.date, case.criteria, list(case.papers), case.labels
            cache = _History(history_for(case, cases)) if args.history else None
            first = len(fake.requests)
            result = score_criteria(
                criteria,
                papers,
                ranker=ranker,
                judge=judge,
                cache=cache,
                cut=llm_candidates,
                audit_on=dt.date.fromisoformat(day) if args.audit else None,
            )
            sent_requests = fake.requests[first:]
            sent = {i for r in sent_requests for i in _ids(r)}
            prompt_tokens = sum(tokens(args.model, r["messages"]) for r in sent_requests)
            answers = fake.answers[first:]
            completion = sum(tokens(args.model, [{"role": "assistant", "content": a}]) for a in answers)
            pos = {i for i, r in labels.items() if r >= 7}  # labels of candidates only (load_cases)
            hit = len(pos & sent)
            recall = hit / len(pos) if pos else 1.0
            worst_recall = min(worst_recall, recall)
            b_calls, b_prompt = baseline(args.model, criteria, papers)
            per_paper_completion = completion / max(1, result.llm_scored)
            b_completion = round(per_paper_completion * len(papers))
            cost = dollars(args.model, prompt_tokens, completion)
            b_cost = dollars(args.model, b_prompt, b_completion)
            print(
                f"{day:10} {case.criteria_name[:22]:22} {len(papers):4d} {len(sent):4d} "
                f"{len(sent_requests):5d} {prompt_tokens:7d} "
                f"{prompt_tokens / max(1, result.llm_scored):7.0f} "
                f"{prompt_tokens / len(papers):8.0f} {hit:3d}/{len(pos):<3d} "
                f"{_usd(cost):>8} | {b_calls:7d} {b_prompt:8d} "
                f"{b_prompt / len(papers):10.0f} {_usd(b_cost):>8}"
            )
            for key, value in (
                ("cand", len(papers)),
                ("sent", len(sent)),
                ("calls", len(sent_requests)),
                ("prompt", prompt_tokens),
                ("completion", completion),
                ("pos", len(pos)),
                ("hit", hit),
                ("b_calls", b_calls),
                ("b_prompt", b_prompt),
                ("scored", result.llm_scored),
            ):
                totals[key] += value
    t = totals
    print("-" * len(head))
    print(
        f"{'all':33} {t['cand']:4d} {t['sent']:4d} {t['calls']:5d} {t['prompt']:7d} "
        f"{t['prompt'] / max(1, t['scored']):7.0f} {t['prompt'] / t['cand']:8.0f} "
        f"{t['hit']:3d}/{t['pos']:<3d} {_usd(dollars(args.model, t['prompt'], t['completion'])):>8}"
        f" | {t['b_calls']:7d} {t['b_prompt']:8d} {t['b_prompt'] / t['cand']:10.0f}"
    )
    print(
        f"sent to the LLM: {t['sent'] / t['cand']:.0%} of candidates; recall of relevance ≥ 7 "
        f"among them: {t['hit'] / max(1, t['pos']):.1%} overall, worst day × criteria "
        f"{worst_recall:.1%}; prompt tokens {t['prompt'] / t['b_prompt']:.0%} of the baseline's; "
        f"{time.perf_counter() - started:.1f}s"
    )
    print(
        f"completion tokens {t['completion']} ({t['completion'] / max(1, t['scored']):.1f} per "
        f"LLM-scored paper, {t['completion'] / t['cand']:.1f} per candidate); prompt tokens "
        f"{t['prompt'] / t['cand']:.1f} per candidate (answers: the fake LLM's oracle, in the "
        f"prompt's answer format)"
    )


def _ids(request: dict[str, object]) -> list[str]:
    import re

    messages = request["messages"]
    assert isinstance(messages, list)
    return re.findall(r'<paper id="([^"]+)">', str(messages[-1]["content"]))


def _usd(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


if __name__ == "__main__":
    main()
