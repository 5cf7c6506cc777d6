"""bench/learning.py's core on two bundled reference days of one reader, so the bench cannot rot
unseen: the real daily cycle runs, the simulated reader's seeds and votes reach the votes table,
and the figures are computed (the first day left out)."""

from __future__ import annotations

import json
import random
import shutil
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import learning  # noqa: E402
from learning_report import report, window  # noqa: E402
from train_days import ReaderDays, TrainDay, load_reader, seed_papers  # noqa: E402

from newsletter.db import Database  # noqa: E402
from newsletter.db import votes as vote_store  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data"
READER = "spatial-intelligence-embodied"
DATES = ("2025-06-19", "2025-08-28")


@pytest.fixture
def reader(tmp_path: Path) -> ReaderDays:
    """Two bundled reference days laid out as ../shared/reference/train lays out its 30."""
    train = tmp_path / "train"
    for folder in ("days", "selections", "criteria"):
        (train / folder).mkdir(parents=True)
    shutil.copy(DATA / "ranking" / f"criteria-{READER}.md", train / "criteria" / f"{READER}__test.md")
    for date in DATES:
        shutil.copy(DATA / "arxiv" / f"{date}.jsonl.gz", train / "days" / f"{date}.jsonl.gz")
        bundled = json.loads((DATA / "ranking" / f"selection-{date}_{READER}.json").read_text())
        selection = {**bundled, "reader": READER, "relevance_cutoff": int(bundled["relevance_cutoff"]),
                     "categories": [c.strip() for c in bundled["categories"].split(",")]}
        (train / "selections" / f"{date}_{READER}.json").write_text(json.dumps(selection))
    manifest = {"readers": {READER: {"criteria_ids": ["test"], "dates": list(DATES)}}}
    (train / "MANIFEST.json").write_text(json.dumps(manifest))
    return load_reader(READER, train)


def _votes(folder: Path) -> list[vote_store.Vote]:
    db = Database.open(folder / "var" / "state.db")
    try:
        return vote_store.select(db, email=learning.EMAIL)
    finally:
        db.close()


def test_a_reader_with_feedback_seeds_and_votes_and_the_first_day_is_not_measured(
    reader: ReaderDays, tmp_path: Path
) -> None:
    days = learning.replay(reader, learning.Options("local", feedback=True), tmp_path / "with")
    assert [d.date for d in days] == list(DATES)
    assert [d.measured for d in days] == [False, True]
    votes = _votes(tmp_path / "with")
    seeds = {v.arxiv_id for v in votes if v.source == "seed"}
    assert seeds == {p.arxiv_id for p in seed_papers(reader.days[0])}
    assert len(seeds) == 3
    clicks = [v for v in votes if v.source == "click"]
    cast = sum(d.votes_up + d.votes_down for d in days)
    # a click on a seed paper of the first digest may leave the seed's row as it was (idempotent)
    assert cast - len(seeds) <= len(clicks) <= cast
    assert clicks
    for day in days:
        assert 0 < day.digest <= 30
        assert day.relevant > 0
        assert day.recall is not None and 0 <= day.recall <= 1
        assert day.share is not None and 0 <= day.share <= 1
        assert day.sent is None and day.tokens is None  # no LLM in local mode


def test_without_feedback_the_votes_table_stays_empty(reader: ReaderDays, tmp_path: Path) -> None:
    days = learning.replay(reader, learning.Options("local", feedback=False), tmp_path / "without")
    assert _votes(tmp_path / "without") == []
    assert all(d.votes_up == d.votes_down == 0 for d in days)


def test_llm_mode_counts_what_was_sent_and_its_tokens(reader: ReaderDays, tmp_path: Path) -> None:
    days = learning.replay(reader, learning.Options("llm", feedback=True), tmp_path / "llm")
    for day in days:
        assert day.sent is not None and 0 < day.sent <= day.candidates
        assert day.reached is not None and day.reached <= day.relevant
        assert day.tokens is not None and day.tokens > 0
        assert day.prompt_tokens is not None and day.prompt_tokens > 0
        # what the LLM selects comes from the recorded judgements: every paper it scored ≥ 5 was selected
        assert day.share is not None and day.share > 0.5


def test_the_simulated_reader_votes_up_at_seven_and_down_at_three_or_unselected(reader: ReaderDays) -> None:
    day: TrainDay = reader.days[1]
    ranked = sorted(day.judged, key=lambda i: day.judged[i].relevance)
    unselected = [p.arxiv_id for p in day.papers if p.arxiv_id not in day.judged][:5]
    digest = [*ranked, *unselected]
    votes = learning.simulated_votes(digest, day, 1.0, random.Random(0))
    for arxiv_id, direction in votes:
        judged = day.judged.get(arxiv_id)
        expected = "down" if judged is None or judged.relevance <= 3 else "up"
        assert direction == expected
        assert judged is None or judged.relevance <= 3 or judged.relevance >= 7
    between = sum(1 for i in ranked if 3 < day.judged[i].relevance < 7)
    assert len(votes) == len(digest) - between
    assert len(learning.simulated_votes(digest, day, 0.3, random.Random(0))) <= round(0.3 * len(digest))


def test_the_report_shows_both_settings_and_says_precision_is_a_floor(
    reader: ReaderDays, tmp_path: Path
) -> None:
    results = {
        f"{READER}|local|{how}": [d.as_json() for d in learning.replay(
            reader, learning.Options("local", feedback=how == "with"), tmp_path / how)]
        for how in ("with", "without")
    }
    text = report(results, command="test", wall_seconds=1.0, cpu_seconds=1.0, vote_share=0.3, seed=0)
    assert [d["date"] for d in window(results[f"{READER}|local|with"])] == [DATES[1]]  # day 1 only seeds
    assert '"not selected" is not "rejected"' in text
    assert "≥ 0.55" in text and "(seeds; not measured)" in text
