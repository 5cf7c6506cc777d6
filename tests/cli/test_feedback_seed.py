"""`newsletter feedback seed EMAIL --like … [--like-file …]`: seed papers for a reader already on
the roster, read and fetched as `subscribers add --like` does (the arXiv API is a loopback fake)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter.cli.app import app
from newsletter.db import Database
from newsletter.db import votes as vote_store
from newsletter.db.papers import papers_by_id, save_papers
from newsletter.models import Paper
from newsletter.settings import load_settings
from tests.conftest import make_site
from tests.fakes.arxiv_server import FakeArxiv, Reply

ADA = "ada@example.org"
NEXT = "`newsletter subscribers add EMAIL --criteria PATH --like …`"


@pytest.fixture
def site(tmp_path: Path, fake_arxiv: FakeArxiv, monkeypatch: pytest.MonkeyPatch) -> Path:
    row = f"{ADA},Ada,criteria/generation-segmentation-matting.md,cs.CV,UTC,07:00,"
    return make_site(tmp_path, monkeypatch, [row], ARXIV_FEED_URL=fake_arxiv.feed_url,
                     ARXIV_API_URL=fake_arxiv.api_url)


def seed(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["feedback", "seed", *args], env={"COLUMNS": "200"})
    return result.exit_code, result.output


def votes() -> set[tuple[str, str, str, str]]:
    db = Database.open(load_settings().db_path)
    return {(v.email, v.arxiv_id, v.vote, v.source) for v in vote_store.select(db)}


def test_seed_stores_likes_for_a_reader_on_the_roster(site: Path) -> None:
    """Ids, URLs and a BibTeX file, as for `subscribers add`; the roster's spelling of the address."""
    bibtex = "@article{c, journal={arXiv preprint arXiv:2508.19320}}\n"
    (site / "refs.bib").write_text(bibtex, encoding="utf-8")
    code, output = seed(ADA.upper(), "--like", "2508.20020,https://arxiv.org/abs/2507.09082v2",
                        "--like-file", str(site / "refs.bib"))
    assert (code, output) == (0, f"Seed papers: 3 stored as {ADA}'s likes.\n")
    assert votes() == {(ADA, i, "up", "seed") for i in ("2508.20020", "2507.09082", "2508.19320")}
    db = Database.open(load_settings().db_path)
    assert papers_by_id(db, ["2508.20020"])["2508.20020"].title.startswith("GS: Generative Segmentation")


def test_seeding_twice_stores_each_paper_once_and_keeps_the_readers_own_votes(site: Path) -> None:
    """A paper seeded again, or one the reader voted down, keeps its one row as it was."""
    db = Database.open(load_settings().db_path)
    vote_store.put(db, ADA, "2507.09082", "down", source="click", digest_date=dt.date(2025, 8, 28),
                   now=dt.datetime(2025, 8, 28, 8, tzinfo=dt.UTC))
    assert seed(ADA, "--like", "2508.20020") == (0, f"Seed papers: 1 stored as {ADA}'s likes.\n")
    assert seed(ADA, "--like", "2508.20020,2507.09082,2508.19320") \
        == (0, f"Seed papers: 1 stored as {ADA}'s likes (2 voted on already).\n")
    assert seed(ADA, "--like", "2508.20020") \
        == (0, f"Seed papers: 0 stored as {ADA}'s likes (1 voted on already).\n")
    assert votes() == {(ADA, "2508.20020", "up", "seed"), (ADA, "2508.19320", "up", "seed"),
                       (ADA, "2507.09082", "down", "click")}


def test_an_unknown_reader_is_refused_before_any_fetch(site: Path, fake_arxiv: FakeArxiv) -> None:
    """Exit 2, naming the roster and the command that adds a new reader; nothing asked or stored."""
    code, output = seed("bob@example.org", "--like", "2508.20020")
    assert (code, output) == (2, f"error: bob@example.org is not a subscriber in subscribers.csv;"
                                 f" add a new reader with {NEXT}\n")
    assert fake_arxiv.seen("api") == [] and votes() == set()


def test_seed_without_papers_is_a_usage_error(site: Path) -> None:
    assert seed(ADA) == (2, "error: name the seed papers: --like IDS and/or --like-file FILE\n")


def test_when_no_seed_can_be_used_nothing_is_stored(site: Path) -> None:
    code, output = seed(ADA, "--like", "2509.99999,not-an-id")
    assert (code, output) == (1, "skipped seed: 'not-an-id': not an arXiv id or URL\n"
                                 "skipped seed: 2509.99999: the arXiv API does not know it\n"
                                 "error: none of the seed papers could be used: nothing stored\n")
    assert votes() == set()


def test_a_failed_fetch_changes_nothing(site: Path, fake_arxiv: FakeArxiv) -> None:
    """The admin is told to try again (not to add the reader without --like: they are on the roster)."""
    fake_arxiv.script("api", Reply.error(400))
    code, output = seed(ADA, "--like", "2508.20020")
    said = " ".join(output.split())
    assert code == 1 and said.startswith("error: could not fetch the seed papers from the arXiv API: ")
    assert said.endswith("; nothing was changed. Try again later")
    assert votes() == set()


def test_stored_papers_need_no_api_request(site: Path, fake_arxiv: FakeArxiv) -> None:
    """Papers in the database already (a fetched day) are seeded from it, even with the API down."""
    db = Database.open(load_settings().db_path)
    save_papers(db, [Paper("2508.20020", "Stored title", ("A. Author",), "Stored abstract.", ("cs.CV",))])
    fake_arxiv.script("api", Reply.error(400))  # were it asked
    assert seed(ADA, "--like", "2508.20020") == (0, f"Seed papers: 1 stored as {ADA}'s likes.\n")
    assert fake_arxiv.seen("api") == []
    assert papers_by_id(db, ["2508.20020"])["2508.20020"].title == "Stored title"
