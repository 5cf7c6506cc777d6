"""The local ranker on real reference data: two arXiv days, three real readers' criteria."""

from __future__ import annotations

import dataclasses
import gzip
import json
import re
from pathlib import Path

import pytest

from newsletter.models import Paper, Score
from newsletter.ranking.base import Ranker
from newsletter.ranking.criteria import parse_criteria
from newsletter.ranking.local import LocalRanker, llm_candidates

DATA = Path(__file__).parents[1] / "data" / "ranking"
NARROW = "generation-segmentation-matting"
BROAD = "vision-language-seven-topics"
SPATIAL = "spatial-intelligence-embodied"


def criteria(name: str) -> str:
    return (DATA / f"criteria-{name}.md").read_text(encoding="utf-8")


def candidates(date: str, name: str) -> tuple[list[Paper], dict[str, int]]:
    """The day's papers in the selection's categories (primary), and the LLM's labels."""
    selection = json.loads((DATA / f"selection-{date}_{name}.json").read_text(encoding="utf-8"))
    categories = {c.strip() for c in selection["categories"].split(",")}
    with gzip.open(DATA / f"day-{date}.jsonl.gz", "rt", encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines]
    papers = [
        Paper(
            arxiv_id=r["id"],
            title=r["title"],
            authors=tuple(r["authors"]),
            abstract=r["summary"],
            categories=tuple(r["categories"]),
        )
        for r in rows
        if r["categories"][0] in categories
    ]
    labels = {s["arxiv_id"]: int(s["relevance"]) for s in selection["selected"]}
    return papers, labels


@pytest.fixture(scope="module")
def day() -> dict[str, tuple[list[Paper], dict[str, int]]]:
    return {name: candidates("2025-08-28", name) for name in (NARROW, BROAD, SPATIAL)}


# --- criteria ------------------------------------------------------------------------------


def test_headed_topics_keep_relevant_parts_and_drop_not_relevant() -> None:
    parsed = parse_criteria(criteria(NARROW))
    assert [t.title for t in parsed.topics] == [
        "Unified Image/Video Generation and Segmentation",
        parsed.topics[1].title,
        "Image Matting",
        "Video Matting",
    ]
    assert parsed.topics[1].title.startswith("Unified Diffusion Models")
    matting = parsed.topics[2]
    assert "alpha matte" in matting.query
    assert "general image segmentation" in matting.not_relevant
    assert "general image segmentation" not in matting.query
    assert parsed.note.startswith("In suggesting papers")


def test_numbered_topics_get_short_titles() -> None:
    parsed = parse_criteria(criteria(BROAD))
    assert len(parsed.topics) == 7
    assert parsed.topics[1].title == "Visual and Multimodal Large Language Models"
    assert parsed.topics[4].title == "Integration of Image/Video and Large Language Models"
    assert [t.number for t in parsed.topics] == list(range(1, 8))
    assert "clever statistical tricks" in parsed.note
    assert all("clever statistical" not in t.query for t in parsed.topics)


@pytest.mark.parametrize("text", ["", "   \n\n", "I like papers on diffusion models."])
def test_unstructured_or_empty_criteria_become_one_topic(text: str) -> None:
    parsed = parse_criteria(text)
    assert len(parsed.topics) == 1
    assert parsed.topics[0].query == text.strip()


def test_inline_not_relevant_part_of_a_numbered_topic_is_not_a_query() -> None:
    parsed = parse_criteria("1. Image matting. Not relevant: medical segmentation\n2. Video LLMs")
    assert parsed.topics[0].query == "Image matting."
    assert parsed.topics[0].not_relevant == "medical segmentation"
    assert parsed.topics[1].title == "Video LLMs"


# --- ranking -------------------------------------------------------------------------------


def test_seed_top_paper_ranks_first_for_the_narrow_reader(day: dict) -> None:
    papers, _ = day[NARROW]
    scores = LocalRanker().rank(criteria(NARROW), papers)
    assert [s.arxiv_id for s in scores[:3]].count("2508.20020") == 1
    assert scores[0].arxiv_id == "2508.20020"
    assert scores[0].relevance >= 5  # it makes the digest even with no LLM


def test_one_local_score_per_paper_sorted_best_first(day: dict) -> None:
    papers, _ = day[BROAD]
    ranker: Ranker = LocalRanker()
    scores = ranker.rank(criteria(BROAD), papers)
    assert sorted(s.arxiv_id for s in scores) == sorted(p.arxiv_id for p in papers)
    assert all(s.source == "local" and s.novelty == 5 for s in scores)
    assert all(1 <= s.relevance <= 10 for s in scores)
    relevances = [s.relevance for s in scores]
    assert relevances == sorted(relevances, reverse=True)


