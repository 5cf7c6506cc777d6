"""`newsletter check` against the loopback fakes: everything answers, then everything is broken."""

from __future__ import annotations

import datetime as dt
import io
import os
import re
from pathlib import Path

import pytest
from rich.console import Console

from newsletter.cli.checks import collect, run_checks
from newsletter.fetch.calendar import KNOWN_HOLIDAYS
from newsletter.settings import load_settings
from tests.conftest import make_site
from tests.fakes.arxiv_server import FakeArxiv, Reply
from tests.fakes.dns_server import FakeDNS
from tests.fakes.llm_server import FakeLLM
from tests.fakes.sendgrid_server import FakeSendGrid

NOW = dt.datetime(2025, 8, 28, 6, 0, tzinfo=dt.UTC)


@pytest.fixture
def site(tmp_path: Path, fake_arxiv: FakeArxiv, fake_dns: FakeDNS, monkeypatch: pytest.MonkeyPatch) -> Path:
    rows = ["ada@example.org,criteria/generation-segmentation-matting.md,cs.CV,Europe/Berlin",
            "alan@example.org,criteria/vision-language-seven-topics.md,cs.AI;cs.CV,Asia/Tokyo"]
    return make_site(tmp_path, monkeypatch, rows, header="email,criteria,categories,timezone",
                     ARXIV_FEED_URL=fake_arxiv.feed_url, ARXIV_API_URL=fake_arxiv.api_url,
                     PUBLIC_URL="https://digest.example.org", FROM_EMAIL="digest@example.org",
                     WEBHOOK_USERNAME="sendgrid", WEBHOOK_PASSWORD="a-long-secret",
                     ADMIN_EMAIL="admin@example.org", HTTP_TIMEOUT="5",
                     REPLY_DOMAIN="reply.example.org", DNS_SERVER=fake_dns.address)


def check(**overrides: object) -> tuple[int, str]:
    buffer = io.StringIO()
    code = run_checks(load_settings(**overrides), Console(file=buffer, width=250), now=NOW)
    return code, buffer.getvalue()


def test_all_checks_pass_and_nothing_is_sent(
    site: Path, fake_llm: FakeLLM, fake_sendgrid: FakeSendGrid
) -> None:
    code, output = check(llm_model=fake_llm.model, llm_api_base=fake_llm.api_base, llm_api_key="sk-fake",
                         sendgrid_api_key=fake_sendgrid.api_key, sendgrid_host=fake_sendgrid.url)
    assert code == 0, output
    checks = {c.name: c for c in collect(load_settings(), NOW, network=False)}
    assert set(checks) == {"settings", "roster", "criteria", "templates", "database", "outbox",
                           "arXiv calendar", "LLM cut"}
    for name in ("settings", "roster", "criteria", "templates", "database", "arXiv calendar", "LLM cut",
                 "arXiv feed", "arXiv API", "LLM", "SendGrid", "SPF example.org", "DKIM example.org",
                 "DMARC example.org", "MX reply.example.org"):
        row = next(line for line in output.splitlines() if re.match(rf"│ {re.escape(name)} +│", line))
        assert " ok " in row, row
    assert "2 subscriber(s)" in output
    assert "dated 2025-08-28" in output
    assert len(fake_llm.requests) == 1  # one tiny request
    assert fake_llm.requests[0]["max_tokens"] == 5
    assert [r.status for r in fake_sendgrid.requests] == [200]  # sandbox mode
    assert fake_sendgrid.accepted == []
    assert "all checks passed" in output


def test_an_outbox_that_cannot_take_a_file_fails_the_check(site: Path) -> None:
    settings = load_settings()
    fresh = {c.name: c for c in collect(settings, NOW, network=False)}["outbox"]
    assert fresh.status == "ok" and not settings.outbox_dir.exists()  # checked, not created
    settings.outbox_dir.parent.mkdir(parents=True, exist_ok=True)
    settings.outbox_dir.write_text("a file where the outbox folder should be")
    checks = {c.name: c for c in collect(settings, NOW, network=False)}
    assert checks["outbox"].status == "fail"
    assert "NEWSLETTER_DATA_DIR" in checks["outbox"].detail and "outbox" in checks["outbox"].detail


def test_a_failing_arxiv_api_is_named(site: Path, fake_arxiv: FakeArxiv) -> None:
    fake_arxiv.script("api", Reply.error(404))
    code, output = check()
    assert code == 1
    row = next(line for line in output.splitlines() if line.startswith("│ arXiv API"))
    assert " fail " in row and "NEWSLETTER_ARXIV_API_URL" in row and "404" in row
    assert [r.target for r in fake_arxiv.requests] == ["feed", "api"]


def test_a_saved_feed_file_asks_no_api(site: Path, fake_arxiv: FakeArxiv, tmp_path: Path) -> None:
    """The Quickstart's feed is a folder of saved files: `check` must not reach for the network."""
    folder = Path(__file__).resolve().parents[2] / "examples" / "arxiv"
    _, output = check(arxiv_feed_url=str(folder))
    rows = {line.split("│")[1].strip(): line for line in output.splitlines() if line.startswith("│ arXiv")}
    assert " skip " in rows["arXiv API"] and "local file" in rows["arXiv API"]
    assert " fail " not in rows["arXiv feed"]
    assert fake_arxiv.requests == []


