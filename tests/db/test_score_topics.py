"""The score cache keeps the judge's topic (migration 0016); rows from before it read as none."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from newsletter.db import Database
from newsletter.db.scores import DatabaseScoreCache, criteria_hash
from newsletter.models import Paper, Score
from newsletter.ranking.scoring import score_criteria
from tests.fakes.llm_server import FakeLLM
from tests.ranking.test_llm_judge import CRITERIA, load_papers, make_judge
from tests.ranking.test_scoring import WordRanker


def every_paper(scores: object) -> list[str]:
    return [s.arxiv_id for s in scores]  # type: ignore[attr-defined]


def test_a_cached_topic_survives_a_rerun_without_asking_the_llm_again(
    tmp_path: Path, fake_llm: FakeLLM
) -> None:
    papers = load_papers(12)
    judge, _ = make_judge(fake_llm)

    def run() -> dict[str, Score]:
        cache = DatabaseScoreCache(Database.open(tmp_path / "state.db"))  # a new process's view
        result = score_criteria(
            CRITERIA, papers, ranker=WordRanker(), judge=judge, cache=cache, cut=every_paper
        )
        return {i: s for i, s in result.scores.items() if s.source == "llm"}

    first = run()
    asked = len(fake_llm.requests)
    again = run()
    assert len(fake_llm.requests) == asked  # every score came from the cache
    assert set(again) == set(first) == {p.arxiv_id for p in papers}
    assert {i: s.topic for i, s in again.items()} == {i: s.topic for i, s in first.items()}
    assert {s.topic for s in again.values()} - {None}, "no topic to keep: a weak test"


def test_rows_cached_before_the_migration_read_as_no_topic(tmp_path: Path) -> None:
    """A database of the schema before 0016, with a cached score, is migrated in place."""
    path = tmp_path / "state.db"
    with sqlite3.connect(Database.open(path).path) as conn:  # wind the schema back to before 0016
        conn.execute("ALTER TABLE scores DROP COLUMN topic")
        conn.execute("DELETE FROM _migrations WHERE number = 16")
        conn.execute(
            "INSERT INTO scores(cache_key, criteria_hash, arxiv_id, version, relevance, novelty, comment)"
            " VALUES ('m|p1', ?, '2501.00001', 1, 8, 6, 'fits')",
            (criteria_hash("c"),),
        )
    db = Database.open(path)
    assert db.migrate() >= 16
    paper = Paper("2501.00001", "T", ("A",), "abstract", ("cs.CV",))
    cache = DatabaseScoreCache(db)
    assert cache.get_many("m|p1", "c", [paper]) == {"2501.00001": Score("2501.00001", 8, 6, "fits", "llm")}
    cache.put_many("m|p2", "c", [paper], {"2501.00001": Score("2501.00001", 8, 6, "fits", "llm", 2)})
    assert cache.get_many("m|p2", "c", [paper])["2501.00001"].topic == 2
