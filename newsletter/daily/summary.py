"""What one daily cycle returns: who got what, what scoring cost, and how the run ended.

Stages return their results and `newsletter.daily.run` combines them into one frozen
`RunSummary` with one tagged `Outcome`; nothing writes into a summary after it is made.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from newsletter.models import DigestEntry, Subscriber, Usage

if TYPE_CHECKING:
    from newsletter.db.runs import RunRecord
    from newsletter.ranking.scoring import CriteriaScores

# progress(stage name, total) → a function to call once per finished item.
Progress = Callable[[str, int], Callable[[], None]]


def no_progress(stage: str, total: int) -> Callable[[], None]:
    return lambda: None


OutcomeKind = Literal["served", "no announcement", "nothing due", "aborted", "fatal"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a run ended. `served`: the cycle ran (some digests may still have failed);
    `no announcement`: arXiv announced nothing that day (not an error); `nothing due`: every
    reader had the day already or has left; `aborted`: sending stopped part-way (credentials
    rejected) or the run could not be recorded; `fatal`: the run could not do its work."""

    kind: OutcomeKind = "served"
    reason: str = ""


SERVED = Outcome()


JudgeProblemKind = Literal["deadline", "degenerate"]


@dataclass(frozen=True, slots=True)
class JudgeProblem:
    """Something the admin should hear about the LLM judge once a day (`service.alerts`)."""

    kind: JudgeProblemKind
    criteria: str  # `criteria-N` and the text's first line
    detail: str


@dataclass(frozen=True, slots=True)
class Scoring:
    """What scoring one day cost, per criteria text (`criteria-N`), and what the admin should know."""

    usage: Usage = Usage()
    by_criteria: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    judge_problems: tuple[JudgeProblem, ...] = ()


def _criteria_figures(criteria: str, result: CriteriaScores, readers: int) -> dict[str, object]:
    return {
        "readers": readers,
        "first_line": criteria.strip().splitlines()[0][:80] if criteria.strip() else "",
        "calls": result.usage.calls,
        "prompt_tokens": result.usage.prompt_tokens,
        "completion_tokens": result.usage.completion_tokens,
        "cost_usd": result.usage.cost_usd,
        "cost_per_reader_usd": result.usage.cost_usd / (readers or 1),
        "llm_scored": result.llm_scored,
        "locally_ranked": result.locally_ranked,
        "llm_late": result.late,
    }


def _judge_problems(name: str, first_line: str, result: CriteriaScores) -> list[JudgeProblem]:
    where = f"{name} ({first_line})" if first_line else name
    problems = []
    if result.late:
        problems.append(JudgeProblem(
            "deadline", where,
            f"the LLM deadline (NEWSLETTER_LLM_DEADLINE_MINUTES) passed: {result.late} paper(s) of"
            f" {name} were ranked locally",
        ))
    if result.degenerate:
        problems.append(JudgeProblem(
            "degenerate", where,
            f"the LLM's scores for {name} look degenerate: {result.degenerate}; each digest still"
            " keeps its NEWSLETTER_MAX_PAPERS, but a stronger model (or none) would rank better",
        ))
    return problems


def scoring_report(scored: Mapping[str, CriteriaScores], subscribers: Sequence[Subscriber]) -> Scoring:
    """The cost and the notes of a day's scoring (`score_stage`'s result), per criteria text."""
    readers = Counter(s.criteria for s in subscribers)
    usage = Usage()
    by_criteria: dict[str, Mapping[str, object]] = {}
    notes: list[str] = []
    problems: list[JudgeProblem] = []
    for number, (criteria, result) in enumerate(scored.items(), start=1):
        usage = usage + result.usage
        name = f"criteria-{number}"
        figures = _criteria_figures(criteria, result, readers[criteria])
        if result.audit is not None:
            figures["cut_audit"] = asdict(result.audit)
            if result.llm_scored:  # once: later runs of the day (cached) need not repeat it
                notes.append(f"audit day for {name}: {result.audit.describe()}")
        if result.budget_exhausted:
            notes.append("the daily LLM budget ran out: the rest was ranked locally")
        if result.auth_failed:
            notes.append("NEWSLETTER_LLM_API_KEY was rejected: papers were ranked locally")
        found = _judge_problems(name, str(figures["first_line"]), result)
        notes += [problem.detail for problem in found]
        problems += found
        by_criteria[name] = figures
    return Scoring(usage, by_criteria, tuple(dict.fromkeys(notes)), tuple(problems))


