"""Audit days' figures: how much the cut in front of the LLM sends, and how much it catches."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import astuple, dataclass, fields

from newsletter.db import Database
from newsletter.models import HIGH, CutAudit

_COLUMNS = [f.name for f in fields(CutAudit)]


def save_audit(
    db: Database, cache_key: str, criteria_hash: str, digest_date: dt.date, audit: CutAudit
) -> None:
    """One row per (judge, criteria text, day). A later run of the day replaces it only when it
    covered at least as many papers: a delivery tick that scores a few readers' categories must
    not overwrite the whole day's figures."""
    updates = ", ".join(f"{c}=excluded.{c}" for c in _COLUMNS)
    with db.tx() as conn:
        conn.execute(
            f"INSERT INTO cut_audits(cache_key, criteria_hash, digest_date, {', '.join(_COLUMNS)})"  # noqa: S608
            f" VALUES (?, ?, ?{', ?' * len(_COLUMNS)})"
            f" ON CONFLICT(cache_key, criteria_hash, digest_date) DO UPDATE SET {updates}"
            " WHERE excluded.candidates >= cut_audits.candidates",
            (cache_key, criteria_hash, digest_date.isoformat(), *astuple(audit)),
        )


@dataclass(frozen=True, slots=True)
class AuditTotals:
    """Complete audit days since some date, added up over the criteria texts of one judge."""

    audits: int  # complete (criteria text, day) audits
    audit: CutAudit
    incomplete: int = 0  # audits with papers the LLM gave no score: left out of the sums

    @property
    def recall_high(self) -> float | None:
        return self.audit.caught_high / self.audit.relevant_high if self.audit.relevant_high else None

    def describe(self) -> str:
        """E.g. "the cut sends 64% of the papers and caught 14 of 15 of relevance ≥ 7 (93%)"."""
        audit = self.audit
        text = (
            f"the cut sends {audit.would_send / max(1, audit.candidates):.0%} of the papers and caught"
            f" {audit.caught_high} of {audit.relevant_high} of relevance ≥ {HIGH}"
        )
        return text + (f" ({self.recall_high:.0%})" if self.recall_high is not None else "")


def audit_totals(
    db: Database,
    since: dt.date,
    until: dt.date = dt.date.max,
    *,
    cache_key: str | None = None,
    criteria_hashes: Collection[str] | None = None,
) -> AuditTotals:
    """The audits of the days from `since` to `until`, both included.

    `cache_key` keeps one judge (model and prompt version): after a switch, the old model's
    audits say nothing about the new one. `criteria_hashes` keeps the criteria texts still in use.
    """
    where = "digest_date BETWEEN ? AND ?"
    params: list[str] = [since.isoformat(), until.isoformat()]
    if cache_key is not None:
        where += " AND cache_key = ?"
        params.append(cache_key)
    if criteria_hashes is not None:
        where += f" AND criteria_hash IN ({', '.join('?' * len(criteria_hashes))})"
        params += list(criteria_hashes)
    sums = ", ".join(f"COALESCE(SUM({c}), 0)" for c in _COLUMNS)
    complete = db.read().execute(
        f"SELECT COUNT(*), {sums} FROM cut_audits WHERE {where} AND unscored = 0",  # noqa: S608
        params,
    ).fetchone()
    (incomplete,) = db.read().execute(
        f"SELECT COUNT(*) FROM cut_audits WHERE {where} AND unscored > 0",  # noqa: S608
        params,
    ).fetchone()
    return AuditTotals(
        audits=int(complete[0]), audit=CutAudit(*(int(v) for v in complete[1:])), incomplete=int(incomplete)
    )
