"""A reader's past digests for their archive page: the sent deliveries, newest first, each with
its papers as the digest showed them where the feed entries still hold them (db/feed.py keeps
them for its window), else the stored paper's title, else the arXiv id alone (after retention)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from newsletter.db import Database
from newsletter.db.papers import papers_by_id


@dataclass(frozen=True, slots=True)
class ArchivedPaper:
    arxiv_id: str
    title: str  # "" once retention removed the paper and its feed entry
    relevance: int | None


@dataclass(frozen=True, slots=True)
class ArchivedDigest:
    digest_date: dt.date
    sent_at: str
    papers: tuple[ArchivedPaper, ...]


def sent_digests(db: Database, email: str, limit: int = 60) -> list[ArchivedDigest]:
    """The reader's newest `limit` sent digests, newest first, papers in the digest's order."""
    rows = db.read().execute(
        "SELECT digest_date, sent_at, paper_ids FROM deliveries WHERE email=? AND status='sent'"
        " ORDER BY digest_date DESC LIMIT ?",
        (email, limit),
    ).fetchall()
    if not rows:
        return []
    shown: dict[tuple[str, str], tuple[str, int]] = {}
    oldest = rows[-1]["digest_date"]
    for entry in db.read().execute(
        "SELECT digest_date, arxiv_id, title, CASE WHEN source='local' THEN NULL ELSE relevance END"
        " AS relevance FROM feed_entries WHERE email=? AND digest_date>=?",  # a local score is an estimate
        (email, oldest),
    ):
        shown[(entry["digest_date"], entry["arxiv_id"])] = (entry["title"], entry["relevance"])
    ids = {i for row in rows for i in json.loads(row["paper_ids"])}
    stored = papers_by_id(db, ids)
    digests = []
    for row in rows:
        papers = []
        for arxiv_id in json.loads(row["paper_ids"]):
            title, relevance = shown.get((row["digest_date"], arxiv_id), ("", None))
            if not title and arxiv_id in stored:
                title = " ".join(stored[arxiv_id].title.split())
            papers.append(ArchivedPaper(arxiv_id, title, relevance))
        digests.append(ArchivedDigest(dt.date.fromisoformat(row["digest_date"]), str(row["sent_at"] or ""),
                                      tuple(papers)))
    return digests
