"""The reference's 30 consecutive real days per reader (`../shared/reference/train`), as the
learning bench replays them: each day's candidates and the reader's recorded LLM judgements.

Layout (see its MANIFEST.json): `days/<date>.jsonl.gz` (every candidate of the day, one JSON
object a line, as bench/ranking.py reads them), `selections/<date>_<reader>.json` (the papers the
reader's LLM selected, with relevance, novelty and comment, and the reader's `relevance_cutoff`)
and `criteria/<reader>__<criteria id>.md`.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ranking import DEFAULT_REFERENCE, reference_paper

from newsletter.models import Paper

DEFAULT_TRAIN = DEFAULT_REFERENCE / "train"
BROAD = ("spatial-intelligence-embodied", "vision-language-seven-topics")  # the broad readers


@dataclass(frozen=True, slots=True)
class Judged:
    """The reader's recorded LLM judgement of a selected paper."""

    relevance: int
    novelty: int
    comment: str


@dataclass(frozen=True, slots=True)
class TrainDay:
    date: dt.date
    papers: tuple[Paper, ...]  # every candidate of the day, as the reference lists them
    judged: Mapping[str, Judged]  # the selected papers only; "not selected" is not "rejected"
    cutoff: int  # the reader's relevance_cutoff: the selection holds papers at or above it


@dataclass(frozen=True, slots=True)
class ReaderDays:
    name: str
    criteria: str
    categories: tuple[str, ...]
    days: tuple[TrainDay, ...]

    @property
    def broad(self) -> bool:
        return self.name in BROAD


def reader_names(train: Path = DEFAULT_TRAIN) -> list[str]:
    manifest = json.loads((train / "MANIFEST.json").read_text(encoding="utf-8"))
    return sorted(manifest["readers"])


@cache
def _day_papers(path: Path) -> tuple[Paper, ...]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return tuple(reference_paper(json.loads(line)) for line in lines if line.strip())


def load_reader(name: str, train: Path = DEFAULT_TRAIN, days: int | None = None) -> ReaderDays:
    """One reader's days in order (the first `days` of them when given)."""
    manifest = json.loads((train / "MANIFEST.json").read_text(encoding="utf-8"))
    if name not in manifest["readers"]:
        raise SystemExit(f"no reader {name!r} in {train}; there are {', '.join(sorted(manifest['readers']))}")
    entry = manifest["readers"][name]
    (criteria_id,) = entry["criteria_ids"]
    criteria = (train / "criteria" / f"{name}__{criteria_id}.md").read_text(encoding="utf-8")
    loaded, categories = [], ()
    for date in entry["dates"][:days]:
        selection = json.loads((train / "selections" / f"{date}_{name}.json").read_text(encoding="utf-8"))
        categories = tuple(selection["categories"])
        judged = {
            s["arxiv_id"]: Judged(int(s["relevance"]), int(s["novelty"]), str(s.get("comment") or ""))
            for s in selection["selected"]
        }
        papers = _day_papers(train / "days" / f"{date}.jsonl.gz")
        cutoff = int(selection["relevance_cutoff"])
        loaded.append(TrainDay(dt.date.fromisoformat(date), papers, judged, cutoff))
    return ReaderDays(name, criteria, categories, tuple(loaded))


def seed_papers(day: TrainDay, count: int = 3) -> list[Paper]:
    """The day's best-scored papers by recorded relevance, then novelty (then id, for a fixed order)."""
    by_id = {p.arxiv_id: p for p in day.papers}
    best = sorted((i for i in day.judged if i in by_id),
                  key=lambda i: (-day.judged[i].relevance, -day.judged[i].novelty, i))
    return [by_id[i] for i in best[:count]]


def judgements(days: Sequence[TrainDay]) -> dict[str, Judged]:
    """Every recorded judgement of the reader, by paper id (the criteria text never changes)."""
    return {i: j for day in days for i, j in day.judged.items()}
