"""Audit days: now and then the LLM scores every candidate, which measures the cut and teaches it."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from newsletter.cli.checks import check_cut
from newsletter.daily.stages import score_stage
from newsletter.daily.summary import no_progress
from newsletter.daily.wiring import Adapters, audit_every_for
from newsletter.db import Database
from newsletter.db import runs as run_log
from newsletter.db.audits import audit_totals, save_audit
from newsletter.db.scores import criteria_hash
from newsletter.models import AnnouncementDay, CutAudit, Paper, Score, Subscriber
from newsletter.ranking import scoring
from newsletter.ranking.audit import is_audit_day
from newsletter.ranking.base import Judgement
from newsletter.ranking.llm import judge_cache_key
from newsletter.ranking.scoring import BUDGET_NOTE, score_criteria
from newsletter.readers.roster import Roster, load_roster
from newsletter.settings import Settings, load_settings
from tests.daily.test_faults import DAY, NOW, daily, use_fake_llm, write_roster
from tests.daily.test_faults import site as site  # the fixture: a site served by the loopback fakes
from tests.fakes.llm_server import FakeLLM
from tests.ranking.test_llm_judge import CRITERIA, load_papers
from tests.ranking.test_scoring import DictCache, WordRanker, _ids, judge_for, top_half


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

    def judge(self, criteria: str, papers: Sequence[Paper], on_batch: object = None) -> Judgement:
        self.asked += [p.arxiv_id for p in papers]
        return Judgement(scores={p.arxiv_id: Score(p.arxiv_id, self.relevance[p.arxiv_id], 5, "c", "llm")
                                 for p in papers})


class InOrder:
    """Ranks papers in the order given: the first ones are what the cut sends."""

    def rank(self, criteria: str, papers: Sequence[Paper], history: Sequence[tuple[Paper, int]] = (),
             votes: Sequence[tuple[Paper, int]] = ()) -> list[Score]:
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


class BudgetJudge:
    """Scores papers until a shared allowance of papers is spent, then reports the budget spent."""

    cache_key = "budget|p1"

    def __init__(self, allowance: int) -> None:
        self.allowance = allowance

    def judge(self, criteria: str, papers: Sequence[Paper], on_batch: object = None) -> Judgement:
        paid, self.allowance = list(papers[: self.allowance]), max(0, self.allowance - len(papers))
        return Judgement(scores={p.arxiv_id: Score(p.arxiv_id, 5, 5, "c", "llm") for p in paid},
                         unscored=frozenset(p.arxiv_id for p in papers[len(paid):]),
                         budget_exhausted=len(paid) < len(papers))


def test_audits_are_scored_last_so_they_never_spend_a_normal_days_budget() -> None:
    papers = tuple(load_papers(20))
    normal = next(c for n in range(100) if not is_audit_day(DAY, c := f"{CRITERIA} ({n})", 2))
    audited = next(c for n in range(100) if is_audit_day(DAY, c := f"{CRITERIA} [{n}]", 2))
    readers = [Subscriber(f"{n}@example.org", text, Path("c.md"), categories=("cs.CV",))
               for n, text in enumerate([audited, normal])]  # the audit comes first in the roster
    adapters = Adapters(source=None, ranker=InOrder(), judge=BudgetJudge(25), cache=DictCache(),  # type: ignore[arg-type]
                        cut=top_half, transport=None)  # type: ignore[arg-type]
    in_cv = tuple(dataclasses.replace(p, categories=("cs.CV",)) for p in papers)
    day = AnnouncementDay(DAY, ("cs.CV",), in_cv)

    scored = score_stage(day, readers, adapters, no_progress, workers=4, audit_every=2)

    assert list(scored) == [audited, normal]  # the roster's order, as the summary numbers them
    assert scored[normal].audit is None and not scored[normal].budget_exhausted
    assert scored[normal].llm_scored == 10
    assert scored[audited].llm_scored == 15  # its usual 10 first, then 5 of the 10 extras
    assert scored[audited].audit is not None and scored[audited].audit.unscored == 5


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    return load_settings(data_dir=tmp_path, llm_model="openai/fake", **overrides)


def _roster(*criteria: str) -> Roster:
    readers = [Subscriber(email=f"r{n}@example.org", criteria=text, criteria_path=Path(f"c{n}.md"))
               for n, text in enumerate(criteria)]
    return Roster(Path("subscribers.csv"), readers)


def test_check_reports_the_measured_recall_and_warns_when_the_cut_loses_papers(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    roster = _roster("text one", "text two", "text three")
    c1, c2, c3 = (criteria_hash(r.criteria) for r in roster.subscribers)
    first = check_cut(settings, roster, NOW)
    assert first.detail.startswith("not measured yet for openai/fake: about one day in 10")
    db = Database.open(settings.db_path)
    key = judge_cache_key("openai/fake")
    save_audit(db, key, c1, DAY, CutAudit(200, 120, 10, 10, 30, 29))
    save_audit(db, key, c2, DAY, CutAudit(100, 30, 10, 9, 12, 11))
    save_audit(db, key, c1, DAY - dt.timedelta(days=200), CutAudit(100, 10, 10, 0, 10, 0))  # too old
    save_audit(db, key, c3, DAY, CutAudit(100, 10, 5, 5, 5, 5, unscored=40))  # incomplete
    save_audit(db, "openai/old|p1", c1, DAY, CutAudit(100, 10, 10, 0, 10, 0))  # another model
    save_audit(db, key, criteria_hash("a reader who left"), DAY, CutAudit(100, 10, 10, 0, 10, 0))

    ok = check_cut(settings, roster, NOW)
    save_audit(db, key, c2, DAY, CutAudit(100, 30, 10, 7, 12, 9))  # a re-run replaces the day
    save_audit(db, key, c2, DAY, CutAudit(60, 30, 6, 6, 6, 6))  # a run over fewer papers does not
    warned = check_cut(settings, roster, NOW)

    head = ("openai/fake, 2 audit day(s) in 90 days (1 incomplete left out): the cut sends 50% of the"
            " papers and caught")
    assert (ok.status, ok.detail) == ("ok", f"{head} 19 of 20 of relevance ≥ 7 (95%)")
    assert warned.status == "warn"
    assert warned.detail.startswith(f"{head} 17 of 20 of relevance ≥ 7 (85%); the ranker learns")
    totals = audit_totals(db, DAY, cache_key=key, criteria_hashes={c1, c2, c3})
    assert (totals.audits, totals.incomplete, totals.audit.relevant_useful) == (2, 1, 42)
    assert audit_totals(db, DAY).audits == 4  # unfiltered: every model and criteria text
    assert check_cut(settings, None, NOW).detail.startswith("openai/fake, 3 audit day(s)")  # no roster
    assert check_cut(_settings(tmp_path, llm_audit_every=0), roster, NOW).status == "skip"
    assert check_cut(load_settings(data_dir=tmp_path), roster, NOW).status == "skip"


def test_an_audit_cut_short_by_the_budget_leaves_the_usual_papers_scored_and_counts_as_incomplete() -> None:
    papers = load_papers(8)
    judge, cache = BudgetJudge(6), DictCache()  # the usual 4, then 2 of the 4 extras

    result = score_criteria(CRITERIA, papers, ranker=InOrder(), judge=judge, cache=cache, cut=top_half,
                            audit_on=DAY)

    usual = {p.arxiv_id for p in papers[:4]}
    assert {i for i, s in result.scores.items() if s.source == "llm"} >= usual
    assert result.llm_scored == 6 and not result.marked and not result.budget_exhausted
    assert not any(BUDGET_NOTE in s.comment for s in result.scores.values())  # past the cut: as usual
    assert result.audit is not None and result.audit.unscored == 2 and not result.audit.complete
    assert result.audit.describe().endswith("(incomplete: 2 got no LLM score)")


def test_no_audit_once_half_the_days_budget_is_spent(tmp_path: Path) -> None:
    settings = _settings(tmp_path, llm_daily_budget_usd=1.0)
    db = Database.open(settings.db_path)
    assert audit_every_for(settings, db, DAY) == 10
    record = run_log.start_run(db, run_log.RunRecord(kind="prepare", started_at=NOW, digest_date=DAY))
    run_log.finish_run(db, replace(record, cost_usd=0.5), NOW)

    assert audit_every_for(settings, db, DAY) == 0
    assert audit_every_for(_settings(tmp_path), db, DAY) == 10  # no cap: audits as set


def test_a_rerun_gets_the_same_history_when_the_history_is_longer_than_its_limit(
    fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scoring, "HISTORY", 4)
    papers = load_papers(24)
    ranker, cache, judge = WordRanker(), DictCache(), judge_for(fake_llm)

    for day in (papers[:12], papers[12:], papers[12:]):
        score_criteria(CRITERIA, day, ranker=ranker, judge=judge, cache=cache, cut=top_half)

    assert len(ranker.histories[1]) == 4
    assert ranker.histories[2] == ranker.histories[1]  # today's six newer rows do not crowd it out


def test_a_daily_run_on_an_audit_day_notes_and_stores_the_figures(
    site: Path, fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_roster(site, 3)
    use_fake_llm(monkeypatch, fake_llm, LLM_AUDIT_EVERY="1")

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
    settings = load_settings()
    roster = load_roster(settings.subscribers, settings)
    assert check_cut(settings, roster, NOW).detail.startswith(f"{fake_llm.model}, 3 audit day(s) in 90 days")
