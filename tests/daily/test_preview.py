"""The settings page's criteria preview: the latest stored day under a new text, ranked locally
(never by a fresh LLM call), with the text's cached LLM scores where the cache has them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from newsletter.daily.preview import LOOK_BACK, build_previewer
from newsletter.db import Database
from newsletter.db.papers import save_day
from newsletter.db.scores import DatabaseScoreCache
from newsletter.models import AnnouncementDay, Paper, Score, Subscriber
from newsletter.ranking.llm import judge_cache_key
from newsletter.settings import Settings
from newsletter.web.preview import PreviewResult, preview_html
from tests.fakes.render_data import DATA

DAY = dt.date(2025, 8, 28)
TEXT = (Path(__file__).parents[1] / "data" / "criteria" / "generation-segmentation-matting.md").read_text()


def day_papers() -> tuple[Paper, ...]:
    records = json.loads((DATA / "papers.json").read_text(encoding="utf-8"))["2025-08-28"]
    return tuple(Paper(r["id"], r["title"], tuple(r["authors"]), r["summary"], tuple(r["categories"]),
                       comment=r["comment"]) for r in records)


def reader(criteria: str) -> Subscriber:
    return Subscriber("ada@example.org", criteria, Path("criteria.md"), categories=("cs.CV",))


def test_the_preview_ranks_the_latest_stored_day_locally(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "state.db")
    papers = day_papers()
    save_day(db, AnnouncementDay(DAY, ("cs.CV",), papers), source="test")
    preview = build_previewer(Settings(), db, clock=lambda: dt.datetime(2025, 8, 30, tzinfo=dt.UTC))
    result = preview(reader(TEXT))
    assert result.date == DAY
    assert result.considered == sum("cs.CV" in p.categories for p in papers)
    assert result.entries and all(e.score.source == "local" for e in result.entries)


def test_cached_llm_scores_of_the_text_win_and_nothing_else_is_asked(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "state.db")
    papers = day_papers()
    save_day(db, AnnouncementDay(DAY, ("cs.CV",), papers), source="test")
    settings = Settings(llm_model="openai/gpt-test", llm_api_base="http://127.0.0.1:9")  # never reached
    target = next(p for p in papers if "cs.CV" in p.categories)
    DatabaseScoreCache(db).put_many(judge_cache_key(settings.llm_model), TEXT, [target],
                                    {target.arxiv_id: Score(target.arxiv_id, 10, 9, "cached", "llm")})
    preview = build_previewer(settings, db, clock=lambda: dt.datetime(2025, 8, 30, tzinfo=dt.UTC))
    first = preview(reader(TEXT)).entries[0]
    assert (first.paper.arxiv_id, first.score.source, first.score.relevance) == (target.arxiv_id, "llm", 10)
    other = preview(reader("1. Something else entirely\n")).entries
    assert all(e.score.source == "local" for e in other)  # the cache is per text


def test_no_stored_day_is_said_plainly(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "state.db")
    assert build_previewer(Settings(), db)(reader(TEXT)).date is None


def test_the_page_names_the_look_back_the_previewer_uses() -> None:
    """The page's "last N days" and the previewer's look-back are the same N."""
    assert f"from the last {LOOK_BACK.days} days" in preview_html(PreviewResult(None, (), 0))