def test_a_feed_folder_lacking_a_readers_category_is_a_warning(site: Path, fake_arxiv: FakeArxiv) -> None:
    """The readers it covers are served (the run names the others): a warning, not a failure."""
    folder = Path(__file__).resolve().parents[2] / "examples" / "arxiv"
    roster = site / "subscribers.csv"
    lin = "lin@example.org,criteria/vision-language-seven-topics.md,cs.LG,UTC\n"
    roster.write_text(roster.read_text() + lin)
    _, output = check(arxiv_feed_url=str(folder))
    row = next(line for line in output.splitlines() if line.startswith("│ arXiv feed"))
    assert " warn " in row and "cs.AI+cs.CV: dated 2025-08-28" in row
    assert ("it holds no cs.LG: readers with it are not served (lin@example.org): their digests"
            " fail until a file holds it") in " ".join(output.split())


def test_a_feed_folder_lacking_a_category_names_three_readers_then_counts(
    site: Path, fake_arxiv: FakeArxiv
) -> None:
    """The admin learns whom to fix without a wall of addresses: three named, the rest counted."""
    folder = Path(__file__).resolve().parents[2] / "examples" / "arxiv"
    roster = site / "subscribers.csv"
    rows = "".join(f"r{i}@example.org,criteria/vision-language-seven-topics.md,cs.CV;cs.LG,UTC\n"
                   for i in range(5))
    roster.write_text(roster.read_text() + rows)
    _, output = check(arxiv_feed_url=str(folder))
    assert ("(r0@example.org, r1@example.org, r2@example.org and 2 more)"
            in " ".join(output.split()))


def test_every_problem_is_named_and_the_exit_code_is_1(
    site: Path, fake_arxiv: FakeArxiv, fake_llm: FakeLLM, fake_sendgrid: FakeSendGrid
) -> None:
    (site / "subscribers.csv").write_text(
        "email,criteria,timezone\n"
        "ada@example.org,criteria/missing.md,Europe/Berlin\n"
        "bob@example.org,criteria/vision-language-seven-topics.md,Mars/Olympus\n")
    fake_arxiv.script("feed", Reply.error(503))
    fake_llm.script("401")
    code, output = check(llm_model=fake_llm.model, llm_api_base=fake_llm.api_base, llm_api_key="sk-wrong",
                         sendgrid_api_key="SG.wrong-key.for-tests", sendgrid_host=fake_sendgrid.url)
    assert code == 1
    flat = " ".join(output.split())
    assert "line 3, column timezone: 'Mars/Olympus' is not an IANA time zone" in flat
    assert "criteria file not found" in flat
    assert "503" in flat
    assert "AuthenticationError" in flat
    assert "check NEWSLETTER_LLM_API_KEY (the provider refused it)" in flat  # our setting, not litellm's
    assert "SendGrid sandbox check failed" in flat
    assert "SG.wrong-key" not in output  # never the key
    assert "5 check(s) failed: roster, criteria, arXiv feed, LLM, SendGrid" in flat


def test_a_missing_criteria_file_is_counted_on_the_roster_row_too(site: Path) -> None:
    roster = site / "subscribers.csv"
    roster.write_text(roster.read_text() + "eve@example.org,criteria/missing.md,cs.CV,Europe/Berlin\n")
    checks = {c.name: c for c in collect(load_settings(), NOW, network=False)}
    assert checks["criteria"].status == "fail"
    assert checks["roster"].detail.endswith("; 1 row(s) not served (see criteria)")


def test_a_missing_roster_and_a_broken_database_fail(site: Path) -> None:
    (site / "subscribers.csv").unlink()
    (site / "var").mkdir()
    (site / "var" / "state.db").write_bytes(b"this is not a database" * 100)
    code, output = check(llm_model="", sendgrid_api_key="")
    assert code == 1
    flat = " ".join(output.split())
    assert "roster not found" in flat
    assert "state.db" in flat
    assert "2 check(s) failed: roster, database" in flat
    assert "NEWSLETTER_LLM_MODEL unset" in flat


