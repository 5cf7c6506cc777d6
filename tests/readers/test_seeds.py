"""Seed papers: ids, URLs and BibTeX exports read; `subscribers add --like/--like-file` fetches
them from the arXiv API (a loopback fake) and stores them as the reader's first likes."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter.cli.app import app
from newsletter.db import Database
from newsletter.db import votes as vote_store
from newsletter.db.papers import papers_by_id, save_papers
from newsletter.models import Paper
from newsletter.readers.seeds import MAX_SEEDS, arxiv_id_in, parse_seeds
from newsletter.settings import load_settings
from tests.conftest import make_site
from tests.fakes.arxiv_server import FakeArxiv, Reply

ZOTERO = """
@article{chen_gs_2025,
  title = {{GS}: Generative Segmentation via Label Diffusion},
  url = {http://arxiv.org/abs/2508.20020},
  doi = {10.48550/arXiv.2508.20020},
  publisher = {arXiv},
  author = {Chen, Yuhao},
  year = {2025},
  note = {arXiv:2508.20020 [cs]},
  eprint = {2508.20020},
  archivePrefix = {arXiv},
}
"""
MENDELEY = """@article{Smith2025,
archivePrefix = {arXiv},
arxivId = {2507.09082v2},
author = {Smith, A.},
title = {{Some paper}},
year = {2025}
}"""
SCHOLAR = """@article{chen2025midas,
  title={MIDAS},
  author={Chen, Ming},
  journal={arXiv preprint arXiv:2508.19320},
  year={2025}
}
@inproceedings{he2016deep,
  title={Deep residual learning for image recognition},
  author={He, Kaiming},
  booktitle={CVPR},
  year={2016}
}
@article{broken,
"""


@pytest.mark.parametrize(("text", "expected"), [
    ("2508.20020", "2508.20020"), ("2508.20020v3", "2508.20020"), ("arXiv:2508.20020", "2508.20020"),
    ("https://arxiv.org/abs/2508.20020v2", "2508.20020"),
    ("https://arxiv.org/pdf/2508.20020.pdf", "2508.20020"),
    ("https://doi.org/10.48550/arXiv.2508.20020", "2508.20020"), ("hep-th/9901001", "hep-th/9901001"),
    ("math.GT/0309136v1", "math.GT/0309136"), ("10.1109/CVPR.2016.90", None), ("2508", None),
    ("https://example.org/2508.20020", None),
])
def test_arxiv_ids_in_ids_urls_and_dois(text: str, expected: str | None) -> None:
    assert arxiv_id_in(text) == expected


def test_a_list_of_ids_and_urls_once_each_in_order() -> None:
    seeds = parse_seeds(["2508.20020, https://arxiv.org/abs/2507.09082",
                         "# my list\n2508.20020v2\nnonsense\n"])
    assert seeds.ids == ("2508.20020", "2507.09082")
    assert seeds.skipped == ("'nonsense': not an arXiv id or URL",)


def test_bibtex_exports_of_zotero_mendeley_and_google_scholar() -> None:
    seeds = parse_seeds([ZOTERO + MENDELEY + SCHOLAR])
    assert seeds.ids == ("2508.20020", "2507.09082", "2508.19320")
    assert seeds.skipped[0] \
        == "BibTeX entry he2016deep (Deep residual learning for image recognition): no arXiv id"
    assert "not readable" in seeds.skipped[1] and len(seeds.skipped) == 2


def test_too_many_seeds_are_refused() -> None:
    with pytest.raises(ValueError, match=f"at most {MAX_SEEDS}"):
        parse_seeds([" ".join(f"2508.{i:05d}" for i in range(MAX_SEEDS + 1))])


@pytest.fixture
def site(tmp_path: Path, fake_arxiv: FakeArxiv, monkeypatch: pytest.MonkeyPatch) -> Path:
    return make_site(tmp_path, monkeypatch, [], ARXIV_FEED_URL=fake_arxiv.feed_url,
                     ARXIV_API_URL=fake_arxiv.api_url)


def _add(site: Path, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["subscribers", "add", "ada@example.org", "--criteria",
                                      str(site / "criteria" / "generation-segmentation-matting.md"), *extra],
                                env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_subscribers_add_stores_the_seed_papers_as_first_likes(site: Path) -> None:
    (site / "refs.bib").write_text(SCHOLAR, encoding="utf-8")
    code, output = _add(site, "--like", "2508.20020,https://arxiv.org/abs/2507.09082", "--like-file",
                        str(site / "refs.bib"))
    assert code == 0, output
    assert "Seed papers: 3 stored as ada@example.org's first likes." in output
    assert "skipped seed: BibTeX entry he2016deep" in output
    db = Database.open(load_settings().db_path)
    votes = vote_store.select(db, email="ada@example.org")
    assert {(v.arxiv_id, v.vote, v.source, v.digest_date) for v in votes} \
        == {(i, "up", "seed", None) for i in ("2508.20020", "2507.09082", "2508.19320")}
    papers = papers_by_id(db, ["2508.20020", "2507.09082", "2508.19320"])
    assert papers["2508.20020"].title.startswith("GS: Generative Segmentation")
    assert all(p.abstract for p in papers.values())
    shown = CliRunner().invoke(app, ["subscribers", "show", "ada@example.org"], env={"COLUMNS": "200"}).output
    assert "Votes: 0 (0 up, 0 down); seed papers: 3" in shown and "(seed, no digest)" in shown
    assert "Weighs most for a paper: " in shown and "Weighs most against" not in shown


def test_a_failed_fetch_changes_nothing(site: Path, fake_arxiv: FakeArxiv) -> None:
    fake_arxiv.script("api", Reply.error(400))
    code, output = _add(site, "--like", "2508.20020")
    said = " ".join(output.split())
    assert code == 1 and "could not fetch the seed papers" in said
    assert "Try again later, or add the reader now without --like/--like-file" in said  # what to do
    assert "ada@example.org" not in (site / "subscribers.csv").read_text()


def test_unknown_ids_are_reported_and_skipped(site: Path) -> None:
    code, output = _add(site, "--like", "2508.20020,2509.99999,not-an-id")
    assert code == 0, output
    assert "Seed papers: 1 stored" in output
    assert "skipped seed: 2509.99999: the arXiv API does not know it" in output
    assert "skipped seed: 'not-an-id': not an arXiv id or URL" in output


def test_stored_papers_first_and_only_the_others_asked_for(site: Path, fake_arxiv: FakeArxiv) -> None:
    """`--like` takes the papers the database holds (any fetched day) from it: with all of them
    stored no API request is made; otherwise one request names only the missing ids."""
    db = Database.open(load_settings().db_path)
    save_papers(db, [Paper("2508.20020", "Stored title", ("A. Author",), "Stored abstract.", ("cs.CV",)),
                     Paper("2507.09082", "Another stored", ("B. Author",), "Its abstract.", ("cs.LG",))])
    code, output = _add(site, "--like", "2508.20020,2507.09082")
    assert code == 0, output
    assert "Seed papers: 2 stored as ada@example.org's first likes." in output
    assert fake_arxiv.seen("api") == []
    assert papers_by_id(db, ["2508.20020"])["2508.20020"].title == "Stored title"

    CliRunner().invoke(app, ["subscribers", "remove", "ada@example.org"])
    code, output = _add(site, "--like", "2508.19320,2508.20020")
    assert code == 0, output
    assert "Seed papers: 1 stored as ada@example.org's first likes (1 voted on already)." in output
    assert [r.query.get("id_list") for r in fake_arxiv.seen("api")] == ["2508.19320"]
