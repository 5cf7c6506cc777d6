"""Admin alerts: what they say, that each goes out once, and where they go without an address."""

from __future__ import annotations

import datetime as dt
import email
from dataclasses import replace
from email import policy
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter.cli.app import app
from newsletter.db import Database, delivery_transitions
from newsletter.db import runs as run_log
from newsletter.db import subscribers as subscriber_store
from newsletter.db.alerts import already_sent
from newsletter.db.runs import day_cost
from newsletter.mail.base import PermanentSendError, TransientSendError
from newsletter.mail.outbox import OutboxTransport
from newsletter.models import OutgoingEmail
from newsletter.service.alerter import Alerter
from newsletter.service.alerts import (
    Alert,
    cost_alert,
    expected_day_missing_alert,
    fetch_alert,
    roster_alert,
    run_alert,
)
from newsletter.settings import load_settings
from tests.daily.test_faults import site as site  # the fixture: a site served by the loopback fakes
from tests.daily.test_faults import write_roster
from tests.fakes.arxiv_server import FakeArxiv, Reply

UTC = dt.UTC
NOW = dt.datetime(2025, 8, 28, 6, 0, tzinfo=UTC)
DAY = dt.date(2025, 8, 28)
ADMIN = "admin@example.org"


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database.open(tmp_path / "state.db")


def test_run_alert_only_when_something_needs_a_human() -> None:
    assert run_alert(DAY, {}, []) is None
    alert = run_alert(DAY, {"b@example.org": "HTTP 400: bad address"}, ["c@example.org"])
    assert alert is not None
    assert alert.subject == "arXiv Digest: 2 delivery problem(s) on 2025-08-28"
    assert "failed: b@example.org: HTTP 400: bad address" in alert.text
    assert "unknown (interrupted mid-send, maybe delivered): c@example.org" in alert.text
    # the same problems give the same key (sent once); a new failure gives a new alert
    again = run_alert(DAY, {"b@example.org": "another wording"}, ["c@example.org"])
    assert again is not None
    assert again.key == alert.key
    more = run_alert(DAY, {"b@example.org": "x", "d@example.org": "y"}, ["c@example.org"])
    assert more is not None
    assert more.key != alert.key


def test_html_of_an_alert_is_escaped() -> None:
    alert = run_alert(DAY, {"<script>@example.org": "<b>bad</b>"}, [])
    assert alert is not None
    assert "<script>" not in alert.html
    assert "&lt;b&gt;bad&lt;/b&gt;" in alert.html


def test_cost_line_counts_each_failed_reader_once_and_not_once_served(db: Database) -> None:
    """db/runs.py `day_cost`: a reader two runs failed is one failure; one a later run served is
    none; a fatal error names no reader and is no reader's failure."""
    def finished(errors: list[str]) -> None:
        record = run_log.start_run(db, run_log.RunRecord(kind="run", started_at=NOW, digest_date=DAY))
        run_log.finish_run(db, replace(record, failures=len(errors), errors=errors), NOW)

    finished(["ada@example.org: not served: the feed holds no cs.LG", "Bo@Example.org: SendGrid 500"])
    finished(["ada@example.org: not served: the feed holds no cs.LG", "fetch failed: HTTP 503: try later"])
    assert day_cost(db, DAY).failures == 2
    delivery_transitions.begin(db, "bo@example.org", DAY, paper_ids=(), message_id="<m@x>", now=NOW)
    delivery_transitions.mark_sent(db, "bo@example.org", DAY, provider_id="p-1", now=NOW)
    assert day_cost(db, DAY).failures == 1


def test_credentials_in_an_error_text_never_reach_the_alert() -> None:
    error = "HTTP 401 from https://digest:hunter2pw@feeds.example.net/atom?api_key=K3Y-s3cret&page=2"
    alert = fetch_alert(DAY, error, waited=dt.timedelta(hours=8))
    for text in (alert.text, alert.html, alert.subject):
        assert "hunter2pw" not in text and "K3Y-s3cret" not in text
    assert "https://***@feeds.example.net/atom?api_key=***&amp;page=2" in alert.html


