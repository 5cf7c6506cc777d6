"""Announcement days and their papers."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable, Sequence

from newsletter.clock import utc_now
from newsletter.db import Database
from newsletter.models import AnnouncementDay, Paper


def categories_key(categories: Iterable[str]) -> str:
    return "+".join(sorted(set(categories)))


def _upsert_papers(conn: sqlite3.Connection, papers: Iterable[Paper]) -> None:
    conn.executemany(
        "INSERT INTO papers(arxiv_id, version, title, authors, abstract, categories, license, comment)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(arxiv_id) DO UPDATE SET version=excluded.version, title=excluded.title,"
        " authors=excluded.authors, abstract=excluded.abstract, categories=excluded.categories,"
        " license=excluded.license, comment=excluded.comment WHERE excluded.version >= papers.version",
        [
            (
                p.arxiv_id,
                p.version,
                p.title,
                json.dumps(p.authors),
                p.abstract,
                json.dumps(p.categories),
                p.license,
                p.comment,
            )
            for p in papers
        ],
    )


def save_papers(db: Database, papers: Iterable[Paper]) -> None:
    """Store papers outside any announcement day (a reader's seed papers); retention keeps a
    paper that a vote names (newsletter/db/retention.py)."""
    with db.tx() as conn:
        _upsert_papers(conn, papers)


def save_day(db: Database, day: AnnouncementDay, source: str, now: dt.datetime | None = None) -> None:
    """Store a fetched day in one transaction (replacing an earlier fetch of the same day)."""
    key = categories_key(day.categories)
    fetched = (now or utc_now()).isoformat()
    with db.tx() as conn:
        conn.execute("DELETE FROM announcements WHERE date=? AND categories=?", (day.date.isoformat(), key))
        conn.execute(
            "INSERT INTO announcements(date, categories, source, fetched_at, paper_count)"
            " VALUES (?, ?, ?, ?, ?)",
            (day.date.isoformat(), key, source, fetched, len(day.papers)),
        )
        _upsert_papers(conn, day.papers)
        conn.executemany(
            "INSERT OR IGNORE INTO announcement_papers(date, categories, arxiv_id, version,"
            " announce_type, position) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (day.date.isoformat(), key, p.arxiv_id, p.version, p.announce_type, i)
                for i, p in enumerate(day.papers)
            ],
        )


def _paper(row: sqlite3.Row, version: int | None = None, announce_type: str = "new") -> Paper:
    return Paper(
        arxiv_id=row["arxiv_id"],
        version=version if version is not None else row["version"],
        title=row["title"],
        authors=tuple(json.loads(row["authors"])),
        abstract=row["abstract"],
        categories=tuple(json.loads(row["categories"])),
        announce_type=announce_type,  # type: ignore[arg-type]
        license=row["license"],
        comment=row["comment"],
    )


def load_day(db: Database, date: dt.date, categories: Sequence[str]) -> AnnouncementDay | None:
    """A stored day that covers `categories` (a fetch of a superset serves too)."""
    wanted = set(categories)
    rows = (
        db.read()
        .execute(
            "SELECT categories FROM announcements WHERE date=? ORDER BY length(categories)",
            (date.isoformat(),),
        )
        .fetchall()
    )
    key = next((r["categories"] for r in rows if wanted <= set(r["categories"].split("+"))), None)
    if key is None:
        return None
    papers = tuple(
        _paper(row, row["ap_version"], row["announce_type"])
        for row in db.read().execute(
            "SELECT p.*, ap.version AS ap_version, ap.announce_type FROM announcement_papers ap"
            " JOIN papers p USING (arxiv_id) WHERE ap.date=? AND ap.categories=?"
            " ORDER BY ap.position",
            (date.isoformat(), key),
        )
    )
    return AnnouncementDay(date=date, categories=tuple(key.split("+")), papers=papers)


def latest_day(db: Database) -> tuple[dt.date, str] | None:
    """The newest stored announcement date and when it was fetched."""
    row = (
        db.read()
        .execute("SELECT date, fetched_at FROM announcements ORDER BY date DESC, fetched_at DESC LIMIT 1")
        .fetchone()
    )
    return (dt.date.fromisoformat(row["date"]), row["fetched_at"]) if row else None


def stored_dates(db: Database, since: dt.date) -> set[dt.date]:
    """The announcement dates stored on or after `since`."""
    rows = db.read().execute(
        "SELECT DISTINCT date FROM announcements WHERE date >= ?", (since.isoformat(),)
    ).fetchall()
    return {dt.date.fromisoformat(row[0]) for row in rows}


def papers_by_id(db: Database, ids: Iterable[str]) -> dict[str, Paper]:
    wanted = list(ids)
    found: dict[str, Paper] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for row in db.read().execute(f"SELECT * FROM papers WHERE arxiv_id IN ({marks})", chunk):  # noqa: S608
            found[row["arxiv_id"]] = _paper(row)
    return found
