"""Everything that can go wrong in a daily run, end to end against the loopback fakes.

Each test drives the real client libraries (arxiv feed over HTTP, litellm, sendgrid) through the
real daily run or the real `newsletter run` command. Waits are made fast by answering with
`Retry-After: 0` / a rate-limit reset of "now", or by sleeping on a fake clock; no test waits for
real backoff.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import functools
import html
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from email import policy
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from newsletter.cli.app import app
from newsletter.daily import cycle
from newsletter.daily.run import run_daily
from newsletter.daily.send import RetryPolicy, deliver_all
from newsletter.daily.summary import RunSummary
from newsletter.daily.wiring import build_adapters
from newsletter.db import Database
from newsletter.db import deliveries as delivery_store
from newsletter.db.papers import load_day
from newsletter.ranking.scoring import LLM_MISSING_NOTE
from newsletter.settings import load_settings
from tests.conftest import DATA
from tests.fakes.arxiv_server import FakeArxiv, Reply
from tests.fakes.llm_server import FakeLLM
from tests.fakes.sendgrid_server import FakeSendGrid

ROOT = Path(__file__).resolve().parents[2]
DAY = dt.date(2025, 8, 28)
NOW = dt.datetime(2025, 8, 28, 11, 0, tzinfo=dt.UTC)  # that morning: the feed shows the day
CRITERIA = ("generation-segmentation-matting.md", "spatial-intelligence-embodied.md",
            "vision-language-seven-topics.md")
CATEGORIES = ("cs.CV", "cs.AI;cs.CV", "cs.CL;cs.CV")


def write_roster(folder: Path, readers: int, *, extra_rows: tuple[str, ...] = ()) -> list[str]:
    """`readers` valid rows over the three real criteria files; returns their addresses."""
    if not (folder / "criteria").exists():
        shutil.copytree(DATA / "criteria", folder / "criteria")
    addresses = [f"reader{n:03d}@example.org" for n in range(readers)]
    rows = [f"{a},Reader {n},criteria/{CRITERIA[n % 3]},\"{CATEGORIES[n % 3]}\",UTC,07:00,"
            for n, a in enumerate(addresses)]
    rows[len(rows) // 2:len(rows) // 2] = list(extra_rows)
    (folder / "subscribers.csv").write_text(
        "email,name,criteria,categories,timezone,send_at,authors\n" + "\n".join(rows) + "\n",
        encoding="utf-8")
    return addresses


@pytest.fixture
def site(tmp_path: Path, fake_arxiv: FakeArxiv, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, value in {
        "NEWSLETTER_SUBSCRIBERS": str(tmp_path / "subscribers.csv"),
        "NEWSLETTER_ARXIV_FEED_URL": fake_arxiv.feed_url,
        "NEWSLETTER_ARXIV_API_URL": fake_arxiv.api_url,
        "NEWSLETTER_PUBLIC_URL": "https://digest.example.org",
        "NEWSLETTER_REPLY_DOMAIN": "reply.example.org",
        "NEWSLETTER_FROM_EMAIL": "digest@example.org",
        "NEWSLETTER_SEND_EMPTY": "true",  # every reader gets exactly one email a day
        "NEWSLETTER_HTTP_TIMEOUT": "5",
    }.items():
        monkeypatch.setenv(name, value)
    return tmp_path


def use_fake_llm(monkeypatch: pytest.MonkeyPatch, fake_llm: FakeLLM, **settings: str) -> None:
    """Point the LLM settings at the fake LLM, plus `NEWSLETTER_<NAME>` for each of `settings`."""
    env = {"LLM_MODEL": fake_llm.model, "LLM_API_BASE": fake_llm.api_base, "LLM_API_KEY": "sk-fake",
           **settings}
    for name, value in env.items():
        monkeypatch.setenv(f"NEWSLETTER_{name}", value)


def daily(**replace: object) -> tuple[RunSummary, Database]:
    """One in-process `run_daily` for DAY with the real adapters from the settings."""
    settings = load_settings()
    db = Database.open(settings.db_path)
    adapters = build_adapters(settings, db, DAY)
    if replace:
        adapters = dataclasses.replace(adapters, **replace)  # type: ignore[arg-type]
    return run_daily(now=NOW, settings=settings, db=db, adapters=adapters, date=DAY), db


def statuses(db: Database) -> dict[str, str]:
    return {a: d.status for a, d in delivery_store.for_date(db, DAY).items()}


# --- (1) the process is killed in the middle of delivery --------------------------------------


def newsletter_run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "newsletter", "run", "--date", DAY.isoformat(), *args],
                          env=env, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_sigkill_mid_delivery_never_sends_twice_and_reports_the_interrupted(
    site: Path, fake_sendgrid: FakeSendGrid
) -> None:
    readers = write_roster(site, 24)
    fake_sendgrid.latency = 0.25  # slow enough that sends are in flight when the kill comes
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SENDGRID_", "OPENAI_"))}
    env.update(SENDGRID_API_KEY=fake_sendgrid.api_key, NEWSLETTER_SENDGRID_HOST=fake_sendgrid.url,
               NEWSLETTER_SEND_CONCURRENCY="4", PYTHONPATH=str(ROOT))

    process = subprocess.Popen([sys.executable, "-m", "newsletter", "run", "--date", DAY.isoformat()],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    # Kill once some mails are through and others are being answered: their rows are `sending`.
    while not (len(fake_sendgrid.accepted) >= 5 and fake_sendgrid.in_flight >= 1):
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, "the run never got to sending"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    while fake_sendgrid.in_flight:  # what was on the wire is answered (and taken) by SendGrid
        time.sleep(0.01)
    first = {a: fake_sendgrid.sent_to(a) for a in readers}
    db = Database.open(site / "var" / "state.db")
    in_the_air = {a for a, s in statuses(db).items() if s == "sending"}
    assert in_the_air, "the kill should have caught some sends in flight"
    assert 0 < sum(first.values()) < len(readers)

    second = newsletter_run(env)

    assert second.returncode != 0, second.stdout
    for address in in_the_air:
        assert f"unknown: {address} (interrupted mid-send; not resent)" in second.stdout
    assert "interrupted earlier are now 'unknown'" in second.stderr
    now = {a: fake_sendgrid.sent_to(a) for a in readers}
    assert max(now.values()) == 1, "somebody got a second digest for the day"
    # Nobody silently skipped: whoever has no mail is one of the reported `unknown` (a send cut
    # off before SendGrid had the whole request).
    assert {a for a, n in now.items() if n == 0} <= in_the_air
    after = statuses(db)
    assert {a for a, s in after.items() if s == "unknown"} == in_the_air
    assert set(after) == set(readers)
    assert {after[a] for a in set(readers) - in_the_air} == {"sent"}

    third = newsletter_run(env)  # without --resend-unknown: nobody twice, nothing resent
    assert third.returncode == 0, third.stdout + third.stderr
    assert {a: fake_sendgrid.sent_to(a) for a in readers} == now

    resend = newsletter_run(env, "--resend-unknown")

    assert resend.returncode == 0, resend.stdout + resend.stderr
    final = {a: fake_sendgrid.sent_to(a) for a in readers}
    assert {a for a in readers if final[a] != now[a]} == in_the_air  # exactly those ...
    assert all(final[a] == now[a] + 1 for a in in_the_air)  # ... once each
    assert set(statuses(db).values()) == {"sent"}


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_sigkill_mid_scoring_keeps_what_the_llm_was_paid_for_and_the_rerun_asks_only_the_rest(
    site: Path, fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_roster(site, 3)
    use_fake_llm(monkeypatch, fake_llm, LLM_MODEL="openai/gpt-4o-mini")  # a model litellm prices
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SENDGRID_", "OPENAI_"))}
    env.update(PYTHONPATH=str(ROOT))
    release, lock = threading.Event(), threading.Lock()
    paid_for: set[tuple[str, str]] = set()  # the papers of the five calls that are answered
    served = [0]

    def asked(*requests: dict[str, Any]) -> set[tuple[str, str]]:
        """(criteria, paper id) of every paper in these requests."""
        return {(str(body["messages"][0]["content"]), paper_id) for body in requests
                for paper_id in re.findall(r'<paper id="([^"]*)">', str(body["messages"][1]["content"]))}

    def five_then_hang(body: dict[str, Any]) -> tuple[int, dict[str, str], dict[str, Any]]:
        with lock:
            hang = served[0] >= 5
            if not hang:
                served[0] += 1
                paid_for.update(asked(body))
        if hang:  # the process is killed while these wait
            release.wait(60)
        return 200, {}, fake_llm._completion(body, json.dumps(fake_llm.oracle_answer(body)))

    fake_llm.script(*[five_then_hang] * 500)
    process = subprocess.Popen([sys.executable, "-m", "newsletter", "run", "--date", DAY.isoformat()],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db, deadline = None, time.monotonic() + 60
    try:
        # Wait until the five answers are stored and metered while the others hang, then kill.
        while True:
            assert process.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "the five answers were never stored"
            if len(fake_llm.answers) == 5:  # the run made its database long before
                db = db or Database.open(site / "var" / "state.db")
                metered = db.read().execute("SELECT SUM(llm_calls), SUM(cost_usd) FROM runs").fetchone()
                cached = db.read().execute("SELECT COUNT(*) FROM scores").fetchone()[0]
                if metered[0] == 5 and cached == len(paid_for):
                    break
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        release.set()
        if process.poll() is None:
            process.kill()
    first, spent = list(fake_llm.requests), float(metered[1])
    assert spent > 0  # the daily budget's meter (`spend_on`) counts the killed run's spend

    second = newsletter_run(env)

    assert second.returncode == 0, second.stdout + second.stderr
    again = asked(*fake_llm.requests[len(first):])
    assert again and not (again & paid_for), "the re-run asked the LLM again about papers it had paid for"
    runs = db.read().execute("SELECT status, llm_calls, cost_usd FROM runs ORDER BY id").fetchall()
    # the re-run found the killed row still `running` and closed it; its spend stands
    assert (runs[0]["status"], runs[0]["llm_calls"], runs[0]["cost_usd"]) == ("killed", 5, spent)
    assert runs[1]["status"] == "ok" and runs[1]["llm_calls"] == len(fake_llm.requests) - len(first)


# --- (2) arXiv answers 503 three times, then 200 -----------------------------------------------


def test_arxiv_503_three_times_then_200_delivers_the_day(site: Path, fake_arxiv: FakeArxiv) -> None:
    readers = write_roster(site, 6)
    fake_arxiv.script("feed", *[Reply.error(503)] * 3)
    source = fake_arxiv.source()  # backs off for real, on a fake clock

    summary, db = daily(source=source)

    assert summary.exit_code == 0, summary.reason
    assert [r.target for r in fake_arxiv.requests] == ["feed"] * 4
    waits = [s for s in fake_arxiv.clock.sleeps if s > 0]
    assert len(waits) == 3 and waits == sorted(waits)  # backed off, longer each time
    assert summary.papers > 100
    assert sorted(summary.sent) == readers
    assert set(statuses(db).values()) == {"sent"}


def test_arxiv_down_for_good_fails_the_run_clearly_and_a_later_run_recovers(
    site: Path, fake_arxiv: FakeArxiv
) -> None:
    readers = write_roster(site, 3)
    fake_arxiv.script("feed", *[Reply.error(503)] * 4)  # every attempt the policy allows

    summary, db = daily(source=fake_arxiv.source())

    assert summary.exit_code != 0
    assert summary.fatal and "503" in summary.fatal
    assert statuses(db) == {}  # nothing claimed, nothing half-done
    summary, db = daily(source=fake_arxiv.source())
    assert summary.exit_code == 0, summary.reason
    assert sorted(summary.sent) == readers


# --- (3) the LLM answers garbage 30% and 429 10% of the time ------------------------------------


def _oracle_by_paper(fake_llm: FakeLLM) -> dict[tuple[str, str], int]:
    """(criteria, arXiv id) → the relevance the oracle gives, from what the fake was asked."""
    expected = {}
    pattern = re.compile(r"<criteria>(.*?)</criteria>", re.S)
    for body in fake_llm.requests:
        text = "\n".join(str(m.get("content", "")) for m in body["messages"])
        match = pattern.search(text)
        criteria = html.unescape(match.group(1)) if match else ""
        for paper_id, raw in re.findall(r'<paper id="([^"]*)">(.*?)</paper>', text, re.S):
            expected[(criteria.strip(), paper_id)] = FakeLLM.oracle_relevance(criteria, html.unescape(raw))
    return expected


def _entries(markdown: str) -> list[dict[str, str]]:
    """The papers of a Markdown digest: id, relevance and comment of each."""
    found = []
    for block in markdown.split("**ArXiv ID:** ")[1:]:
        found.append({"id": block.split()[0],
                      "relevance": block.split("**Relevance:** ")[1].split()[0],
                      "comment": block.split("**Comment:** ")[1].split("\n")[0]})
    return found


@pytest.mark.timeout(60)
@pytest.mark.slow
def test_llm_garbage_and_rate_limits_every_paper_scored_or_marked_local(
    site: Path, fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    readers = write_roster(site, 3)
    # every paper into the digest, so the digest shows how each was ranked
    use_fake_llm(monkeypatch, fake_llm, MIN_RELEVANCE="1", MAX_PAPERS="500")
    rng, lock = random.Random(7), threading.Lock()
    served: dict[str, int] = {"garbage": 0, "429": 0, "oracle": 0}
    poison: list[str] = []  # one paper the LLM never answers sensibly about

    def flaky(body: dict[str, Any]) -> tuple[int, dict[str, str], dict[str, Any]]:
        asked = re.findall(r'<paper id="([^"]*)">', str(body["messages"]))
        with lock:
            poison[:] = poison or asked[:1]
            kind = ("garbage" if poison[0] in asked
                    else rng.choices(["garbage", "429", "oracle"], weights=[30, 10, 60])[0])
            served[kind] += 1
        if kind == "429":
            return 429, {"Retry-After": "0"}, {"error": {"message": "slow down", "code": "429"}}
        answer = fake_llm.oracle_answer(body)
        content = "Sure! relevance 8, {oops" if kind == "garbage" else json.dumps(answer)
        return 200, {}, fake_llm._completion(body, content)

    fake_llm.script(*[flaky] * 3000)

    summary, db = daily()

    assert summary.exit_code == 0, summary.reason
    assert served["garbage"] > 10 and served["429"] > 3  # the faults did happen
    expected = _oracle_by_paper(fake_llm)
    asked = {pid for _, pid in expected}
    papers = {p.arxiv_id: p for p in load_day(db, DAY, ["cs.AI", "cs.CL", "cs.CV"]).papers}  # type: ignore[union-attr]
    outbox = site / "var" / "outbox" / DAY.isoformat()
    marked = set()
    for number, reader in enumerate(readers):
        criteria = (DATA / "criteria" / CRITERIA[number % 3]).read_text().strip()
        wanted = set(CATEGORIES[number % 3].split(";"))
        message = email.message_from_bytes((outbox / f"{reader}.eml").read_bytes(), policy=policy.default)
        text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")  # type: ignore[union-attr]
        entries = _entries(text)
        # Every paper of the reader's categories is in the digest, once: none was lost.
        assert sorted(e["id"] for e in entries) == sorted(
            i for i, p in papers.items() if wanted & set(p.categories))
        for entry in entries:
            if entry["comment"].startswith("Matches: "):  # the LLM's own verdict, exactly
                assert int(entry["relevance"]) == expected[(criteria, entry["id"])], entry
            else:  # and otherwise the digest says it was ranked locally
                assert "ranked locally" in entry["comment"], entry
            if LLM_MISSING_NOTE in entry["comment"]:
                marked.add(entry["id"])
    assert poison[0] in marked  # asked, never answered: marked as such
    assert marked <= asked  # only papers the LLM was asked about carry the note
    # The score cache holds only what the LLM really answered, never a guess from garbage.
    stored = db.read().execute("SELECT arxiv_id, relevance FROM scores").fetchall()
    assert len(stored) == sum(c["llm_scored"] for c in summary.usage_by_criteria.values()) > 0
    assert poison[0] not in {row["arxiv_id"] for row in stored}
    for row in stored:
        assert row["relevance"] in {rel for (_, pid), rel in expected.items() if pid == row["arxiv_id"]}
    assert summary.usage.calls == served["garbage"] + served["oracle"]  # every answer accounted

# --- (4) SendGrid answers 429 in bursts and 500 at random ---------------------------------------


@pytest.mark.timeout(60)
def test_sendgrid_429_bursts_and_random_500_every_digest_sent_or_failed_with_reason(
    site: Path, fake_sendgrid: FakeSendGrid, monkeypatch: pytest.MonkeyPatch
) -> None:
    readers = write_roster(site, 30)
    monkeypatch.setenv("SENDGRID_API_KEY", fake_sendgrid.api_key)
    monkeypatch.setenv("NEWSLETTER_SENDGRID_HOST", fake_sendgrid.url)
    fake_sendgrid.reset_in = 2  # the rate-limit window resets 2 s after each 429
    rng = random.Random(11)
    steps: list[str] = []
    while len(steps) < 200:
        if rng.random() < 0.15:
            steps += ["429"] * rng.randint(3, 8)  # a burst
        else:
            steps.append("500" if rng.random() < 0.25 else "202")
    fake_sendgrid.script(*steps)
    waits: list[float] = []
    lock = threading.Lock()

    def sleep(seconds: float) -> None:  # the policy's waits, recorded instead of slept
        with lock:
            waits.append(seconds)

    fast = functools.partial(deliver_all, policy=RetryPolicy(rng=random.Random(3)), sleep=sleep)
    monkeypatch.setattr(cycle, "deliver_all", fast)

    summary, db = daily()

    rows = delivery_store.for_date(db, DAY)
    assert set(rows) == set(readers)
    assert {r.status for r in rows.values()} <= {"sent", "failed"}
    for address, row in rows.items():
        if row.status == "sent":
            assert fake_sendgrid.sent_to(address) == 1
            assert address in summary.sent
        else:
            assert fake_sendgrid.sent_to(address) == 0
            assert row.error and ("HTTP 429" in row.error or "HTTP 500" in row.error), row.error
            assert summary.failed[address] == row.error
    assert len(summary.sent) + len(summary.failed) == len(readers)
    assert summary.exit_code == (1 if summary.failed else 0)
    assert any(w >= 1.0 for w in waits), "429s must wait for the rate-limit reset"
    refusals = sum(1 for r in fake_sendgrid.requests if r.status in (429, 500))
    assert len(waits) == refusals - len(summary.failed)  # a wait before every retry, none after the last

    # Once SendGrid is healthy again, a later run retries exactly the failed ones, once each.
    # (The steps the first run did not play depend on thread timing, so they are dropped.)
    failed = set(summary.failed)
    fake_sendgrid.clear_script()
    again, db = daily()
    assert set(again.sent) == failed
    assert all(fake_sendgrid.sent_to(a) == 1 for a in readers)
    assert set(statuses(db).values()) == {"sent"}


# --- (5) one broken roster row among many valid ones -------------------------------------------


def test_one_broken_roster_row_is_named_and_the_others_are_served(site: Path) -> None:
    broken = "broken@example.org,,criteria/missing.md,cs.CV,Mars/Olympus,07:00,"
    readers = write_roster(site, 20, extra_rows=(broken,))
    runner = CliRunner()

    result = runner.invoke(app, ["run", "--date", DAY.isoformat()], env={"COLUMNS": "200"})

    assert result.exit_code != 0
    output = result.output
    line = 2 + 10  # header is line 1; the broken row sits after the first ten readers
    roster_lines = [x for x in output.splitlines() if x.strip().startswith("roster:")]
    assert roster_lines and all(f"line {line}" in x for x in roster_lines), output
    assert "missing.md" in output and "Mars/Olympus" in output
    assert "1 roster row(s) not served" in output
    outbox = site / "var" / "outbox" / DAY.isoformat()
    assert sorted(p.stem for p in outbox.glob("*.eml")) == readers
    db = Database.open(site / "var" / "state.db")
    assert set(statuses(db)) == set(readers)

    # Fixed by hand: the next run serves that row alone.
    csv = site / "subscribers.csv"
    csv.write_text(csv.read_text().replace("criteria/missing.md", f"criteria/{CRITERIA[0]}")
                   .replace("Mars/Olympus", "Europe/Paris"))
    result = runner.invoke(app, ["run", "--date", DAY.isoformat()], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert sorted(p.stem for p in outbox.glob("*.eml")) == sorted([*readers, "broken@example.org"])
    assert statuses(db)["broken@example.org"] == "sent"


# --- many criteria at once: the LLM concurrency setting bounds them all together ---------------


@pytest.mark.slow
def test_scoring_many_criteria_at_once_keeps_llm_calls_within_the_concurrency_setting(
    site: Path, fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_roster(site, 3)
    use_fake_llm(monkeypatch, fake_llm, LLM_CONCURRENCY="3")
    state, changed = {"now": 0, "peak": 0}, threading.Condition()

    def counted(body: dict[str, Any]) -> tuple[int, dict[str, str], dict[str, Any]]:
        with changed:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
            changed.notify_all()
            # Hold each call until three are in flight (or a moment passes), so calls overlap
            # as far as the bound lets them.
            changed.wait_for(lambda: state["now"] >= 3, timeout=0.2)
            changed.wait(0.02)
        try:
            return 200, {}, fake_llm._completion(body, json.dumps(fake_llm.oracle_answer(body)))
        finally:
            with changed:
                state["now"] -= 1

    fake_llm.script(*[counted] * 500)

    summary, _ = daily()

    assert summary.exit_code == 0, summary.reason
    assert len(summary.usage_by_criteria) == 3 and summary.usage.calls > 9
    # Three criteria are scored at once (one per worker), each with several batches: one bound
    # for all of them, not three per criteria.
    assert state["peak"] == 3
