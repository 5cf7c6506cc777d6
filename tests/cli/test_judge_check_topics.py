"""`newsletter check` says whether the judge names the criteria topics; not naming them is no warning."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.cli.test_checks import site as site  # the fixture: two readers, loopback arXiv
from tests.cli.test_judge_check import judge_row, run_check, store_reference_day
from tests.fakes.llm_server import FakeLLM


@pytest.mark.parametrize("step", ["oracle", "no_topic"])
def test_the_check_counts_the_best_matches_the_judge_gave_a_topic(
    site: Path, fake_llm: FakeLLM, step: str
) -> None:
    store_reference_day()
    fake_llm.default_step = step
    _, output = run_check(fake_llm)
    row = judge_row(output)
    assert " ok " in row, row
    named = [int(n) for n in re.findall(r"topic named for (\d) of 3 matches", row)]
    assert len(named) == 2, row
    assert (min(named) > 0) if step == "oracle" else named == [0, 0]
