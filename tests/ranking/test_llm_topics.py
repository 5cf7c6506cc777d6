"""The judge names each paper's criteria topic as a field of its answer (prompt p2)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from newsletter.ranking import prompt
from tests.fakes.llm_server import FakeLLM, Reply
from tests.ranking.test_llm_judge import CRITERIA, load_papers, make_judge

HEADED = (Path(__file__).parents[1] / "data" / "criteria" / "generation-segmentation-matting.md").read_text(
    encoding="utf-8"
)
TOPICS = frozenset({1, 2, 3, 4})


def verdict(topic: Any = None, *, with_topic: bool = True) -> dict[str, Any]:
    item: dict[str, Any] = {"id": "2501.00001", "relevance": 8, "novelty": 6, "comment": "fits"}
    if with_topic:
        item["topic"] = topic
    return item


def parsed(item: dict[str, Any], topics: frozenset[int] = TOPICS) -> prompt.ParsedAnswer:
    return prompt.parse_answer(json.dumps({"papers": [item]}), ["2501.00001"], topics)


def test_a_valid_topic_is_kept() -> None:
    answer = parsed(verdict(3))
    assert answer.verdicts["2501.00001"].topic == 3
    assert answer.problems == ()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("2", 2), (" topic 4 ", 4), ("#1", 1), (2.0, 2), ("Video matting", None), ("3 or 4", None),
     (True, None), ([1], None), ({"n": 1}, None), (2.5, None)],
)  # fmt: skip
def test_a_topic_given_as_text_is_read_when_it_is_a_number(raw: Any, expected: int | None) -> None:
    answer = parsed(verdict(raw))
    assert answer.verdicts["2501.00001"].topic == expected
    assert answer.verdicts["2501.00001"].relevance == 8  # the score survives whatever the topic


@pytest.mark.parametrize("raw", [0, 5, -1, 99, None])
def test_a_topic_outside_the_criteria_is_none_and_the_score_stays(raw: int | None) -> None:
    answer = parsed(verdict(raw))
    kept = answer.verdicts["2501.00001"]
    assert (kept.relevance, kept.novelty, kept.topic) == (8, 6, None)
    assert answer.problems == ()


def test_a_missing_topic_is_none_and_the_score_stays() -> None:
    answer = parsed(verdict(with_topic=False))
    assert answer.verdicts["2501.00001"].topic is None
    assert answer.verdicts["2501.00001"].relevance == 8


def test_without_the_criteria_topic_numbers_no_topic_is_trusted() -> None:
    assert parsed(verdict(1), topics=frozenset()).verdicts["2501.00001"].topic is None


def test_the_system_message_numbers_headed_topics_that_the_text_does_not() -> None:
    system = prompt.system_message(HEADED)
    listed = system.split("topics, by number:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert listed == [
        "1. Unified Image/Video Generation and Segmentation",
        "2. Unified Diffusion Models (Multi-Task: Low-Level Vision, Image Generation, Segmentation,…",
        "3. Image Matting",
        "4. Video Matting",
    ]
    assert prompt.topic_numbers(HEADED) == TOPICS
    assert '"topic": <number or null>' in system


def test_topic_titles_in_the_system_message_are_escaped() -> None:
    system = prompt.system_message("1. Mattes <b>&</b> masks\n2. Other")
    assert "1. Mattes &lt;b&gt;&amp;&lt;/b&gt; masks" in system


def test_the_judge_gives_every_score_the_topic_the_model_named(fake_llm: FakeLLM) -> None:
    papers = load_papers(12)
    judge, _ = make_judge(fake_llm, batch_size=12)
    result = judge.judge(CRITERIA, papers)
    topics = fake_llm.topics_in(fake_llm.requests[0]["messages"][0]["content"])
    assert sorted(topics) == [1, 2, 3, 4]
    answered = {p["id"]: p["topic"] for p in json.loads(fake_llm.answers[0])["papers"]}
    assert {i: s.topic for i, s in result.scores.items()} == answered
    assert {t for t in answered.values() if t is not None}, "the oracle named no topic: a weak test"


def test_an_answer_without_topics_still_scores_every_paper(fake_llm: FakeLLM) -> None:
    papers = load_papers(5)
    judge, _ = make_judge(fake_llm)
    fake_llm.script("no_topic")
    result = judge.judge(CRITERIA, papers)
    assert result.unscored == frozenset() and len(fake_llm.requests) == 1
    assert {s.topic for s in result.scores.values()} == {None}


def test_an_unknown_topic_from_the_model_costs_no_score(fake_llm: FakeLLM) -> None:
    papers = load_papers(2)
    items = [{"id": p.arxiv_id, "relevance": 7, "novelty": 5, "topic": t, "comment": "x"}
             for p, t in zip(papers, (99, "4"), strict=True)]  # fmt: skip
    fake_llm.script(Reply(json.dumps({"papers": items})))
    judge, _ = make_judge(fake_llm)
    result = judge.judge(CRITERIA, papers)
    assert [result.scores[p.arxiv_id].topic for p in papers] == [None, 4]
    assert result.errors == () and len(fake_llm.requests) == 1