def test_cost_line_sums_the_days_runs_but_not_dry_runs(db: Database) -> None:
    for kind, cost, calls in (("prepare", 0.25, 10), ("run", 0.05, 2), ("dry-run", 9.0, 99)):
        record = run_log.start_run(db, run_log.RunRecord(kind=kind, started_at=NOW, digest_date=DAY))
        record = replace(record, cost_usd=cost, llm_calls=calls, prompt_tokens=1000, completion_tokens=100,
                         subscribers_served=3 if kind == "run" else 0)
        run_log.finish_run(db, record, NOW)
    cost = day_cost(db, DAY)
    assert (cost.runs, cost.llm_calls, cost.served) == (2, 12, 3)
    assert cost.cost_usd == pytest.approx(0.30)
    alert = cost_alert(cost)
    assert alert.subject == "arXiv Digest: cost of 2025-08-28: $0.30"
    assert alert.lines == (
        "2025-08-28: 3 digest(s) served, 0 failure(s); LLM 12 call(s),"
        " 2,000 prompt + 200 completion tokens, $0.3000",
    )


def test_each_alert_is_sent_once_to_the_admin_through_the_transport(db: Database, tmp_path: Path) -> None:
    settings = load_settings(
        admin_email="admin@example.org",
        from_email="digest@example.org",
        public_url="https://digest.example.org",
    )
    alerter = Alerter(db, OutboxTransport(tmp_path / "outbox"), settings)
    alert = fetch_alert(DAY, "stale feed", waited=dt.timedelta(hours=8))
    assert alerter.send(alert, NOW)
    assert not alerter.send(alert, NOW + dt.timedelta(minutes=5))
    assert not Alerter(db, OutboxTransport(tmp_path / "outbox"), settings).send(alert, NOW)  # a restart
    path = tmp_path / "outbox" / "2025-08-28" / "admin@example.org.alert-fetch.eml"
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert message["To"] == "admin@example.org"
    assert message["Subject"] == "arXiv Digest: the announcement of Thu 2025-08-28 could not be fetched"
    assert "Last error: stale feed" in message.get_body(("plain",)).get_content()
    assert str(message["List-Unsubscribe"]).strip().startswith("<https://digest.example.org/unsubscribe/")


