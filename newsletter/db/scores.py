"""The score cache: one LLM judgement per (model and prompt, criteria text, paper version)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping

from newsletter.db import Database
from newsletter.db.audits import save_audit
from newsletter.db.papers import papers_by_id
from newsletter.models import CutAudit, Paper, Score


def criteria_hash(criteria: str) -> str:
    return hashlib.sha256(criteria.strip().encode("utf-8")).hexdigest()


class DatabaseScoreCache:
    """`ScoreCache` on the state database. Only LLM scores are cached; local ones are cheap."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get_many(self, cache_key: str, criteria: str, papers: Iterable[Paper]) -> dict[str, Score]:
        wanted = {(p.arxiv_id, p.version) for p in papers}
        if not wanted:
            return {}
        rows = self.db.read().execute(
            "SELECT arxiv_id, version, relevance, novelty, comment, topic FROM scores"
            " WHERE cache_key=? AND criteria_hash=?",
            (cache_key, criteria_hash(criteria)),
        )
        return {
            row["arxiv_id"]: Score(
                row["arxiv_id"], row["relevance"], row["novelty"], row["comment"], "llm", row["topic"]
            )
            for row in rows
            if (row["arxiv_id"], row["version"]) in wanted
        }

    def put_many(
        self, cache_key: str, criteria: str, papers: Iterable[Paper], scores: Mapping[str, Score]
    ) -> None:
        digest = criteria_hash(criteria)
        rows = [
            (cache_key, digest, p.arxiv_id, p.version, s.relevance, s.novelty, s.comment, s.topic)
            for p in papers
            if (s := scores.get(p.arxiv_id)) is not None and s.source == "llm"
        ]
        with self.db.tx() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO scores(cache_key, criteria_hash, arxiv_id, version,"
                " relevance, novelty, comment, topic) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def history(self, cache_key: str, criteria: str, limit: int) -> list[tuple[Paper, int]]:
        rows = (
            self.db.read()
            .execute(
                "SELECT arxiv_id, relevance FROM scores WHERE cache_key=? AND criteria_hash=?"
                # Newest day first, then newest paper: not the second an answer was stored, which
                # depends on which of a day's parallel answers landed first (and, for a replay of
                # many days at once, on the wall clock): the same scores give the same history.
                " ORDER BY substr(created_at, 1, 10) DESC, arxiv_id DESC LIMIT ?",
                (cache_key, criteria_hash(criteria), limit),
            )
            .fetchall()
        )
        papers = papers_by_id(self.db, (r["arxiv_id"] for r in rows))
        return [(papers[r["arxiv_id"]], r["relevance"]) for r in rows if r["arxiv_id"] in papers]

    def record_audit(self, cache_key: str, criteria: str, digest_date: dt.date, audit: CutAudit) -> None:
        save_audit(self.db, cache_key, criteria_hash(criteria), digest_date, audit)
