"""A judge that runs out of time or scores everything 10, through the real daily run: the run
summary says so, the admin hears of it once, and every reader still gets at most their max."""

from __future__ import annotations

import email
from email import policy
from pathlib import Path

import pytest

from newsletter.db import deliveries as delivery_store
from newsletter.db.alerts import already_sent
from newsletter.mail.outbox import OutboxTransport
from newsletter.service.alerter import Alerter, report_run
from newsletter.settings import load_settings
from tests.daily.test_faults import DAY, NOW, daily, use_fake_llm, write_roster
from tests.daily.test_faults import site as site  # the fixture: a site served by the loopback fakes
from tests.fakes.llm_server import FakeLLM

ADMIN = "admin@example.org"


def judge_alerts(outbox: Path) -> list[email.message.EmailMessage]:
    found = sorted((outbox / DAY.isoformat()).glob("*alert-judge*.eml"))
    return [email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in found]  # type: ignore[misc]


@pytest.mark.slow  # a whole day through the judge: ~10 s
def test_a_degenerate_day_is_flagged_alerted_once_and_digests_keep_their_max(
    site: Path, fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_roster(site, 1)
    use_fake_llm(monkeypatch, fake_llm, MAX_PAPERS="4", ADMIN_EMAIL=ADMIN, LLM_AUDIT_EVERY="0")
    fake_llm.default_step = "all_ten"

    summary, db = daily()

    assert summary.outcome.kind == "served", summary.reason
    notes = [n for n in summary.notes if "degenerate" in n]
    assert notes and "relevance: count = 10:" in notes[0], summary.notes
    settings = load_settings()
    alerter = Alerter(db, OutboxTransport(settings.outbox_dir), settings)
    report_run(alerter, summary, NOW, whole_day=True)
    report_run(alerter, summary, NOW, whole_day=True)  # a later run of the day: not again
    (alert,) = judge_alerts(settings.outbox_dir)
    assert "degenerate" in str(alert["Subject"])
    assert "relevance: count = 10:" in alert.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert already_sent(db, "judge", f"{DAY.isoformat()}:degenerate")
    sent = delivery_store.for_date(db, DAY)
    assert sent and all(0 < len(row.paper_ids) <= 4 for row in sent.values())  # 41 "perfect" papers


def test_the_deadline_holds_and_the_run_says_how_many_papers_were_ranked_locally(
    site: Path, fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_roster(site, 1)
    use_fake_llm(monkeypatch, fake_llm, LLM_DEADLINE_MINUTES="0.01", ADMIN_EMAIL=ADMIN,
                 LLM_AUDIT_EVERY="0", LLM_TIMEOUT="120")
    fake_llm.slow_seconds, fake_llm.default_step = 60.0, "slow"  # a model that never answers in time

    summary, db = daily()

    assert summary.outcome.kind == "served", summary.reason
    late = summary.usage_by_criteria["criteria-1"]["llm_late"]
    assert isinstance(late, int) and late > 0
    said = f"{late} paper(s) of criteria-1 were ranked locally"
    assert any(said in note for note in summary.notes), summary.notes
    settings = load_settings()
    alerter = Alerter(db, OutboxTransport(settings.outbox_dir), settings)
    report_run(alerter, summary, NOW, whole_day=True)
    report_run(alerter, summary, NOW, whole_day=True)
    (alert,) = judge_alerts(settings.outbox_dir)
    assert "deadline" in str(alert["Subject"])
