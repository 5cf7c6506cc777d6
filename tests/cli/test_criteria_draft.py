"""`newsletter criteria draft --like …`: the seed papers fetched from the arXiv API (a loopback
fake), a criteria text drafted by the LLM (the fake LLM server, through litellm), printed for the
admin; exact output, and nothing written unless the admin asks with `--output`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import litellm
import pytest
from typer.testing import CliRunner, Result

from newsletter.cli.app import app
from newsletter.ranking.draft import ABSTRACT_CHARS, MAX_PAPERS, MAX_TOPICS
from newsletter.ranking.prompt import trim_abstract
from newsletter.render.text import one_line
from tests.fakes.arxiv_server import FakeArxiv
from tests.fakes.llm_server import FakeLLM, Reply

DAYS = (dt.date(2025, 7, 15), dt.date(2025, 8, 28))
GS = "GS: Generative Segmentation via Label Diffusion"
GLIMPSE = "GLIMPSE: Do Large Vision-Language Models Truly Think With Videos or Just Glimpse at Them?"
NEXT = ("Next: review and edit the draft, save it in the roster's folder, then run"
        " `newsletter subscribers add EMAIL --criteria {path} --like {ids}`")
NO_LLM = ("error: no LLM configured: set NEWSLETTER_LLM_MODEL (a litellm model name, e.g."
          " openai/gpt-4o-mini; NEWSLETTER_LLM_API_BASE and NEWSLETTER_LLM_API_KEY as the provider"
          " needs) to draft criteria; nothing was written\n")
SCHOLAR = """@article{chen2025gs,
  title={GS: Generative Segmentation via Label Diffusion},
  journal={arXiv preprint arXiv:2508.20020},
  year={2025}
}
@inproceedings{he2016deep,
  title={Deep residual learning for image recognition},
  booktitle={CVPR},
  year={2016}
}
"""


@pytest.fixture
def site(tmp_path: Path, fake_llm: FakeLLM, fake_arxiv: FakeArxiv, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An LLM that litellm prices (gpt-4o-mini) served by the fake, and the fake arXiv API."""
    for name, value in {"LLM_MODEL": "openai/gpt-4o-mini", "LLM_API_BASE": fake_llm.api_base,
                        "LLM_API_KEY": "sk-fake", "ARXIV_API_URL": fake_arxiv.api_url,
                        "ARXIV_FEED_URL": fake_arxiv.feed_url}.items():
        monkeypatch.setenv(f"NEWSLETTER_{name}", value)
    return tmp_path


def draft(*args: str) -> Result:
    return CliRunner().invoke(app, ["criteria", "draft", *args], env={"COLUMNS": "200"})


def files(folder: Path) -> set[Path]:
    return set(folder.rglob("*"))


def usage_line(fake: FakeLLM) -> str:
    """The usage line the command must print, computed from what the fake counted and litellm's
    own price of gpt-4o-mini."""
    body: dict[str, Any] = fake.requests[-1]
    prompt = sum(len(m["content"]) for m in body["messages"]) // 4
    completion = len(fake.answers[-1]) // 4
    price = litellm.model_cost["gpt-4o-mini"]
    cost = prompt * price["input_cost_per_token"] + completion * price["output_cost_per_token"]
    return f"LLM: 1 calls, {prompt} prompt + {completion} completion tokens, ${cost:.4f}.\n"


def expected_draft(fake_arxiv: FakeArxiv, *ids: str) -> str:
    papers = {p.arxiv_id: p for day in DAYS for p in fake_arxiv.papers(day)}
    # The fake drafts from what the prompt holds: the abstract as the judge trims it.
    return FakeLLM.oracle_draft(
        [(one_line(papers[i].title), trim_abstract(papers[i].abstract, ABSTRACT_CHARS)) for i in ids]
    )


def test_the_draft_is_printed_with_its_cost_and_the_next_step(
    site: Path, fake_llm: FakeLLM, fake_arxiv: FakeArxiv
) -> None:
    before = files(site)
    result = draft("--like", "2508.20020,https://arxiv.org/abs/2507.09491v2")
    assert result.exit_code == 0, result.output
    assert result.stdout == expected_draft(fake_arxiv, "2508.20020", "2507.09491") + "\n"
    assert result.stdout.startswith(f"1. {GS}\nRelevant: Papers on ")
    assert f"\n\n2. {GLIMPSE}\n" in result.stdout
    assert result.stderr == (
        "Drafted 2 topic(s) from 2 seed paper(s).\n" + usage_line(fake_llm)
        + NEXT.format(path="PATH", ids="2508.20020,2507.09491") + "\n"
    )
    assert "$0.0000" not in result.stderr  # a priced model: the cost is shown, not zero
    assert files(site) == before  # printed only: no file, no database, no roster row
    assert len(fake_llm.requests) == 1


