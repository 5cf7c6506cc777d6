"""A weekly digest's cost: its earlier days' scores come from the score cache, so the digest
makes no LLM call for them, measured against the fake LLM server counting requests."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from newsletter.daily.run import run_daily, score_ahead
from newsletter.daily.wiring import Adapters, build_judge
from newsletter.db import Database
from newsletter.db.papers import save_day, stored_dates
from newsletter.db.scores import DatabaseScoreCache
from newsletter.models import AnnouncementDay
from newsletter.ranking.local import LocalRanker, llm_candidates
from newsletter.readers.roster import Roster
from newsletter.service.schedule import due_checker, due_now
from newsletter.settings import Settings, load_settings
from tests.daily.test_span import DAYS, MON, NoFetch, Recorder, ids_in, mail_to, papers_of, qualifying, reader
from tests.daily.test_span import settings as settings  # the fixture
from tests.fakes.llm_server import FakeLLM


def test_a_weekly_digest_reuses_the_scores_of_its_earlier_days_and_makes_no_llm_call_for_them(
    settings: Settings, fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the service does: each day scored once per criteria text right after its fetch
    (`score_ahead`, for every active reader), then the digests at 07:30. Friday's weekly digest
    carries the LLM's scores of Monday to Thursday and costs no call at all."""
    for name, value in {"LLM_MODEL": fake_llm.model, "LLM_API_BASE": fake_llm.api_base,
                        "LLM_API_KEY": "sk-fake", "LLM_AUDIT_EVERY": "0"}.items():
        monkeypatch.setenv(f"NEWSLETTER_{name}", value)
    settings = load_settings()
    db = Database.open(settings.db_path)
    readers = [reader("daily@example.org"), reader("weekly@example.org", frequency="weekly", weekday=4),
               reader("alone@example.org", "Papers about galaxies and comets.", frequency="weekly",
                      weekday=4),
               reader("paused@example.org", "Papers about quantum gravity.",
                      paused_until=dt.date(2027, 1, 1))]
    recorder, calls_ahead, calls_sending = Recorder(), 0, {}

    def no_tuesday(body: dict[str, Any]) -> tuple[int, dict[str, str], dict[str, Any]]:
        """Tuesday's own papers get no LLM score, however often asked: they stay ranked locally."""
        answer = fake_llm.oracle_answer(body)
        answer["papers"] = [p for p in answer["papers"] if not p["id"].startswith("2612.1201")]
        return 200, {}, fake_llm._completion(body, json.dumps(answer))

    for day in DAYS[:5]:
        fake_llm.default_step = no_tuesday if day == DAYS[1] else "oracle"
        now = dt.datetime.combine(day, dt.time(7, 30), tzinfo=dt.UTC)
        save_day(db, AnnouncementDay(day, ("cs.CV",), papers_of(day)), source="test")
        adapters = Adapters(source=NoFetch(), ranker=LocalRanker(), judge=build_judge(settings, db, day),
                            cache=DatabaseScoreCache(db), cut=llm_candidates, transport=recorder,
                            clock=lambda now=now: now)
        before = len(fake_llm.requests)
        score_ahead(now=now, settings=settings, db=db, adapters=adapters, digest_date=day,
                    subscribers=readers)
        calls_ahead += len(fake_llm.requests) - before
        before = len(fake_llm.requests)
        fetched = stored_dates(db, MON)
        for digest_date, due in due_now(readers, now, fetched).items():
            summary = run_daily(now=now, settings=settings, db=db, adapters=adapters, date=digest_date,
                                only=[r.email for r in due], is_due=due_checker(fetched),
                                roster=Roster(Path("subscribers.csv"), readers))
            assert summary.sent, summary.reason
        calls_sending[day] = len(fake_llm.requests) - before

    assert calls_ahead >= 10  # two criteria texts, five days: each scored once, by the LLM
    # No call on Friday, not even for Tuesday's papers the LLM never scored: scoring Tuesday
    # again would have asked for them (and paid), and given the weekly reader other scores.
    # (Tuesday's own run asks again for its unscored papers, as a daily run always has.)
    assert calls_sending[DAYS[4]] == 0 and calls_sending[DAYS[1]] > 0
    assert sum(calls_sending.values()) == calls_sending[DAYS[1]]
    assert [len(mail_to(recorder, r.email)) for r in readers] == [5, 1, 1, 0]
    assert not [b for b in fake_llm.requests if "quantum gravity" in json.dumps(b)]  # never paid for
    (weekly,) = mail_to(recorder, "weekly@example.org")
    assert weekly.subject.startswith("arXiv digest · 30 Nov – 4 Dec 2026 · 15 papers · ")
    llm = [s for s in weekly.text.split("\n## ")[1:] if "**Comment:** Matches: " in s]  # the LLM's
    assert len(llm) == 13  # the four other days' matches with the LLM's scores, and 12-01-2 again on 12-02
    tuesday = qualifying([DAYS[1]])
    assert set(ids_in(weekly)) - tuesday == qualifying(DAYS[:5]) - tuesday
    (alone,) = mail_to(recorder, "alone@example.org")
    assert {i[-1] for i in ids_in(alone)} == {"3", "4", "5"}  # its own criteria, its own papers

