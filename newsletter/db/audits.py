"""Audit days' figures: how much the cut in front of the LLM sends, and how much it catches."""

from __future__ import annotations

import datetime as dt
from dataclasses import astuple, dataclass, fields

from newsletter.db import Database
from newsletter.ranking.audit import CutAudit

_COLUMNS = [f.name for f in fields(CutAudit)]


def save_audit(
    db: Database, cache_key: str, criteria_hash: str, digest_date: dt.date, audit: CutAudit
) -> None:
    """One row per (judge, criteria text, day); a re-run of the day replaces it."""
    with db.tx() as conn:
        conn.execute(
            f"INSERT OR REPLACE INTO cut_audits(cache_key, criteria_hash, digest_date, {', '.join(_COLUMNS)})"  # noqa: S608
            f" VALUES (?, ?, ?{', ?' * len(_COLUMNS)})",
            (cache_key, criteria_hash, digest_date.isoformat(), *astuple(audit)),
        )


@dataclass(frozen=True, slots=True)
class AuditTotals:
    """Audit days since some date, added up over every criteria text."""

    audits: int  # (criteria text, day) pairs
    audit: CutAudit

    @property
    def recall_high(self) -> float | None:
        return self.audit.caught_high / self.audit.relevant_high if self.audit.relevant_high else None


def audit_totals(db: Database, since: dt.date) -> AuditTotals:
    sums = ", ".join(f"COALESCE(SUM({c}), 0)" for c in _COLUMNS)
    row = db.read().execute(
        f"SELECT COUNT(*), {sums} FROM cut_audits WHERE digest_date >= ?",  # noqa: S608
        (since.isoformat(),),
    ).fetchone()
    return AuditTotals(audits=int(row[0]), audit=CutAudit(*(int(v) for v in row[1:])))