@dataclass(frozen=True)
class RunSummary:
    """One run's result. `failed` also holds this run's `unknown` sends ("status unknown: …");
    `unknown` lists those earlier runs left; `interrupted` the sends found in `sending` (now
    `unknown`); `released` those `--resend-unknown` put back to pending; `problems` what is wrong
    with roster rows and `problem_rows` how many rows were not served because of it."""

    digest_date: dt.date
    outcome: Outcome = SERVED
    due: int = 0
    papers: int = 0
    sent: tuple[str, ...] = ()
    empty: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    failed: Mapping[str, str] = field(default_factory=dict)
    interrupted: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()
    released: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    problem_rows: int = 0
    previews: Mapping[str, tuple[Path, ...]] = field(default_factory=dict)
    near_misses: Mapping[str, tuple[DigestEntry, ...]] = field(default_factory=dict)  # dry runs, no match
    scoring: Scoring = Scoring()

    def ended(self, kind: OutcomeKind, reason: str) -> RunSummary:
        return dataclasses.replace(self, outcome=Outcome(kind, reason))

    def _reason_if(self, kind: OutcomeKind) -> str | None:
        return self.outcome.reason if self.outcome.kind == kind else None

    @property
    def fatal(self) -> str | None:
        return self._reason_if("fatal")

    @property
    def aborted(self) -> str | None:
        return self._reason_if("aborted")

    @property
    def no_announcement(self) -> str | None:
        return self._reason_if("no announcement")

    @property
    def nothing_due(self) -> str | None:
        """Why nobody was due, when nobody was."""
        return self._reason_if("nothing due")

    @property
    def usage(self) -> Usage:
        return self.scoring.usage

    @property
    def usage_by_criteria(self) -> Mapping[str, Mapping[str, object]]:
        return self.scoring.by_criteria

    @property
    def notes(self) -> tuple[str, ...]:
        return self.scoring.notes

    @property
    def exit_code(self) -> int:
        trouble = self.outcome.kind in ("fatal", "aborted")
        return 1 if (trouble or self.failed or self.problem_rows or self.interrupted) else 0

    @property
    def reason(self) -> str:
        """One line that says why the run did not fully succeed."""
        if self.outcome.kind in ("fatal", "aborted"):
            return self.outcome.reason
        parts = []
        if self.failed:
            parts.append(f"{len(self.failed)} digest(s) failed")
        if self.interrupted:
            parts.append(
                f"{len(self.interrupted)} delivery(ies) interrupted earlier are now 'unknown'"
                " (check, then `newsletter run --resend-unknown`)"
            )
        if self.problem_rows:
            parts.append(f"{self.problem_rows} roster row(s) not served (see `newsletter subscribers check`)")
        return "; ".join(parts)

    def as_record(self, record: RunRecord) -> RunRecord:
        """`record` (a started run) finished with this summary's figures, for `finish_run`."""
        return dataclasses.replace(
            record,
            status="failed" if self.exit_code else "ok",
            subscribers_due=self.due,
            subscribers_served=len(self.sent) + len(self.empty),
            papers=self.papers,
            failures=len(self.failed),
            llm_calls=self.usage.calls,
            prompt_tokens=self.usage.prompt_tokens,
            completion_tokens=self.usage.completion_tokens,
            cost_usd=self.usage.cost_usd,
            errors=[f"{k}: {v}" for k, v in self.failed.items()] + ([self.fatal] if self.fatal else []),
            summary={
                "criteria": self.usage_by_criteria,
                "notes": list(self.notes),
                "no_announcement": self.no_announcement,
                "problems": list(self.problems),
            },
        )
