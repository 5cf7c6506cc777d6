"""What the orchestrator is given (Adapters, a progress hook) and what it returns (RunSummary)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from newsletter.models import DigestEntry, Subscriber, Usage

if TYPE_CHECKING:
    from newsletter.daily.send import DeliveryReport
    from newsletter.db.runs import RunRecord
    from newsletter.mail.base import Transport
    from newsletter.models import AnnouncementDay, Score
    from newsletter.ranking.base import Judge, Ranker, ScoreCache
    from newsletter.ranking.scoring import CriteriaScores


class AnnouncementSource(Protocol):
    def fetch_day(self, categories: Sequence[str], want: dt.date, now: dt.datetime) -> AnnouncementDay: ...


@dataclass(frozen=True)
class Adapters:
    """The outside world, as the orchestrator sees it."""

    source: AnnouncementSource
    ranker: Ranker
    judge: Judge | None
    cache: ScoreCache | None
    cut: Callable[[Sequence[Score]], list[str]]
    transport: Transport
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))


# progress(stage name, total) → a function to call once per finished item.
Progress = Callable[[str, int], Callable[[], None]]


def no_progress(stage: str, total: int) -> Callable[[], None]:
    return lambda: None


@dataclass
class RunSummary:
    digest_date: dt.date | None
    due: int = 0
    papers: int = 0
    sent: list[str] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    interrupted: list[str] = field(default_factory=list)  # found in `sending`, now `unknown`
    unknown: list[str] = field(default_factory=list)  # `unknown` from earlier runs, before this one
    released: list[str] = field(default_factory=list)  # --resend-unknown: back to `pending`
    problems: list[str] = field(default_factory=list)  # what is wrong with roster rows
    problem_rows: int = 0  # roster rows that were not served because of them
    previews: dict[str, list[Path]] = field(default_factory=dict)
    near_misses: dict[str, tuple[DigestEntry, ...]] = field(default_factory=dict)  # dry runs, no match
    usage: Usage = Usage()
    usage_by_criteria: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    no_announcement: str | None = None
    nothing_due: str | None = None  # why nobody was due, when nobody was
    fatal: str | None = None
    aborted: str | None = None

    @property
    def exit_code(self) -> int:
        return (
            1 if (self.fatal or self.aborted or self.failed or self.problem_rows or self.interrupted) else 0
        )

    @property
    def reason(self) -> str:
        """One line that says why the run did not fully succeed."""
        if self.fatal:
            return self.fatal
        if self.aborted:
            return self.aborted
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

    def add_scoring(self, scored: dict[str, CriteriaScores], subscribers: Sequence[Subscriber]) -> None:
        readers = Counter(s.criteria for s in subscribers)
        for number, (criteria, result) in enumerate(scored.items(), start=1):
            self.usage = self.usage + result.usage
            share = readers[criteria] or 1
            self.usage_by_criteria[f"criteria-{number}"] = {
                "readers": readers[criteria],
                "first_line": criteria.strip().splitlines()[0][:80] if criteria.strip() else "",
                "calls": result.usage.calls,
                "prompt_tokens": result.usage.prompt_tokens,
                "completion_tokens": result.usage.completion_tokens,
                "cost_usd": result.usage.cost_usd,
                "cost_per_reader_usd": result.usage.cost_usd / share,
                "llm_scored": result.llm_scored,
                "locally_ranked": result.locally_ranked,
            }
            if result.audit is not None:
                self.usage_by_criteria[f"criteria-{number}"]["cut_audit"] = asdict(result.audit)
                if result.llm_scored:  # once: later runs of the day (cached) need not repeat it
                    self.note(f"audit day for criteria-{number}: {result.audit.describe()}")
            if result.budget_exhausted:
                self.note("the daily LLM budget ran out: the rest was ranked locally")
            if result.auth_failed:
                self.note("NEWSLETTER_LLM_API_KEY was rejected: papers were ranked locally")

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def add_delivery(self, report: DeliveryReport) -> None:
        self.sent.extend(report.sent)
        self.failed.update(report.failed)
        self.skipped.extend(report.skipped)
        # This run's own `unknown` sends are in `failed` ("status unknown: …"); `unknown` stays
        # what earlier runs left, so the summary does not call this run's "of earlier runs".
        self.aborted = report.aborted

    def fill_record(self, record: RunRecord) -> None:
        record.status = "failed" if self.exit_code else "ok"
        record.subscribers_due = self.due
        record.subscribers_served = len(self.sent) + len(self.empty)
        record.papers = self.papers
        record.failures = len(self.failed)
        record.llm_calls = self.usage.calls
        record.prompt_tokens = self.usage.prompt_tokens
        record.completion_tokens = self.usage.completion_tokens
        record.cost_usd = self.usage.cost_usd
        record.errors = [f"{k}: {v}" for k, v in self.failed.items()] + ([self.fatal] if self.fatal else [])
        record.summary = {
            "criteria": self.usage_by_criteria,
            "notes": self.notes,
            "no_announcement": self.no_announcement,
            "problems": self.problems,
        }
