"""The contracts of the scoring stage: a local ranker, an LLM judge and a score cache."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from newsletter.models import Paper, Score, Usage

if TYPE_CHECKING:
    from newsletter.models import CutAudit


class Ranker(Protocol):
    """Ranks every candidate of a day against one criteria text, offline.

    `history` holds (paper, LLM relevance) pairs judged for the same criteria on earlier days:
    free training data for today's cut. `votes` holds the readers' (paper, +1 | -1): "More like
    this" / "Less like this" and seed papers (+1), the strongest sign of what they want.
    """

    def rank(
        self,
        criteria: str,
        papers: Sequence[Paper],
        history: Sequence[tuple[Paper, int]] = (),
        votes: Sequence[tuple[Paper, int]] = (),
    ) -> list[Score]: ...


@dataclass(frozen=True, slots=True)
class Judgement:
    """What the LLM judge returned for one batch of work: scores, spend, and who got none."""

    scores: Mapping[str, Score]
    usage: Usage = Usage()
    unscored: frozenset[str] = field(default_factory=frozenset)
    errors: tuple[str, ...] = ()
    auth_failed: bool = False  # the provider rejected the API key (NEWSLETTER_LLM_API_KEY)
    budget_exhausted: bool = False  # some papers were not sent: the daily budget was spent
    late: frozenset[str] = field(default_factory=frozenset)  # unscored: the LLM deadline passed


BatchListener = Callable[[Mapping[str, Score], Usage], None]
"""Told of each LLM answer as it comes: the scores it gave (maybe none) and what the call cost.
The caller saves them at once, so a run killed half-way does not pay for the same answers again."""


class Judge(Protocol):
    """Scores papers with an LLM; never raises on a bad answer, reports the unscored instead.

    `on_batch`, when given, hears of every answered call before `judge` returns (from any thread);
    the `Judgement` still holds everything, so a judge may also never call it.
    """

    @property
    def cache_key(self) -> str:
        """Model and prompt version: which cached scores this judge may reuse."""
        ...

    def judge(
        self, criteria: str, papers: Sequence[Paper], on_batch: BatchListener | None = None
    ) -> Judgement: ...


class ScoreCache(Protocol):
    """Scores keyed by (judge cache key, criteria text hash, paper id and version)."""

    def get_many(
        self, cache_key: str, criteria: str, papers: Iterable[Paper]
    ) -> dict[str, Score]: ...

    def put_many(
        self, cache_key: str, criteria: str, papers: Iterable[Paper], scores: Mapping[str, Score]
    ) -> None: ...

    def history(self, cache_key: str, criteria: str, limit: int) -> list[tuple[Paper, int]]:
        """Earlier LLM judgements for this criteria text, newest first."""
        ...

    def record_audit(self, cache_key: str, criteria: str, digest_date: dt.date, audit: CutAudit) -> None:
        """Keep an audit day's figures (`newsletter.ranking.audit`); see `newsletter.db.audits`."""
        ...
