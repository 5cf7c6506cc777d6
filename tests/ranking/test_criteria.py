"""Criteria texts in the less common shapes: ten or more topics, other words for 'not relevant'."""

from __future__ import annotations

import pytest

from newsletter.ranking.criteria import parse_criteria


def test_ten_or_more_numbered_topics_stay_separate() -> None:
    text = "\n".join(f"{n}. Topic number {n}" for n in range(1, 13))
    parsed = parse_criteria(text)
    assert [t.number for t in parsed.topics] == list(range(1, 13))
    assert parsed.topics[9].title == "Topic number 10"
    assert parsed.topics[8].query == "Topic number 9"


@pytest.mark.parametrize("word", ["Not relevant", "Irrelevant", "Exclude", "Excludes", "Excluded"])
def test_every_heading_for_what_is_ruled_out_is_kept_out_of_the_query(word: str) -> None:
    parsed = parse_criteria(f"Image Matting\nRelevant: alpha mattes, trimaps\n{word}: medical segmentation\n")
    [topic] = parsed.topics
    assert topic.title == "Image Matting"
    assert topic.not_relevant == "medical segmentation"
    assert "medical" not in topic.query


def test_an_inline_not_relevant_on_a_continuation_line_is_kept_out_of_the_query() -> None:
    parsed = parse_criteria("1. Image matting\nalpha mattes and trimaps. Not relevant: medical imaging\n"
                            "2. Video LLMs\n")
    first = parsed.topics[0]
    assert first.not_relevant == "medical imaging"
    assert "medical" not in first.query
    assert "trimaps" in first.query