def test_settings_warn_about_plain_http_and_missing_webhook_auth(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NEWSLETTER_WEBHOOK_PASSWORD")
    checks = {c.name: c for c in collect(load_settings(public_url="http://digest.example.org"), NOW,
                                         network=False)}
    assert checks["settings"].status == "warn"
    assert "not HTTPS" in checks["settings"].detail
    assert "POST /inbound refuses all replies" in checks["settings"].detail
    bad = collect(load_settings(sendgrid_api_key="SG.x.y", from_email="digest@localhost"), NOW, network=False)
    assert bad[0].status == "fail"
    assert "NEWSLETTER_FROM_EMAIL" in bad[0].detail


def test_a_passing_check_with_warnings_names_them_in_its_last_line(site: Path) -> None:
    """The closing line is what an admin reads: "all checks passed" must not hide the warnings."""
    buffer = io.StringIO()
    settings = load_settings(public_url="http://digest.example.org")
    code = run_checks(settings, Console(file=buffer, width=250), now=NOW, network=False)
    last = buffer.getvalue().strip().splitlines()[-1]
    assert code == 0
    assert re.fullmatch(r"all checks passed, \d+ with a warning: .*settings.*", last), last


def test_sign_up_on_needs_a_roster_the_service_can_write(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A roster the service cannot write would fail every confirmed sign-up: check says so first."""
    assert "sign-up" not in {c.name for c in collect(load_settings(), NOW, network=False)}  # off
    fine = {c.name: c for c in collect(load_settings(signup="open"), NOW, network=False)}["sign-up"]
    assert fine.status == "ok" and "/signup" in fine.detail
    roster = load_settings().subscribers.resolve()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != roster and real_access(path, mode))
    stuck = {c.name: c for c in collect(load_settings(signup="approve"), NOW, network=False)}["sign-up"]
    assert stuck.status == "fail" and str(roster) in stuck.detail and "cannot write" in stuck.detail


def test_the_calendar_warns_when_next_years_holidays_are_missing(site: Path) -> None:
    last = max(KNOWN_HOLIDAYS).year
    december = dt.datetime(last, 12, 2, 12, 0, tzinfo=dt.UTC)
    calendar = {c.name: c for c in collect(load_settings(), december, network=False)}["arXiv calendar"]
    assert calendar.status == "warn"
    assert f"no arXiv holidays known for {last + 1}" in calendar.detail
    assert "NEWSLETTER_ARXIV_EXTRA_HOLIDAYS" in calendar.detail
    extended = load_settings(arxiv_extra_holidays=f"{last + 1}-01-01,{last + 1}-07-05")
    calendar = {c.name: c for c in collect(extended, december, network=False)}["arXiv calendar"]
    assert (calendar.status, calendar.detail) == ("ok", f"holidays known up to {last + 1}-07-05")


def test_an_llm_error_that_echoes_the_key_does_not_show_it(site: Path, fake_llm: FakeLLM) -> None:
    key = "not-shaped-like-any-known-key-42"
    fake_llm.script(lambda body: (401, {}, {"error": {"message": f"invalid key: Bearer {key}"}}))
    code, output = check(llm_model=fake_llm.model, llm_api_base=fake_llm.api_base, llm_api_key=key,
                         sendgrid_api_key="")
    assert code == 1
    assert "invalid key: Bearer ***" in " ".join(output.split())
    assert key not in output


def test_a_feed_still_showing_an_older_day_is_a_warning(site: Path, fake_arxiv: FakeArxiv) -> None:
    from newsletter.cli.remote_checks import check_arxiv

    fake_arxiv.serve_feed(dt.date(2025, 8, 27))  # 06:00 UTC on the 28th: the feed should show the 28th
    feed = check_arxiv(load_settings(), None, NOW)[0]
    assert feed.status == "warn"
    assert "dated 2025-08-27" in feed.detail
    assert "the announcement of 2025-08-28 is not there yet" in feed.detail


def test_missing_mail_records_fail_the_check_and_say_what_to_publish(
    site: Path, fake_dns: FakeDNS, fake_sendgrid: FakeSendGrid
) -> None:
    fake_dns.records.clear()
    fake_dns.set("example.org", "A", ["192.0.2.1"])
    code, output = check(llm_model="", sendgrid_api_key=fake_sendgrid.api_key,
                         sendgrid_host=fake_sendgrid.url)
    assert code == 1
    assert "DKIM example.org" in output and "MX reply.example.org" in output
    assert "publish reply.example.org. MX 10 mx.sendgrid.net." in " ".join(output.split())
    assert "check(s) failed: DKIM example.org, MX reply.example.org" in output


def test_dns_is_asked_only_with_sendgrid_and_only_online(site: Path, fake_dns: FakeDNS) -> None:
    _, output = check(llm_model="", sendgrid_api_key="")
    assert re.search(r"│ DNS +│ skip +│ SENDGRID_API_KEY unset", output)
    names = {c.name for c in collect(load_settings(sendgrid_api_key="SG.x.y"), NOW, network=False)}
    assert not any(name.startswith(("SPF", "DKIM", "DMARC", "MX")) for name in names)
    assert fake_dns.queries == []


def test_a_dns_timeout_is_a_warning_not_a_failure(
    site: Path, fake_dns: FakeDNS, fake_sendgrid: FakeSendGrid
) -> None:
    fake_dns.fail["example.org"] = "timeout"
    settings = load_settings(llm_model="", sendgrid_api_key=fake_sendgrid.api_key,
                             sendgrid_host=fake_sendgrid.url, http_timeout=0.3)
    rows = {c.name: c for c in collect(settings, NOW)}
    assert rows["MX reply.example.org"].status == "warn"
    assert rows["MX reply.example.org"].detail == "not checked: the DNS resolver did not answer within 0.3 s"
