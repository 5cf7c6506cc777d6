"""Selection with the reader's max per topic: each criteria topic capped, best first kept."""

from __future__ import annotations

from pathlib import Path

from newsletter.daily.selection import select
from newsletter.models import Paper, Score, Subscriber


def paper(n: int, *authors: str) -> Paper:
    return Paper(f"2508.{n:05d}", f"Paper {n}", authors or ("X. Someone",), "abstract", ("cs.CV",))


def reader(max_per_topic: int | None, authors: tuple[str, ...] = ()) -> Subscriber:
    return Subscriber(
        email="r@example.org", criteria="1. Matting\n2. Video", criteria_path=Path("c.md"),
        categories=("cs.CV",), authors=authors, max_per_topic=max_per_topic,
    )  # fmt: skip


def scored(*rows: tuple[int, int, int | None]) -> dict[str, Score]:
    """(paper number, relevance, topic) → the LLM's scores (novelty 5 for all)."""
    return {f"2508.{n:05d}": Score(f"2508.{n:05d}", r, 5, "", "llm", t) for n, r, t in rows}


def pick(sub: Subscriber, papers: list[Paper], sc: dict[str, Score], max_papers: int = 30) -> list[int]:
    entries = select(sub, papers, sc, min_relevance=5, min_novelty=1, max_papers=max_papers)
    return [int(e.paper.arxiv_id[-5:]) for e in entries]


PAPERS = [paper(n) for n in range(1, 8)]
# Topic 1 holds the four best papers; topic 2 two; paper 7 fits no topic.
DAY = scored((1, 10, 1), (2, 9, 1), (3, 9, 1), (4, 8, 1), (5, 7, 2), (6, 6, 2), (7, 6, None))


def test_without_a_max_per_topic_every_paper_over_the_bar_goes_best_first() -> None:
    assert pick(reader(None), PAPERS, DAY) == [1, 2, 3, 4, 5, 6, 7]


def test_max_per_topic_keeps_each_topics_best_papers_in_score_order() -> None:
    assert pick(reader(2), PAPERS, DAY) == [1, 2, 5, 6, 7]
    assert pick(reader(1), PAPERS, DAY) == [1, 5, 7]


def test_papers_without_a_topic_are_not_capped() -> None:
    untopical = [paper(n) for n in range(1, 6)]
    sc = scored(*((n, 9, None) for n in range(1, 6)))
    assert pick(reader(1), untopical, sc) == [1, 2, 3, 4, 5]


def test_the_room_a_capped_topic_leaves_goes_to_the_next_best_papers() -> None:
    """Capping happens before max papers: a full topic does not shorten the digest."""
    assert pick(reader(None), PAPERS, DAY, max_papers=3) == [1, 2, 3]
    assert pick(reader(1), PAPERS, DAY, max_papers=3) == [1, 5, 7]


def test_followed_authors_are_never_dropped_and_use_up_their_topics_room() -> None:
    papers = [paper(1), paper(2), paper(3, "Anna Müller"), paper(4, "Anna Müller"), paper(5)]
    sc = scored((1, 10, 1), (2, 9, 1), (3, 5, 1), (4, 5, 1), (5, 8, 2))
    # Both followed papers are in topic 1 and already fill its room of 2: papers 1 and 2 give way.
    assert pick(reader(2, ("A. Muller",)), papers, sc) == [3, 4, 5]
    assert pick(reader(3, ("A. Muller",)), papers, sc) == [3, 4, 1, 5]


def test_a_followed_authors_paper_keeps_the_topic_of_its_score_or_has_none() -> None:
    """Author matches sit in their topic's section like any paper; unscored ones in "Other"."""
    papers = [paper(1, "Anna Müller"), paper(2, "Anna Müller")]
    entries = select(reader(None, ("A. Muller",)), papers, scored((1, 3, 2)),
                     min_relevance=5, min_novelty=1, max_papers=5)  # fmt: skip
    assert [(e.score.source, e.score.topic) for e in entries] == [("author", 2), ("author", None)]
