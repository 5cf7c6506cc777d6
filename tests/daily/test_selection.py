"""Selection: thresholds, order, cap, overrides, followed authors, and never a paper twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter.daily.selection import AUTHOR_MATCH, near_misses, same_author, select
from newsletter.models import Paper, Score, Subscriber


def paper(n: int, *authors: str, cats: tuple[str, ...] = ("cs.CV",)) -> Paper:
    return Paper(f"2508.{n:05d}", f"Paper {n}", authors or ("X. Someone",), "abstract", cats)


def reader(**kw: object) -> Subscriber:
    return Subscriber(
        email="r@example.org", criteria="c", criteria_path=Path("c.md"), categories=("cs.CV",), **kw
    )  # type: ignore[arg-type]


def scores(*pairs: tuple[int, int, int]) -> dict[str, Score]:
    return {f"2508.{n:05d}": Score(f"2508.{n:05d}", r, v, f"why {n}", "llm") for n, r, v in pairs}


def pick(sub: Subscriber, papers: list[Paper], sc: dict[str, Score], **kw: object) -> list[str]:
    options = {"min_relevance": 5, "min_novelty": 1, "max_papers": 30} | kw
    return [e.paper.arxiv_id[-2:] for e in select(sub, papers, sc, **options)]  # type: ignore[arg-type]


def test_threshold_order_and_cap() -> None:
    papers = [paper(n) for n in range(1, 7)]
    sc = scores((1, 4, 9), (2, 7, 3), (3, 9, 2), (4, 7, 8), (5, 5, 1), (6, 8, 0 + 1))
    assert pick(reader(), papers, sc) == ["03", "06", "04", "02", "05"]
    assert pick(reader(), papers, sc, max_papers=2) == ["03", "06"]
    assert pick(reader(), papers, sc, min_novelty=3) == ["04", "02"]
    assert pick(reader(min_relevance=8, max_papers=1), papers, sc) == ["03"]


def test_reader_thresholds_override_the_defaults() -> None:
    papers = [paper(n) for n in range(1, 7)]
    sc = scores((1, 4, 9), (2, 7, 3), (3, 9, 2), (4, 7, 8), (5, 5, 1), (6, 8, 0 + 1))
    assert pick(reader(min_relevance=8), papers, sc) == ["03", "06"]
    assert pick(reader(min_novelty=3), papers, sc) == ["04", "02"]
    assert pick(reader(min_relevance=4), papers, sc, min_relevance=8) == ["03", "06", "04", "02", "05", "01"]


def test_other_categories_and_already_sent_papers_are_left_out() -> None:
    papers = [paper(1), paper(2, cats=("cs.LG",)), paper(3, cats=("cs.LG", "cs.CV"))]
    sc = scores((1, 9, 5), (2, 9, 5), (3, 9, 5))
    assert pick(reader(), papers, sc) == ["01", "03"]
    assert pick(reader(), papers, sc, already_sent={"2508.00001"}) == ["03"]
    assert pick(reader(), [*papers, paper(1)], sc) == ["01", "03"]  # listed twice, sent once


def test_followed_authors_come_first_whatever_their_score() -> None:
    papers = [paper(1), paper(2, "Anna Müller", "B. Other"), paper(3)]
    sc = scores((1, 9, 5), (2, 1, 1), (3, 6, 5))
    entries = select(reader(authors=("A. Muller",)), papers, sc, min_relevance=5, min_novelty=1, max_papers=2)
    assert [e.paper.arxiv_id[-2:] for e in entries] == ["02", "01"]
    assert entries[0].score.comment == AUTHOR_MATCH and entries[0].author_match


def test_a_followed_authors_paper_keeps_its_own_score() -> None:
    """Only an unscored paper gets the stand-in score; a scored one shows what the judge said."""
    papers = [paper(1, "Anna Müller"), paper(2, "Anna Müller")]
    sub = reader(authors=("A. Muller",))
    entries = select(sub, papers, scores((1, 2, 3)), min_relevance=5, min_novelty=1, max_papers=5)
    assert [(e.score.relevance, e.score.novelty) for e in entries] == [(2, 3), (10, 5)]
    assert all(e.author_match for e in entries)


def test_followed_authors_over_the_cap_leave_no_room_for_others() -> None:
    papers = [paper(1, "Anna Müller"), paper(2, "Anna Müller"), paper(3), paper(4), paper(5)]
    sc = scores((3, 9, 5), (4, 8, 5), (5, 7, 5))
    assert pick(reader(authors=("A. Muller",)), papers, sc, max_papers=1) == ["01", "02"]
    assert pick(reader(authors=("A. Muller",)), papers, sc, max_papers=3) == ["01", "02", "03"]


def test_near_misses_are_the_best_scored_of_the_readers_categories() -> None:
    papers = [paper(1), paper(2, cats=("cs.LG",)), paper(3), paper(4), paper(5, cats=("cs.LG", "cs.CV"))]
    sc = scores((1, 2, 2), (2, 4, 4), (3, 3, 1), (4, 1, 1), (5, 1, 9))
    assert [e.paper.arxiv_id[-2:] for e in near_misses(reader(), papers, sc)] == ["03", "01", "05"]


def test_near_misses_leave_out_papers_the_reader_already_had() -> None:
    papers = [paper(n) for n in range(1, 5)]
    sc = scores((1, 4, 2), (2, 3, 2), (3, 2, 2), (4, 1, 2))
    misses = near_misses(reader(), papers, sc, already_sent={"2508.00001", "2508.00003"})
    assert [e.paper.arxiv_id[-2:] for e in misses] == ["02", "04"]


@pytest.mark.parametrize(
    ("followed", "author", "same"),
    [
        ("A. Müller", "Anna Muller", True),
        ("anna müller", "Anna Müller", True),
        ("Anna Muller", "Bea Muller", False),
        ("A. Muller", "Bea Muller", False),
        ("Bea Muller", "A. Muller", False),
        ("Anna Muller", "Anne Muller", False),
        ("J.-P. Sartre", "Jean-Paul Sartre", True),
        ("Müller", "Zoe Müller", True),
        ("A. Muller", "A. Mullerson", False),
    ],
)
def test_author_names_match_without_accents_and_by_initials(followed: str, author: str, same: bool) -> None:
    assert same_author(followed, author) is same


def test_among_equal_scores_the_ranker_order_of_the_scores_decides() -> None:
    """`scores` comes in the local ranker's order (votes included): it breaks ties of relevance
    and novelty, never outranks them."""
    papers = [paper(n) for n in range(1, 5)]
    ranker_order = scores((4, 7, 5), (2, 7, 5), (3, 9, 1), (1, 7, 5))
    assert pick(reader(), papers, ranker_order) == ["03", "04", "02", "01"]
    assert pick(reader(), papers, dict(reversed(ranker_order.items()))) == ["03", "01", "02", "04"]
