"""Plain data passed between the stages of the daily cycle: fetch → score → select → render → deliver.

Everything here is frozen; stages take these and return new ones. No I/O in this module.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

AnnounceType = Literal["new", "cross", "replace", "replace-cross"]
ScoreSource = Literal["llm", "local", "author"]
Frequency = Literal["daily", "weekly"]

_VERSIONED_ID = re.compile(r"^(?P<base>.+?)(?:v(?P<version>\d+))?$")


def split_arxiv_id(raw: str) -> tuple[str, int]:
    """'2508.20020v2' → ('2508.20020', 2); an id without a version is version 1."""
    match = _VERSIONED_ID.match(raw.strip())
    if match is None:  # pragma: no cover - the pattern matches any string
        raise ValueError(f"not an arXiv id: {raw!r}")
    version = match.group("version")
    return match.group("base"), int(version) if version else 1


@dataclass(frozen=True, slots=True)
class Paper:
    """One announced paper. `arxiv_id` never carries a version; `version` does."""

    arxiv_id: str
    title: str
    authors: tuple[str, ...]
    abstract: str
    categories: tuple[str, ...]  # the primary category first
    version: int = 1
    announce_type: AnnounceType = "new"
    license: str | None = None
    comment: str | None = None

    @property
    def primary_category(self) -> str:
        return self.categories[0] if self.categories else ""

    @property
    def abs_url(self) -> str:
        return f"https://arxiv.org/abs/{self.arxiv_id}"

    @property
    def pdf_url(self) -> str:
        return f"https://arxiv.org/pdf/{self.arxiv_id}"


@dataclass(frozen=True, slots=True)
class AnnouncementDay:
    """What arXiv announced on one date (US Eastern announcement date) for some categories."""

    date: dt.date
    categories: tuple[str, ...]
    papers: tuple[Paper, ...]


@dataclass(frozen=True, slots=True)
class Score:
    """How well one paper fits one criteria text. Relevance and novelty are 1–10."""

    arxiv_id: str
    relevance: int
    novelty: int
    comment: str
    source: ScoreSource = "local"
    topic: int | None = None  # number of the criteria topic the paper fits best, when known


@dataclass(frozen=True, slots=True)
class Usage:
    """LLM spend of some piece of work."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.calls + other.calls,
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.cost_usd + other.cost_usd,
        )


@dataclass(frozen=True, slots=True)
class Subscriber:
    """One valid roster row, with its criteria text already read."""

    email: str
    criteria: str
    criteria_path: Path
    name: str = ""
    categories: tuple[str, ...] = ()
    timezone: str = "UTC"
    send_at: dt.time = dt.time(7, 0)
    authors: tuple[str, ...] = ()
    min_relevance: int | None = None
    min_novelty: int | None = None
    max_papers: int | None = None
    row: int = 0  # line number in the CSV, for messages
    # The reader's own settings (issue 24; stored in the database over the roster row):
    frequency: Frequency = "daily"
    weekday: int = 0  # the weekly digest's day in the reader's time zone: 0 = Monday … 6 = Sunday
    # No digest on the reader's local dates before this one; announcement days before it are never
    # sent, so nothing piles up during a pause. Resuming early sets it to the day of resuming.
    paused_until: dt.date | None = None
    max_per_topic: int | None = None
    from_reader: frozenset[str] = frozenset()  # names of the fields above set by the reader


@dataclass(frozen=True, slots=True)
class DigestEntry:
    paper: Paper
    score: Score

    @property
    def author_match(self) -> bool:
        return self.score.source == "author"


@dataclass(frozen=True, slots=True)
class Digest:
    """One subscriber's selection for one announcement date (or span of dates), best first."""

    subscriber: Subscriber
    date: dt.date
    entries: tuple[DigestEntry, ...]
    # The first announcement date when the digest covers several (a weekly digest, or the first
    # after a change of frequency); None for one day's. `date` is then the last.
    first: dt.date | None = None

    @property
    def paper_ids(self) -> tuple[str, ...]:
        return tuple(entry.paper.arxiv_id for entry in self.entries)


@dataclass(frozen=True, slots=True)
class RenderedDigest:
    subject: str
    markdown: str
    html: str


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    """Exactly what a transport sends; the outbox and SendGrid paths take the same object."""

    to: str
    from_email: str
    from_name: str
    subject: str
    text: str
    html: str
    reply_to: str
    unsubscribe_url: str  # HTTPS one-click URL (RFC 8058)
    message_id: str  # RFC 5322 Message-ID, with angle brackets
    date: dt.datetime
    digest_id: str  # our id of this (subscriber, digest date), sent as custom_args
    category: str = "digest"
    headers: tuple[tuple[str, str], ...] = field(default=())
    to_name: str = ""  # the reader's name from the roster, shown in the To header

    @property
    def list_unsubscribe(self) -> str:
        return f"<{self.unsubscribe_url}>, <mailto:{self.reply_to}?subject=unsubscribe>"


HIGH, USEFUL = 7, 5  # relevance of a must-have paper, and the digest's usual bar


@dataclass(frozen=True, slots=True)
class CutAudit:
    """What the usual cut would have done on a day the LLM scored every candidate.

    `relevant_*`: papers the LLM scored at least HIGH (or USEFUL); `caught_*`: those of them the
    cut would have sent. `unscored`: candidates the LLM gave no score (budget, failures). They
    would have to count as not relevant, which can only flatter the cut, so an audit with any is
    incomplete and the totals leave it out (`newsletter.db.audits`). Audit days:
    `newsletter.ranking.audit`.
    """

    candidates: int
    would_send: int
    relevant_high: int
    caught_high: int
    relevant_useful: int
    caught_useful: int
    unscored: int = 0

    @classmethod
    def measure(
        cls, candidates: Collection[str], would_send: Collection[str], llm_scores: Mapping[str, Score]
    ) -> CutAudit:
        sent = set(would_send) & set(candidates)

        def relevant(level: int) -> set[str]:
            return {i for i in candidates if i in llm_scores and llm_scores[i].relevance >= level}

        high, useful = relevant(HIGH), relevant(USEFUL)
        return cls(
            candidates=len(candidates),
            would_send=len(sent),
            relevant_high=len(high),
            caught_high=len(high & sent),
            relevant_useful=len(useful),
            caught_useful=len(useful & sent),
            unscored=sum(1 for i in candidates if i not in llm_scores),
        )

    @property
    def complete(self) -> bool:
        return self.unscored == 0

    def describe(self) -> str:
        """One line for the run summary and the log."""
        share = self.would_send / self.candidates if self.candidates else 0.0
        text = (
            f"all {self.candidates} papers went to the LLM; the usual cut would have sent"
            f" {self.would_send} ({share:.0%}) and caught {self.caught_high} of {self.relevant_high}"
            f" of relevance ≥ {HIGH}, {self.caught_useful} of {self.relevant_useful} of relevance ≥ {USEFUL}"
        )
        if self.unscored:
            text += f" (incomplete: {self.unscored} got no LLM score)"
        return text
