"""Audit days: now and then every candidate goes to the LLM, to measure the cut and to teach it.

The cut in front of the LLM (`llm_candidates`) only sends papers the local ranker thinks may be
relevant, so on a normal day a paper below it never gets an LLM score. Two things follow. Nobody
can tell how many relevant papers the cut loses, and the ranker's history (the LLM's earlier
scores, see `newsletter.ranking.learn`) only ever holds papers the cut already liked, so it cannot
learn where it was wrong. On an audit day (one day in `NEWSLETTER_LLM_AUDIT_EVERY`, chosen per
criteria text) the judge scores every candidate. That measures the cut's recall on real days, and
gives the history labels below the cut.

Which days are audit days is a hash of the date and the criteria text: stable, so a re-run of the
day makes the same choice and finds every score cached; spread, so criteria texts audit on
different days and the extra spend does not land on one day.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from newsletter.models import Score

HIGH, USEFUL = 7, 5  # relevance of a must-have paper, and the digest's usual bar


def is_audit_day(digest_date: dt.date, criteria: str, every: int) -> bool:
    """True on about one announcement day in `every` for this criteria text; never if `every` < 1."""
    if every < 1:
        return False
    key = f"{digest_date.isoformat()}\n{criteria.strip()}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") % every == 0


@dataclass(frozen=True, slots=True)
class CutAudit:
    """What the usual cut would have done on a day the LLM scored every candidate.

    `relevant_*`: papers the LLM scored at least HIGH (or USEFUL); `caught_*`: those of them the
    cut would have sent. `unscored`: candidates the LLM gave no score (budget, failures). They
    would have to count as not relevant, which can only flatter the cut, so an audit with any is
    incomplete and the totals leave it out (`newsletter.db.audits`).
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