def test_comment_names_the_best_matching_topic(day: dict) -> None:
    papers, _ = day[BROAD]
    scores = LocalRanker().rank(criteria(BROAD), papers)
    titles = {f"topic {t.number}: {t.title}" for t in parse_criteria(criteria(BROAD)).topics}
    for score in scores:
        assert score.comment.startswith("Closest to topic ")
        assert any(title in score.comment for title in titles), score.comment
    video_llm = next(p for p in papers if "Video Language Models" in p.title)
    comment = next(s.comment for s in scores if s.arxiv_id == video_llm.arxiv_id)
    assert "Video" in comment or "Multimodal Large Language Models" in comment


def test_without_llm_the_threshold_keeps_a_handful_for_narrow_and_dozens_for_broad(
    day: dict,
) -> None:
    kept = {}
    for name in (NARROW, BROAD, SPATIAL):
        papers, _ = day[name]
        kept[name] = sum(s.relevance >= 5 for s in LocalRanker().rank(criteria(name), papers))
    assert 1 <= kept[NARROW] <= 6
    assert 8 <= kept[BROAD] <= 40
    assert 8 <= kept[SPATIAL] <= 40


def test_relevant_papers_rank_above_the_rest(day: dict) -> None:
    papers, labels = day[BROAD]
    scores = LocalRanker().rank(criteria(BROAD), papers)
    position = {s.arxiv_id: i for i, s in enumerate(scores)}
    relevant = [position[i] for i, v in labels.items() if v >= 7 and i in position]
    others = [position[p.arxiv_id] for p in papers if labels.get(p.arxiv_id, 0) < 3]
    assert sum(relevant) / len(relevant) < sum(others) / len(others)


# --- history -------------------------------------------------------------------------------


def _video_lover(papers: list[Paper], likes_video: bool) -> list[tuple[Paper, int]]:
    return [(p, 9 if ("video" in p.title.lower()) == likes_video else 1) for p in papers]


def test_history_moves_papers_like_the_ones_the_llm_liked_up(day: dict) -> None:
    earlier, _ = candidates("2025-06-19", BROAD)
    papers, _ = day[BROAD]
    video = {p.arxiv_id for p in papers if "video" in p.title.lower()}
    assert len(video) >= 5

    def mean_position(history: list[tuple[Paper, int]]) -> float:
        scores = LocalRanker().rank(criteria(BROAD), papers, history)
        found = [i for i, s in enumerate(scores) if s.arxiv_id in video]
        return sum(found) / len(found)

    plain = mean_position([])
    loved = mean_position(_video_lover(earlier, likes_video=True))
    hated = mean_position(_video_lover(earlier, likes_video=False))
    assert loved < plain < hated


def test_real_history_of_the_same_reader_keeps_relevant_papers_in_the_cut(day: dict) -> None:
    earlier, earlier_labels = candidates("2025-06-19", SPATIAL)
    history = [(p, earlier_labels.get(p.arxiv_id, 1)) for p in earlier]
    papers, labels = day[SPATIAL]
    scores = LocalRanker().rank(criteria(SPATIAL), papers, history)
    sent = set(llm_candidates(scores))
    relevant = {i for i, v in labels.items() if v >= 7}
    assert len(relevant & sent) >= 0.95 * len(relevant)


def test_too_little_history_is_ignored(day: dict) -> None:
    earlier, _ = candidates("2025-06-19", BROAD)
    papers, _ = day[BROAD]
    few = [(p, 8) for p in earlier[:5]]
    ranker = LocalRanker()
    assert ranker.rank(criteria(BROAD), papers, few) == ranker.rank(criteria(BROAD), papers)


def test_history_with_nothing_to_learn_from_does_not_break_the_ranking(day: dict) -> None:
    blank = [(Paper(f"2501.{i:05d}", "", (), "", ("cs.CV",)), 9 if i % 2 else 1) for i in range(60)]
    papers, _ = day[NARROW]
    scores = LocalRanker().rank(criteria(NARROW), papers, blank)
    assert scores[0].arxiv_id == "2508.20020"
    # nothing at all to learn from (no word anywhere): the criteria alone decide, no error
    empty_day = [Paper(f"2508.{i:05d}", "", (), "", ("cs.CV",)) for i in range(3)]
    scores = LocalRanker().rank(criteria(NARROW), empty_day, blank)
    assert [s.relevance for s in scores] == [1, 1, 1]