def test_without_an_llm_it_says_what_to_set_and_exits_2(
    site: Path, fake_llm: FakeLLM, fake_arxiv: FakeArxiv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NEWSLETTER_LLM_MODEL")
    before = files(site)
    result = draft("--like", "2508.20020", "--output", str(site / "draft.md"))
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", NO_LLM)
    assert files(site) == before
    assert fake_arxiv.requests == [] and fake_llm.requests == []


def test_an_id_arxiv_does_not_know_is_reported_and_skipped(
    site: Path, fake_llm: FakeLLM, fake_arxiv: FakeArxiv
) -> None:
    result = draft("--like", "2509.99999,2508.20020,not-an-id")
    assert result.exit_code == 0, result.output
    assert result.stdout == expected_draft(fake_arxiv, "2508.20020") + "\n"
    assert result.stderr == (
        "skipped seed: 'not-an-id': not an arXiv id or URL\n"
        "skipped seed: 2509.99999: the arXiv API does not know it\n"
        "Drafted 1 topic(s) from 1 seed paper(s).\n" + usage_line(fake_llm)
        + NEXT.format(path="PATH", ids="2508.20020") + "\n"
    )


def test_when_no_seed_can_be_fetched_the_llm_is_not_called(site: Path, fake_llm: FakeLLM) -> None:
    result = draft("--like", "2509.99999")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == ("skipped seed: 2509.99999: the arXiv API does not know it\n"
                             "error: none of the seed papers could be fetched: nothing to draft from\n")
    assert fake_llm.requests == []


def test_a_bibtex_entry_without_an_arxiv_id_is_reported_and_skipped(
    site: Path, fake_llm: FakeLLM, fake_arxiv: FakeArxiv
) -> None:
    (site / "refs.bib").write_text(SCHOLAR, encoding="utf-8")
    result = draft("--like-file", str(site / "refs.bib"), "--like", "2507.09491")
    assert result.exit_code == 0, result.output
    assert result.stdout == expected_draft(fake_arxiv, "2507.09491", "2508.20020") + "\n"
    assert result.stderr == (
        "skipped seed: BibTeX entry he2016deep (Deep residual learning for image recognition): no arXiv id\n"
        "Drafted 2 topic(s) from 2 seed paper(s).\n" + usage_line(fake_llm)
        + NEXT.format(path="PATH", ids="2507.09491,2508.20020") + "\n"
    )


def test_a_garbage_answer_is_a_clear_error_and_nothing_is_written(site: Path, fake_llm: FakeLLM) -> None:
    fake_llm.script(Reply("Sure! These papers are about segmentation and video. {oops"))
    result = draft("--like", "2508.20020", "--output", str(site / "draft.md"))
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == usage_line(fake_llm) + (
        "error: no draft: the LLM's answer has no numbered topic (a line '1. …'): it begins"
        " 'Sure! These papers are about segmentation and video. {oops'; nothing was written\n"
    )
    assert not (site / "draft.md").exists()


def test_output_writes_the_draft_and_refuses_to_overwrite_without_force(
    site: Path, fake_llm: FakeLLM, fake_arxiv: FakeArxiv
) -> None:
    target = site / "criteria-ada.md"
    result = draft("--like", "2508.20020", "--output", str(target))
    assert (result.exit_code, result.stdout) == (0, ""), result.output
    assert target.read_text(encoding="utf-8") == expected_draft(fake_arxiv, "2508.20020") + "\n"
    assert result.stderr == (
        f"Draft written to {target}.\nDrafted 1 topic(s) from 1 seed paper(s).\n" + usage_line(fake_llm)
        + NEXT.format(path=target, ids="2508.20020") + "\n"
    )

    target.write_text("my own edits\n", encoding="utf-8")
    calls, fetches = len(fake_llm.requests), len(fake_arxiv.requests)
    refused = draft("--like", "2507.09491", "--output", str(target))
    assert (refused.exit_code, refused.stdout) == (1, "")
    assert refused.stderr == f"error: {target} exists; pass --force to overwrite it\n"
    assert target.read_text(encoding="utf-8") == "my own edits\n"
    assert (len(fake_llm.requests), len(fake_arxiv.requests)) == (calls, fetches)  # nothing spent

    forced = draft("--like", "2507.09491", "--output", str(target), "--force")
    assert forced.exit_code == 0, forced.output
    assert target.read_text(encoding="utf-8") == expected_draft(fake_arxiv, "2507.09491") + "\n"


def test_seeds_beyond_the_cap_are_fetched_but_left_out_of_the_prompt_and_said(
    site: Path, fake_llm: FakeLLM, fake_arxiv: FakeArxiv
) -> None:
    ids = [p.arxiv_id for p in fake_arxiv.papers(DAYS[1])][: MAX_PAPERS + 2]
    result = draft("--like", ",".join(ids))
    assert result.exit_code == 0, result.output
    assert result.stdout == expected_draft(fake_arxiv, *ids[:MAX_TOPICS]) + "\n"
    assert fake_llm.requests[0]["messages"][1]["content"].count("<paper id=") == MAX_PAPERS
    assert result.stderr.startswith(
        f"Drafted {MAX_TOPICS} topic(s) from {MAX_PAPERS} seed paper(s)"
        " (2 more left out to bound the cost).\n"
    )
    assert result.stderr.endswith(NEXT.format(path="PATH", ids=",".join(ids)) + "\n")


def test_naming_no_seed_paper_is_a_usage_error(site: Path, fake_llm: FakeLLM) -> None:
    result = draft()
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == "error: name the seed papers: --like IDS and/or --like-file FILE\n"
    assert fake_llm.requests == []