def test_without_an_admin_address_alerts_are_only_logged(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    alerter = Alerter(db, OutboxTransport(tmp_path / "outbox"), load_settings(admin_email=""))
    alert = fetch_alert(DAY, "HTTP 503", waited=dt.timedelta(hours=8))
    assert not alerter.send(alert, NOW)
    assert "admin alert: arXiv Digest: the announcement of Thu 2025-08-28" in caplog.text
    assert not (tmp_path / "outbox").exists()
    caplog.clear()
    assert not alerter.send(alert, NOW)
    assert caplog.text == ""  # logged once, not on every tick


def test_a_suppressed_admin_gets_no_alerts(db: Database, tmp_path: Path) -> None:
    settings = load_settings(admin_email="admin@example.org")
    subscriber_store.suppress(db, "admin@example.org", "one-click", NOW)
    alerter = Alerter(db, OutboxTransport(tmp_path / "outbox"), settings)
    assert not alerter.send(fetch_alert(DAY, "x", waited=dt.timedelta(hours=1)), NOW)
    assert not (tmp_path / "outbox").exists()


class Down:
    def send(self, message: OutgoingEmail) -> str:
        raise TransientSendError("HTTP 503")


def test_an_alert_that_cannot_be_sent_is_recorded_as_failed(db: Database) -> None:
    alerter = Alerter(db, Down(), load_settings(admin_email="admin@example.org"))
    alert = Alert("run", "k", DAY, "subject", ("line",))
    assert not alerter.send(alert, NOW)
    row = db.read().execute("SELECT outcome FROM alerts WHERE kind='run' AND key='k'").fetchone()
    assert row[0] == "failed"


def test_readers_replies_that_could_not_be_forwarded_are_tried_again(db: Database, tmp_path: Path) -> None:
    from newsletter.readers.feedback import record_feedback
    from newsletter.service.alerts import feedback_alert

    settings = load_settings(admin_email="admin@example.org")
    record_feedback(db, email="ada@example.org", subject="Re: digest", body="please add me back", now=NOW)
    alert = feedback_alert(db, DAY, settings.admin_email)
    assert alert is not None
    assert not Alerter(db, Down(), settings).send(alert, NOW)
    again = feedback_alert(db, DAY, settings.admin_email)
    assert again == alert  # still pending
    outbox = OutboxTransport(tmp_path / "outbox")
    assert Alerter(db, outbox, settings).send(again, NOW)
    assert feedback_alert(db, DAY, settings.admin_email) is None


def test_roster_alert_names_the_rows_and_repeats_once_per_day() -> None:
    assert roster_alert(DAY, []) is None
    problems = ["subscribers.csv line 3, column criteria: 'missing.md' not found"]
    alert = roster_alert(DAY, problems)
    assert alert is not None and alert.kind == "roster"
    assert "1 problem(s) in the subscriber list" in alert.subject
    assert problems[0] in alert.text
    assert roster_alert(DAY, problems) == alert  # same rows, same day: the same alert (sent once)
    later = roster_alert(DAY + dt.timedelta(days=1), problems)
    assert later is not None and later.key != alert.key  # still broken the next day: one reminder
    moved = roster_alert(DAY, [problems[0].replace("line 3", "line 5")])
    assert moved is not None and moved.key == alert.key  # a row added above fixes nothing
    other = roster_alert(DAY, [problems[0].replace("missing.md", "gone.md")])
    assert other is not None and other.key != alert.key


def _admin_mail(site: Path) -> dict[str, str]:
    """The admin's alerts in the outbox: file name → plain text."""
    found = {}
    for path in sorted((site / "var" / "outbox" / DAY.isoformat()).glob("admin@example.org.*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        body = message.get_body(preferencelist=("plain",))
        assert body is not None
        found[path.name] = str(message["Subject"]) + "\n" + body.get_content()
    return found


def test_a_cron_run_alerts_the_admin_once_per_problem_and_sends_the_days_cost_line(
    site: Path, fake_arxiv: FakeArxiv, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = "broken@example.org,,criteria/missing.md,cs.CV,UTC,07:00,"
    readers = write_roster(site, 3, extra_rows=(broken,))
    monkeypatch.setenv("NEWSLETTER_ADMIN_EMAIL", "admin@example.org")
    runner = CliRunner()
    run = ["run", "--date", DAY.isoformat()]
    fake_arxiv.script("feed", Reply.error(404), Reply.error(404))  # e.g. a wrong feed URL, twice

    assert runner.invoke(app, run).exit_code == 1
    first = _admin_mail(site)
    assert list(first) == ["admin@example.org.alert-roster.eml", "admin@example.org.alert-run.eml"]
    assert "missing.md" in first["admin@example.org.alert-roster.eml"]
    assert "The run stopped" in first["admin@example.org.alert-run.eml"]
    assert "HTTP 404" in first["admin@example.org.alert-run.eml"]
    assert runner.invoke(app, run).exit_code == 1  # cron tries again: the same failure
    assert _admin_mail(site) == first  # the same problem is not alerted twice
    db = Database.open(site / "var" / "state.db")
    assert db.read().execute("SELECT COUNT(*) FROM alerts").fetchone()[0] == 2

    result = runner.invoke(app, run)  # the feed answers: the readers are served, the broken row is not
    assert result.exit_code == 1 and "1 roster row(s) not served" in result.output
    mail = _admin_mail(site)
    assert {name: mail[name] for name in first} == first  # the row is still broken: no repeat
    assert set(mail) - set(first) == {"admin@example.org.alert-cost.eml"}
    assert f"{len(readers)} digest(s) served, 0 failure(s)" in mail["admin@example.org.alert-cost.eml"]
    assert "LLM 0 call(s)" in mail["admin@example.org.alert-cost.eml"]

    assert runner.invoke(app, run).exit_code == 1  # nothing due, the row still broken: no new mail
    assert _admin_mail(site) == mail
    assert db.read().execute("SELECT COUNT(*) FROM alerts").fetchone()[0] == 3


def test_a_dry_run_or_a_run_without_an_admin_address_sends_no_alert(
    site: Path, fake_arxiv: FakeArxiv, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_roster(site, 2)
    fake_arxiv.script("feed", Reply.error(404), Reply.error(404))
    runner = CliRunner()
    assert runner.invoke(app, ["run", "--date", DAY.isoformat()]).exit_code == 1  # no address set
    monkeypatch.setenv("NEWSLETTER_ADMIN_EMAIL", "admin@example.org")
    assert runner.invoke(app, ["run", "--date", DAY.isoformat(), "--dry-run"]).exit_code == 1  # a dry run
    assert runner.invoke(app, ["preview", "reader000@example.org", "--date", DAY.isoformat()]).exit_code == 0
    db = Database.open(site / "var" / "state.db")
    assert db.read().execute("SELECT COUNT(*) FROM alerts").fetchone()[0] == 0
    assert _admin_mail(site) == {}


def test_a_cron_run_alerts_failures_and_that_days_unknown_but_never_older_ones(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    readers = write_roster(site, 3)
    monkeypatch.setenv("NEWSLETTER_ADMIN_EMAIL", "admin@example.org")
    real_send = OutboxTransport.send

    def send(self: OutboxTransport, message: OutgoingEmail) -> str:
        if message.to == readers[0]:
            raise PermanentSendError("The to address is not valid (400)")
        return real_send(self, message)

    monkeypatch.setattr(OutboxTransport, "send", send)
    db = Database.open(site / "var" / "state.db")
    month_ago = DAY - dt.timedelta(days=28)  # left `unknown` then, and left alone as the alert said
    delivery_transitions.begin(db, readers[1], month_ago, paper_ids=(), message_id="<x@y>", now=NOW)
    delivery_transitions.mark_unknown(db, readers[1], month_ago, error="interrupted", now=NOW)
    runner = CliRunner()

    assert runner.invoke(app, ["run", "--date", DAY.isoformat()]).exit_code == 1
    mail = _admin_mail(site)
    assert set(mail) == {"admin@example.org.alert-run.eml", "admin@example.org.alert-cost.eml"}
    run_text = mail["admin@example.org.alert-run.eml"]
    assert f"failed: {readers[0]}: The to address is not valid (400)" in run_text
    assert "unknown" not in run_text  # the month-old one is not this day's problem
    assert "2 digest(s) served, 1 failure(s)" in mail["admin@example.org.alert-cost.eml"]
    assert runner.invoke(app, ["run", "--date", DAY.isoformat()]).exit_code == 1  # cron retries
    assert _admin_mail(site) == mail  # the same failure: no second alert


def test_a_days_unknown_digest_is_alerted_and_holds_back_the_cost_line(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    readers = write_roster(site, 2)
    monkeypatch.setenv("NEWSLETTER_ADMIN_EMAIL", "admin@example.org")
    db = Database.open(site / "var" / "state.db")
    delivery_transitions.begin(db, readers[0], DAY, paper_ids=(), message_id="<x@y>", now=NOW)
    delivery_transitions.mark_unknown(db, readers[0], DAY, error="interrupted", now=NOW)

    assert CliRunner().invoke(app, ["run", "--date", DAY.isoformat()]).exit_code == 0
    mail = _admin_mail(site)
    assert list(mail) == ["admin@example.org.alert-run.eml"]
    assert (
        f"unknown (interrupted mid-send, maybe delivered): {readers[0]}"
        in mail["admin@example.org.alert-run.eml"]
    )


def test_a_replies_alert_quotes_the_newest_replies_cut_short(db: Database) -> None:
    from newsletter.readers.feedback import record_feedback
    from newsletter.service.alerts import feedback_alert

    for n in range(22):
        record_feedback(db, email=f"reader{n:02d}@example.org", subject="Re: digest",
                        body=f"reply {n:02d} " + "word " * 100, now=NOW + dt.timedelta(minutes=n))
    record_feedback(db, email="Admin@Example.org", subject="Re: alert", body="my own note", now=NOW)
    alert = feedback_alert(db, DAY, "admin@example.org")
    assert alert is not None
    assert alert.subject == "arXiv Digest: 22 new reply(ies) from readers"
    quoted = alert.lines[1:-1]
    assert [line.split(" at ")[0] for line in quoted] == [f"reader{n:02d}@example.org" for n in range(2, 22)]
    for line in quoted:  # the Re: line and the first 300 characters of the reply
        excerpt = line.split(": ", 1)[1]
        assert len(excerpt) == 300 and excerpt.endswith("…") and excerpt.startswith("Re: digest | reply")
    assert alert.lines[-1] == "… and 2 earlier one(s)"


def test_replies_are_forwarded_even_after_other_alerts_were_sent(db: Database, tmp_path: Path) -> None:
    from newsletter.readers.feedback import record_feedback
    from newsletter.service.alerts import feedback_alert

    alerter = Alerter(db, OutboxTransport(tmp_path / "outbox"), load_settings(admin_email=ADMIN))
    run = run_alert(DAY, {"b@example.org": "HTTP 400"}, [])
    assert run is not None
    assert alerter.send(run, NOW)  # its key starts with the date: "2025-08-28:…"
    assert alerter.send(cost_alert(day_cost(db, DAY)), NOW)  # key "2025-08-28"
    record_feedback(db, email="ada@example.org", subject="Re: digest", body="please add me back", now=NOW)
    replies = feedback_alert(db, DAY, "admin@example.org")
    assert replies is not None and "please add me back" in replies.text
    assert alerter.send(replies, NOW)
    assert feedback_alert(db, DAY, "admin@example.org") is None


def test_each_days_cost_line_is_sent_even_within_one_month(db: Database, tmp_path: Path) -> None:
    alerter = Alerter(db, OutboxTransport(tmp_path / "outbox"), load_settings(admin_email=ADMIN))
    friday = DAY + dt.timedelta(days=1)
    for day in (DAY, friday):
        record = run_log.start_run(db, run_log.RunRecord(kind="run", started_at=NOW, digest_date=day))
        run_log.finish_run(db, replace(record, subscribers_served=2), NOW)
        assert alerter.send(cost_alert(day_cost(db, day)), NOW)
    assert not alerter.send(cost_alert(day_cost(db, friday)), NOW)  # once per day
    assert (tmp_path / "outbox" / "2025-08-29" / "admin@example.org.alert-cost.eml").exists()


def test_a_cron_run_for_some_readers_only_sends_no_cost_line(db: Database, tmp_path: Path) -> None:
    from newsletter.daily.summary import RunSummary
    from newsletter.service.alerter import report_run

    alerter = Alerter(db, OutboxTransport(tmp_path / "outbox"), load_settings(admin_email=ADMIN))
    record = run_log.start_run(db, run_log.RunRecord(kind="run", started_at=NOW, digest_date=DAY))
    run_log.finish_run(db, record, NOW)
    summary = RunSummary(digest_date=DAY, sent=("ada@example.org",))
    report_run(alerter, summary, NOW, whole_day=False)  # `newsletter run --only ada@example.org`
    assert not already_sent(db, "cost", DAY.isoformat())
    report_run(alerter, summary, NOW, whole_day=True)
    assert already_sent(db, "cost", DAY.isoformat())


def _events(db: Database, at: dt.datetime, *raw: tuple[str, str, str | None]) -> None:
    from newsletter.db.events import apply_events, parse_batch

    batch = [{"event": kind, "email": address, "type": bounce_type, "sg_event_id": f"{at:%H%M%S}-{n}"}
             for n, (kind, address, bounce_type) in enumerate(raw)]
    apply_events(db, parse_batch(batch), at)


def test_the_cost_line_adds_sendgrids_bounces_and_spam_reports_since_the_last_one(
    db: Database, tmp_path: Path
) -> None:
    from newsletter.service.alerts import mail_events

    settings = load_settings(admin_email=ADMIN, sendgrid_api_key="SG.x.y", from_email="digest@example.org")
    alerter = Alerter(db, OutboxTransport(tmp_path / "outbox"), settings)
    _events(db, NOW - dt.timedelta(days=2), ("bounce", "old@example.org", "bounce"))  # before the first span
    _events(db, NOW - dt.timedelta(hours=2), ("delivered", "a@example.org", None),
            ("delivered", "b@example.org", None), ("delivered", "c@example.org", None),
            ("bounce", "d@example.org", "bounce"), ("bounce", "e@example.org", "blocked"),
            ("spamreport", "a@example.org", None), ("processed", "a@example.org", None))
    first = cost_alert(day_cost(db, DAY), None, mail_events(db, settings, NOW))
    assert first.lines[0].endswith(
        "; SendGrid since the last cost line: 3 delivered, 2 bounce(s) (1 hard), 1 spam report(s)"
        " (33.33% of delivered; Gmail and Yahoo spam-folder or refuse a sender above 0.3%)")
    assert alerter.send(first, NOW)
    # a late bounce of the first day counts once, on the next line
    _events(db, NOW + dt.timedelta(hours=3), ("bounce", "f@example.org", "bounce"))
    later = NOW + dt.timedelta(days=1)
    second = cost_alert(day_cost(db, DAY + dt.timedelta(days=1)), None, mail_events(db, settings, later))
    assert second.lines[0].endswith("; SendGrid since the last cost line: 0 delivered, 1 bounce(s) (1 hard),"
                                    " 0 spam report(s)")
    # the outbox has no events: no SendGrid figures
    assert mail_events(db, load_settings(admin_email=ADMIN), later) is None


def test_a_missing_monday_suggests_the_fridays_closure_but_a_feed_months_behind_is_called_stuck() -> None:
    monday, friday_feed = dt.date(2026, 12, 7), dt.date(2026, 12, 4)
    closure = expected_day_missing_alert(monday, friday_feed, waited=dt.timedelta(hours=12))
    assert "a closure our calendar lacks" in closure.subject
    assert "add 2026-12-04 to NEWSLETTER_ARXIV_EXTRA_HOLIDAYS" in closure.text

    stuck = expected_day_missing_alert(monday, dt.date(2025, 8, 28), waited=dt.timedelta(hours=12))
    assert stuck.subject == "arXiv Digest: the feed is stuck on 2025-08-28"
    assert "466 days behind" in stuck.text and "NEWSLETTER_ARXIV_FEED_URL" in stuck.text
    assert "EXTRA_HOLIDAYS" not in stuck.text
    assert stuck.key == closure.key  # still one alert per expected day