def test_likes_that_match_loosely_lower_the_scale_without_history(day: dict) -> None:
    """ranking/local.py `_likes_shift`: 20 votes with 5 likes of papers that match the criteria
    loosely let more of today's papers reach estimated relevance 5; likes that match well, or
    dislikes alone, leave the digest's size as it was."""
    from newsletter.ranking.match import topic_matches

    earlier, _ = candidates("2025-06-19", BROAD)
    papers, _ = day[BROAD]
    queries = [t.query for t in parse_criteria(criteria(BROAD)).topics]
    by_match = [earlier[i] for i in topic_matches(queries, earlier).max(axis=0).argsort()]

    def level_five(votes: list[tuple[Paper, int]]) -> int:
        return sum(s.relevance >= 5 for s in LocalRanker().rank(criteria(BROAD), papers, (), votes))

    dislikes = [(p, -1) for p in by_match[len(by_match) // 2 :][:15]]
    loose_likes = [(p, 1) for p in by_match[20:26]]
    close_likes = [(p, 1) for p in by_match[-6:]]
    plain = level_five([])
    assert level_five(loose_likes + dislikes) > plain
    assert level_five(close_likes + dislikes) == plain
    assert level_five(dislikes + [(p, -1) for p in by_match[20:26]]) == plain
    assert level_five(loose_likes + dislikes[:10]) == plain  # 16 votes: too few yet


# --- the cut in front of the LLM -----------------------------------------------------------


def test_cut_keeps_every_top_scored_paper_and_adapts_to_the_reader(day: dict) -> None:
    sent_share = {}
    for name in (NARROW, BROAD):
        papers, _ = day[name]
        scores = LocalRanker().rank(criteria(name), papers)
        sent = llm_candidates(scores)
        assert sent[:10] == [s.arxiv_id for s in scores[:10]]
        best = max(s.relevance for s in scores)
        assert {s.arxiv_id for s in scores if s.relevance == best} <= set(sent)
        assert {s.arxiv_id for s in scores if s.relevance >= 2} <= set(sent)
        sent_share[name] = len(sent) / len(papers)
    assert sent_share[NARROW] < sent_share[BROAD] - 0.2


def _score(arxiv_id: str, relevance: int) -> Score:
    return Score(arxiv_id, relevance, 5, "c", "local")


def test_cut_always_sends_the_best_few_even_when_nothing_matches() -> None:
    scores = [_score(f"id{i}", 1) for i in range(40)]
    assert llm_candidates(scores) == [f"id{i}" for i in range(10)]
    assert llm_candidates(scores, min_count=3) == ["id0", "id1", "id2"]


def test_cut_sends_higher_local_relevance_first_whatever_the_input_order() -> None:
    scores = [_score("low", 1), _score("mid", 3), _score("top", 9)]
    assert llm_candidates(scores, min_count=1) == ["top", "mid"]


# --- edges ---------------------------------------------------------------------------------


def test_empty_inputs() -> None:
    ranker = LocalRanker()
    assert ranker.rank(criteria(NARROW), []) == []
    assert ranker.rank("", [], [(Paper("1", "t", (), "a", ("cs.CV",)), 9)]) == []
    assert llm_candidates([]) == []


def test_empty_or_stopword_criteria_rank_without_error(day: dict) -> None:
    papers, _ = day[NARROW]
    for text in ("", "the and of"):
        scores = LocalRanker().rank(text, papers)
        assert len(scores) == len(papers)
        assert all(s.relevance == 1 for s in scores)
        assert len(llm_candidates(scores)) == 10


def test_a_single_paper_and_papers_with_empty_abstracts() -> None:
    lonely = Paper("2508.00001", "Video matting with temporal attention", (), "", ("cs.CV",))
    blank = dataclasses.replace(lonely, arxiv_id="2508.00002", title="", abstract="")
    scores = LocalRanker().rank(criteria(NARROW), [lonely, blank])
    assert [s.arxiv_id for s in scores] == ["2508.00001", "2508.00002"]
    assert "Video Matting" in scores[0].comment


def test_the_comment_never_claims_more_than_a_full_match() -> None:
    """A paper that repeats a short topic's words outscores the topic itself; the comment caps at 100%."""
    criteria = "1. Diffusion models for image segmentation\n2. Open-vocabulary detection\n"
    dense = Paper("2508.00001", "Diffusion models for image segmentation: diffusion segmentation of images",
                  ("A. Author",), "Diffusion models for image segmentation. We segment images with diffusion"
                  " models; segmentation by diffusion.", ("cs.CV",))
    words = ["graphs", "speech", "proteins", "markets", "weather", "chess"]
    others = [Paper(f"2508.{i:05d}", f"A study of {word}", ("B. Author",), f"On {word}.", ("cs.CV",))
              for i, word in enumerate(words, 2)]
    scores = LocalRanker().rank(criteria, [dense, *others])
    shares = [int(m) for s in scores for m in re.findall(r"(\d+)% of a full match", s.comment)]
    assert len(shares) == len(scores) and max(shares) == 100
