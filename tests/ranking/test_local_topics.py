"""The local ranker names the topic a paper matches best, as the judge does, when it matches one."""

from __future__ import annotations

import re

from newsletter.models import Paper
from newsletter.ranking.local import LocalRanker
from tests.ranking.test_local import BROAD, candidates, criteria


def test_matching_papers_get_the_number_of_the_topic_their_comment_names() -> None:
    papers, _ = candidates("2025-08-28", BROAD)
    scores = LocalRanker().rank(criteria(BROAD), papers)
    named = [s for s in scores if s.topic is not None]
    assert len(named) > len(scores) // 2
    assert {s.topic for s in named} <= set(range(1, 8)) and len({s.topic for s in named}) >= 4
    for score in named:
        found = re.match(r"Closest to topic (\d+)", score.comment)
        assert found and int(found.group(1)) == score.topic, score


def test_a_paper_that_matches_no_topic_has_none() -> None:
    text = "1. Image matting with alpha mattes\n2. Video matting and temporal alpha propagation"
    abstract = "Image matting of alpha mattes in video."
    matting = Paper("2501.00001", "Alpha matting", ("A",), abstract, ("cs.CV",))
    other = Paper("2501.00002", "Soil chemistry", ("B",), "Nitrogen uptake of wheat roots.", ("q-bio.PE",))
    scores = {s.arxiv_id: s for s in LocalRanker().rank(text, [matting, other])}
    assert scores["2501.00001"].topic in (1, 2)
    assert scores["2501.00002"].topic is None
