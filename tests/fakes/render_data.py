"""Real digests to render, built from tests/data/render (copied from shared/reference).

Plain functions, not fixtures: bench/render.py builds the same 30-paper digest.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import cache
from pathlib import Path
from typing import Any

from newsletter.models import Digest, DigestEntry, Paper, Score, Subscriber

DATA = Path(__file__).resolve().parent.parent / "data" / "render"
SEEDS = {"2025-08-28": "seed-2025-08-28.txt", "2025-06-19": "seed-2025-06-19.txt"}
UNSUBSCRIBE_URL = "https://digest.example.org/unsubscribe/tok_3f9a"
REPLY_TO = "u-tok_3f9a@reply.example.org"


@cache
def _papers() -> dict[str, dict[str, dict[str, Any]]]:
    raw = json.loads((DATA / "papers.json").read_text(encoding="utf-8"))
    return {day: {r["id"]: r for r in records} for day, records in raw.items()}


def paper(day: str, arxiv_id: str) -> Paper:
    record = _papers()[day][arxiv_id]
    return Paper(
        arxiv_id=record["id"],
        title=record["title"],
        authors=tuple(record["authors"]),
        abstract=record["summary"],
        categories=tuple(record["categories"]),
        comment=record["comment"],
    )


def subscriber(criteria_file: str, email: str = "ada@example.org") -> Subscriber:
    path = DATA / criteria_file
    return Subscriber(email=email, criteria=path.read_text(encoding="utf-8"), criteria_path=path)


def _digest(day: str, selection: dict[str, Any], sub: Subscriber) -> Digest:
    entries = tuple(
        DigestEntry(
            paper(day, s["arxiv_id"]),
            Score(s["arxiv_id"], s["relevance"], s["novelty"], s["comment"], source="llm"),
        )
        for s in selection["selected"]
    )
    return Digest(subscriber=sub, date=dt.date.fromisoformat(day), entries=entries)


def seed_digest(day: str) -> Digest:
    """The digest behind seed-<day>.txt: its papers, the LLM's scores and the criteria."""
    selection = json.loads((DATA / f"selection-{day}.json").read_text(encoding="utf-8"))
    return _digest(day, selection, subscriber("criteria-generation-segmentation-matting.md"))


def seed_text(day: str) -> str:
    return (DATA / SEEDS[day]).read_text(encoding="utf-8")


def thirty_paper_digest() -> Digest:
    """A real 30-paper day (2025-08-28, spatial-intelligence criteria) with full abstracts."""
    selection = json.loads((DATA / "selection-2025-08-28-spatial-top30.json").read_text(encoding="utf-8"))
    sub = subscriber("criteria-spatial-intelligence-embodied.md")
    return _digest("2025-08-28", selection, sub)


# A reader token as subscribers.new_token makes them (32 characters): links of realistic length.
VOTE_TOKEN = "a" * 32


def vote_links(digest: Digest, public_url: str = "https://digest.example.org") -> dict[str, tuple[str, str]]:
    """The digest's "more/less like this" links, as a run makes them."""
    from newsletter.readers.votes import vote_urls

    return vote_urls(public_url, VOTE_TOKEN, tuple(e.paper.arxiv_id for e in digest.entries))


def topical_digest() -> Digest:
    """`thirty_paper_digest` with the topics its LLM comments name ("Matches criterion 3 …": the
    first number); papers whose comment names none have no topic."""
    import dataclasses
    import re

    base = thirty_paper_digest()
    entries = []
    for entry in base.entries:
        named = re.search(r"criterion (\d)", entry.score.comment)
        topic = int(named.group(1)) if named else None
        entries.append(dataclasses.replace(entry, score=dataclasses.replace(entry.score, topic=topic)))
    return dataclasses.replace(base, entries=tuple(entries))
