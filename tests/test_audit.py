"""Audit days: now and then the LLM scores every candidate, which measures the cut and teaches it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import pytest

from newsletter.checks import check_cut
from newsletter.db import Database
from newsletter.db.audits import audit_totals, save_audit
from newsletter.models import Paper, Score
from newsletter.ranking.audit import CutAudit, is_audit_day
from newsletter.ranking.base import Judgement
from newsletter.ranking.scoring import score_criteria
from newsletter.settings import load_settings
from tests.fakes.llm_server import FakeLLM
from tests.test_faults import DAY, NOW, daily, write_roster
from tests.test_faults import site as site  # the fixture: a site served by the loopback fakes
from tests.test_llm_judge import CRITERIA, load_papers
from tests.test_scoring import DictCache, WordRanker, _ids, judge_for, top_half


def test_about_one_day_in_n_is_an_audit_day_and_the_choice_is_stable() -> None:
    days = [dt.date(2025, 1, 1) + dt.timedelta(days=n) for n in range(2000)]

    chosen = [d for d in days if is_audit_day(d, CRITERIA, 10)]

    assert 0.07 < len(chosen) / len(days) < 0.13
    assert chosen == [d for d in days if is_audit_day(d, CRITERIA, 10)]  # a re-run chooses the same
    other = [d for d in days if is_audit_day(d, CRITERIA + " Also robots.", 10)]
    assert other != chosen  # criteria texts audit on different days: the extra spend is spread
    assert not any(is_audit_day(d, CRITERIA, 0) for d in days[:50])
    assert all(is_audit_day(d, CRITERIA, 1) for d in days[:50])


class ScriptedJudge:
    """Relevance by paper position in `load_papers`, so the expected figures are known."""

    cache_key = "scripted|p1"

    def __init__(self, relevance: dict[str, int]) -> None:
        self.relevance = relevance
        self.asked: list[str] = []

    def judge(self, criteria: str, papers: Sequence[Paper]) -> Judgement:
        self.asked += [p.arxiv_id for p in papers]
        return Judgement(scores={p.arxiv_id: Score(p.arxiv_id, self.relevance[p.arxiv_id], 5, "c", "llm")
                                 for p in papers})


class InOrder:
    """Ranks papers in the order given: the first ones are what the cut sends."""

    def rank(self, criteria: str, papers: Sequence[Paper], history: Sequence[tuple[Paper, int]] = ()
             ) -> list[Score]:
        return [Score(p.arxiv_id, 10 - i, 3, "local") for i, p in enumerate(papers)]


def test_an_audit_day_judges_every_paper_and_counts_what_the_cut_would_have_caught() -> None:
    papers = load_papers(8)
    ids = [p.arxiv_id for p in papers]
    # The usual cut sends the first 4. Relevance ≥ 7: papers 0 and 5; ≥ 5: also 1 and 6.
    relevance = dict(zip(ids, [9, 6, 2, 2, 2, 8, 5, 2], strict=True))
    judge, cache = ScriptedJudge(relevance), DictCache()

    result = score_criteria(CRITERIA, papers, ranker=InOrder(), judge=judge, cache=cache, cut=top_half,
                            audit_on=DAY)

    assert judge.asked == ids  # every paper, best local score first (a budget cut keeps the best)
    assert result.audit == CutAudit(candidates=8, would_send=4, relevant_high=2, caught_high=1,
                                    relevant_useful=4, caught_useful=2)
    assert cache.audits == {("scripted|p1", cache._hash(CRITERIA), DAY): result.audit}
    assert all(s.source == "llm" for s in result.scores.values())
    assert result.audit.describe() == (
        "all 8 papers went to the LLM; the usual cut would have sent 4 (50%) and caught 1 of 2"
        " of relevance ≥ 7, 2 of 4 of relevance ≥ 5")


def test_on_a_normal_day_the_cut_decides_and_nothing_is_audited() -> None:
    papers = load_papers(8)
    judge, cache = ScriptedJudge({p.arxiv_id: 5 for p in papers}), DictCache()

    result = score_criteria(CRITERIA, papers, ranker=InOrder(), judge=judge, cache=cache, cut=top_half)

    assert len(judge.asked) == 4
    assert result.audit is None and cache.audits == {}


def test_an_audit_day_through_litellm_is_free_to_rerun_and_teaches_the_next_day(fake_llm: FakeLLM) -> None:
    papers = load_papers(24)
    audited, next_day = papers[:12], papers[12:]
    ranker, cache, judge = WordRanker(), DictCache(), judge_for(fake_llm)

    first = score_criteria(CRITERIA, audited, ranker=ranker, judge=judge, cache=cache, cut=top_half,
                           audit_on=DAY)
    calls = len(fake_llm.requests)
    again = score_criteria(CRITERIA, audited, ranker=ranker, judge=judge, cache=cache, cut=top_half,
                           audit_on=DAY)
    assert len(fake_llm.requests) == calls  # the re-run of the audit day makes no LLM call
    score_criteria(CRITERIA, next_day, ranker=ranker, judge=judge, cache=cache, cut=top_half)

    assert {i for r in fake_llm.requests[:calls] for i in _ids(r)} == {p.arxiv_id for p in audited}
    assert first.llm_scored == 12 and again.cached == 12
    assert again.audit == first.audit
    assert first.audit is not None and first.audit.candidates == 12 and first.audit.would_send == 6
    oracle = {i: s.relevance for i, s in first.scores.items()}
    assert first.audit.relevant_useful == sum(v >= 5 for v in oracle.values())
    # The next day learns from all twelve, the six the cut would have dropped included.
    assert {p.arxiv_id for p, _ in ranker.histories[-1]} == {p.arxiv_id for p in audited}


def _settings(tmp_path: Path, **overrides: object):  # type: ignore[no-untyped-def]
    return load_settings(data_dir=tmp_path, llm_model="openai/fake", **overrides)


def test_check_reports_the_measured_recall_and_warns_when_the_cut_loses_papers(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert check_cut(settings, NOW).detail.startswith("not measured yet: about one day in 10")
    db = Database.open(settings.db_path)
    save_audit(db, "m|p1", "c1", DAY, CutAudit(200, 120, 10, 10, 30, 29))
    save_audit(db, "m|p1", "c2", DAY, CutAudit(100, 30, 10, 9, 12, 11))
    save_audit(db, "m|p1", "c1", DAY - dt.timedelta(days=200), CutAudit(100, 10, 10, 0, 10, 0))  # too old

    ok = check_cut(settings, NOW)
    save_audit(db, "m|p1", "c2", DAY, CutAudit(100, 30, 10, 7, 12, 9))  # a re-run replaces the day
    warned = check_cut(settings, NOW)

    assert (ok.status, ok.detail) == ("ok", "2 audit day(s) in 90 days: the cut sends 50% of the papers"
                                            " and caught 19 of 20 of relevance ≥ 7 (95%)")
    assert warned.status == "warn"
    assert warned.detail.startswith("2 audit day(s) in 90 days: the cut sends 50% of the papers and caught"
                                    " 17 of 20 of relevance ≥ 7 (85%); the ranker learns")
    assert audit_totals(db, DAY).audit.relevant_useful == 42
    assert check_cut(_settings(tmp_path, llm_audit_every=0), NOW).status == "skip"
    assert check_cut(load_settings(data_dir=tmp_path), NOW).status == "skip"


def test_a_daily_run_on_an_audit_day_notes_and_stores_the_figures(
    site: Path, fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_roster(site, 3)
    for name, value in {"NEWSLETTER_LLM_MODEL": fake_llm.model, "NEWSLETTER_LLM_API_BASE": fake_llm.api_base,
                        "NEWSLETTER_LLM_API_KEY": "sk-fake", "NEWSLETTER_LLM_AUDIT_EVERY": "1"}.items():
        monkeypatch.setenv(name, value)

    summary, db = daily()
    calls = len(fake_llm.requests)
    rerun, _ = daily()

    assert summary.exit_code == 0, summary.reason
    audits = [n for n in summary.notes if n.startswith("audit day for criteria-")]
    assert len(audits) == 3
    assert all("papers went to the LLM; the usual cut would have sent" in n for n in audits)
    assert all(e["cut_audit"]["candidates"] == e["llm_scored"] for e in summary.usage_by_criteria.values())
    assert len(fake_llm.requests) == calls and rerun.usage.calls == 0  # the re-run is free
    assert audit_totals(db, DAY).audits == 3
    assert check_cut(load_settings(), NOW).detail.startswith("3 audit day(s) in 90 days")
