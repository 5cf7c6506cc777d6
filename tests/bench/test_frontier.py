"""bench/frontier.py's figures of one ranked day, so the bound it prints means what it says."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from frontier import day_figures


def test_a_day_ranked_best_first_needs_only_its_relevant_papers() -> None:
    ranked = [(f"p{i}", 5 if i < 40 else 1) for i in range(100)]  # 40 above the cut, 60 below
    labels = {f"p{i}": 8 for i in range(20)}  # the first 20 relevant, the rest unlabelled
    recall, hindsight, sent, reach = day_figures(ranked, labels)
    assert recall == 1.0
    assert hindsight == pytest.approx(0.19)  # 95% of 20 is 19 papers: the first 19 of 100
    assert (sent, reach) == (0.4, 1.0)


def test_relevant_papers_at_the_bottom_cost_the_whole_day() -> None:
    ranked = [(f"p{i}", 2) for i in range(50)]
    labels = {"p48": 7, "p49": 9, "p0": 6}  # 6 is not relevant (≥ 7 is)
    recall, hindsight, sent, reach = day_figures(ranked, labels)
    assert recall == 0.0 and hindsight == 1.0 and (sent, reach) == (1.0, 1.0)
