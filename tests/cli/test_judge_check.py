"""`newsletter check` measures the judge on the latest stored day: a judge that inverts the order
(or rates everything 10) is a warning with the numbers; a sane one passes."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from newsletter.db import Database
from newsletter.db.papers import save_day
from newsletter.models import AnnouncementDay
from newsletter.ranking.judge_check import agreement
from newsletter.settings import load_settings
from tests.cli.test_checks import check
from tests.cli.test_checks import site as site  # the fixture: two readers, loopback arXiv
from tests.fakes.llm_server import FakeLLM
from tests.ranking.test_llm_limits import load_papers

DAY = dt.date(2025, 6, 19)


def store_reference_day() -> None:
    settings = load_settings()
    db = Database.open(settings.db_path)
    try:
        papers = tuple(load_papers(200))
        save_day(db, AnnouncementDay(DAY, ("cs.AI", "cs.CV"), papers), source="test")
    finally:
        db.close()


def judge_row(output: str) -> str:
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(r"│ LLM judge +│", line))
    row = [lines[start]]
    for line in lines[start + 1:]:  # the detail folds over several lines
        if not line.startswith("│  "):
            break
        row.append(line)
    return " ".join(" ".join(part.strip() for part in line.split("│")) for line in row)


def run_check(fake: FakeLLM) -> tuple[int, str]:
    return check(llm_model=fake.model, llm_api_base=fake.api_base, llm_api_key="sk-fake")


@pytest.mark.parametrize("step", ["invert", "all_ten"])
def test_a_judge_that_does_not_rank_is_a_warning_with_the_numbers(
    site: Path, fake_llm: FakeLLM, step: str
) -> None:
    store_reference_day()
    fake_llm.default_step = step

    _, output = run_check(fake_llm)

    row = judge_row(output)
    assert " warn " in row, row
    assert "2025-06-19" in row and "criteria-1" in row and "criteria-2" in row
    assert ("0% of pairs in order" if step == "invert" else "50% of pairs in order") in row
    assert "JSON valid" in row
    failed = re.search(r"check\(s\) failed:(.*)", output)
    assert failed is None or "LLM judge" not in failed.group(1)  # a warning, never a failure
    asked = fake_llm.requests[1:]  # after check_llm's tiny request: one call per criteria text
    assert len(asked) == 2 and all(r["max_tokens"] for r in asked)


def test_a_sane_judge_passes(site: Path, fake_llm: FakeLLM) -> None:
    store_reference_day()

    _, output = run_check(fake_llm)

    row = judge_row(output)
    assert " ok " in row and "100% of pairs in order" in row, row


def test_without_a_stored_day_the_judge_is_not_measured(site: Path, fake_llm: FakeLLM) -> None:
    _, output = run_check(fake_llm)
    assert " skip " in judge_row(output)
    assert len(fake_llm.requests) == 1


def test_pairs_in_order() -> None:
    assert agreement([9, 8], [2, 1]) == 1.0
    assert agreement([10, 10], [10, 10]) == 0.5
    assert agreement([1], [9]) == 0.0
    assert agreement([], [3]) is None
