"""newsletter/ranking/votes.py and its use by the local ranker: votes move papers, not levels."""

from __future__ import annotations

from collections import Counter

import numpy as np

from newsletter.models import Paper
from newsletter.ranking.local import LocalRanker
from newsletter.ranking.match import topic_matches
from newsletter.ranking.votes import FULL_WEIGHT_VOTES, fit_votes

CRITERIA = "1. Robot learning. Papers on robots that learn manipulation and navigation from data."


def _paper(number: int, title: str, abstract: str, authors: tuple[str, ...] = ("A. Author",)) -> Paper:
    return Paper(f"2508.{number:05d}", title, authors, abstract, ("cs.RO",))


def _day() -> list[Paper]:
    """Half the papers on robot grasping, half on robot navigation: both match the criteria alike."""
    grasp = [_paper(i, f"Robot grasping of deformable objects {i}",
                    "Robots learn manipulation: grasping cloth and cables with tactile sensing.")
             for i in range(10)]
    walk = [_paper(100 + i, f"Robot navigation in crowds {i}",
                   "Robots learn navigation among pedestrians with a learned social policy.")
            for i in range(10)]
    return [*walk, *grasp]  # navigation first: a stable sort keeps it first without votes


def _votes(n: int) -> list[tuple[Paper, int]]:
    liked = [(_paper(900 + i, f"Tactile grasping of cloth {i}",
                     "Grasping cloth and cables with tactile sensing on a robot hand."), 1) for i in range(n)]
    disliked = [(_paper(950 + i, f"Social navigation among pedestrians {i}",
                        "Navigation among pedestrians with a social policy."), -1) for i in range(n)]
    return liked + disliked


def test_votes_lift_papers_like_the_liked_ones_above_the_disliked_kind() -> None:
    ranker, day = LocalRanker(), _day()
    before = [s.arxiv_id for s in ranker.rank(CRITERIA, day)]
    after = ranker.rank(CRITERIA, day, votes=_votes(FULL_WEIGHT_VOTES // 2))
    assert before[0].startswith("2508.001")  # a navigation paper leads without votes
    top = [s.arxiv_id for s in after[:10]]
    assert all(int(i.split(".")[1]) < 100 for i in top), top  # the grasping papers lead with them


def test_votes_keep_how_many_papers_reach_each_relevance_level() -> None:
    """So the cut in front of the LLM and the digest's threshold keep their size."""
    ranker, day = LocalRanker(), _day()
    levels = Counter(s.relevance for s in ranker.rank(CRITERIA, day))
    voted = Counter(s.relevance for s in ranker.rank(CRITERIA, day, votes=_votes(5)))
    assert voted == levels


def test_a_paper_the_votes_lifted_names_the_liked_paper_it_is_like() -> None:
    day = _day()
    scores = {s.arxiv_id: s for s in LocalRanker().rank(CRITERIA, day, votes=_votes(10))}
    grasping, walking = scores["2508.00003"], scores["2508.00103"]
    assert grasping.comment.startswith("Shown as like *Tactile grasping of cloth ")
    assert ", which you liked; closest to topic 1: Robot learning (ranked locally," in grasping.comment
    assert walking.comment.startswith("Closest to topic 1")


def test_likes_alone_score_by_the_nearest_liked_paper() -> None:
    day = _day()
    seed = _votes(1)[0]
    matches = topic_matches(["robots"], [*day, seed[0]])
    taste = fit_votes([seed], day, matches[:, len(day):], matches[:, :len(day)])
    assert taste is not None and taste.votes == 1
    assert np.all(taste.score[10:] > taste.score[:10])  # grasping papers closer than navigation
    assert taste.weight(0.7) == 0.7 / FULL_WEIGHT_VOTES


def test_dislikes_alone_teach_nothing() -> None:
    day = _day()
    matches = topic_matches(["robots"], [*day, day[0]])
    assert fit_votes([(day[0], -1)], day, matches[:, len(day):], matches[:, :len(day)]) is None


def test_without_votes_the_ranking_is_unchanged() -> None:
    ranker, day = LocalRanker(), _day()
    assert ranker.rank(CRITERIA, day) == ranker.rank(CRITERIA, day, votes=())
