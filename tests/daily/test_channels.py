"""Channels end to end: `newsletter run` with the real arXiv client against its fake, the local
ranker (or the fake LLM), the outbox for the readers and the real apprise posting to the fake chat
webhooks. Once per channel and day, crash-safe, retried on 429/5xx, scored with the readers."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter.channels.file import channels_path, load_channels
from newsletter.channels.transport import AppriseChannelPoster
from newsletter.cli.app import app
from newsletter.daily.channels import ChannelReport, serve_channels
from newsletter.daily.send import RetryPolicy
from newsletter.daily.wiring import build_adapters
from newsletter.db import Database
from newsletter.db import channel_deliveries as channel_store
from newsletter.db import deliveries as delivery_store
from newsletter.settings import load_settings
from tests.conftest import make_site
from tests.fakes.arxiv_server import FakeArxiv
from tests.fakes.chat_server import FakeChat
from tests.fakes.llm_server import FakeLLM

runner = CliRunner()
DAY = "2025-08-28"
DATE = dt.date(2025, 8, 28)
SLACK = "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7"
MATTING = "criteria/generation-segmentation-matting.md"
READERS = [
    ("ada@example.org", MATTING, "cs.CV"),
    ("grace@example.org", "criteria/spatial-intelligence-embodied.md", "cs.AI;cs.CV"),
    ("alan@example.org", MATTING, "cs.CV"),
]
FAST = RetryPolicy(backoff_base=0.001, backoff_cap=0.01, max_rate_limit_wait=0.01)


@pytest.fixture
def site(
    tmp_path: Path, fake_arxiv: FakeArxiv, aim_apprise: FakeChat, monkeypatch: pytest.MonkeyPatch
) -> Path:
    rows = [f"{a},,{c},{cats},UTC,07:00," for a, c, cats in READERS]
    make_site(tmp_path, monkeypatch, rows, ARXIV_FEED_URL=fake_arxiv.feed_url,
              ARXIV_API_URL=fake_arxiv.api_url,
              PUBLIC_URL="https://digest.example.org", REPLY_DOMAIN="reply.example.org",
              FROM_EMAIL="digest@example.org", MIN_RELEVANCE="1")
    hook = aim_apprise.url.replace("http://", "json://")
    write_channels(tmp_path, f"vision,{hook}/vision,{MATTING},cs.CV,UTC,07:00,10",
                   f"spatial,{SLACK},criteria/spatial-intelligence-embodied.md,cs.AI;cs.CV,,,",
                   f"lab,{hook}/lab,*,,,,5")
    return tmp_path


def write_channels(folder: Path, *rows: str) -> None:
    (folder / "channels.csv").write_text("name,url,criteria,categories,timezone,send_at,max_papers\n"
                                         + "\n".join(rows) + "\n")


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["run", *args], env={"COLUMNS": "200"})
    return result.exit_code, result.output


def posts(fake: FakeChat, part: str) -> list[str]:
    return [str(r.body.get("message") or r.body.get("attachments", [{}])[0].get("text"))
            for r in fake.accepted if part in r.path]


def test_run_posts_each_channel_its_digest_once(site: Path, aim_apprise: FakeChat) -> None:
    code, output = run("--date", DAY)
    assert code == 0, output
    assert "Channels 2025-08-28: 3 posted, 0 with nothing to post, 0 failed." in output
    (vision,) = posts(aim_apprise, "/vision")
    (spatial,) = posts(aim_apprise, "/services/")
    (lab,) = posts(aim_apprise, "/lab")
    db = Database.open(site / "var" / "state.db")
    ada = delivery_store.for_date(db, DATE)["ada@example.org"]
    # the same criteria text and categories as ada: the same papers, from the same scores
    row = channel_store.for_date(db, DATE)["vision"]
    assert row.status == "sent" and row.paper_ids == ada.paper_ids[:10] and row.paper_ids
    assert vision.startswith(f"**arXiv digest 2025-08-28**: {len(row.paper_ids)} paper")
    assert f"https://arxiv.org/abs/{ada.paper_ids[0]}" in vision and "relevance " in vision
    assert "<https://arxiv.org/abs/" in spatial  # Slack's own link form
    # the lab view: the papers most readers' digests carried, each with how many it reached
    carried = [d.paper_ids for d in delivery_store.for_date(db, DATE).values() if d.status == "sent"]
    reach = {i: sum(i in ids for ids in carried) for ids in carried for i in ids}
    top = sorted(reach, key=lambda i: (-reach[i], i))[:5]
    assert lab.startswith(f"**arXiv digest 2025-08-28**: {len(top)} papers most read by the lab")
    for number, arxiv_id in enumerate(top, 1):
        assert f"{number}. **[" in lab and f"(https://arxiv.org/abs/{arxiv_id})" in lab
        reached = f"reached {reach[arxiv_id]} reader" + ("s" if reach[arxiv_id] > 1 else "")
        assert reached in lab.split(f"(https://arxiv.org/abs/{arxiv_id})")[1].split("\n\n")[0]
    assert "relevance" not in lab and channel_store.for_date(db, DATE)["lab"].paper_ids == tuple(top)
    code, output = run("--date", DAY)  # everyone has had the day: nothing posted again
    assert code == 0, output
    assert len(aim_apprise.accepted) == 3


def test_a_channel_costs_no_llm_call_when_readers_share_its_criteria(
    site: Path, aim_apprise: FakeChat, fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {"LLM_MODEL": fake_llm.model, "LLM_API_BASE": fake_llm.api_base,
                        "LLM_API_KEY": "sk-fake"}.items():
        monkeypatch.setenv(f"NEWSLETTER_{name}", value)
    hook = aim_apprise.url.replace("http://", "json://")
    channels = site / "channels.csv"
    channels.rename(site / "later.csv")
    code, output = run("--date", DAY)  # the readers alone
    assert code == 0, output
    asked = len(fake_llm.requests)
    assert asked > 0
    write_channels(site, f"vision,{hook}/vision,{MATTING},cs.CV,,,", f"lab,{hook}/lab,*,,,,")
    code, output = run("--date", DAY)  # now the channels, on the readers' scores
    assert code == 0, output
    assert "Channels 2025-08-28: 2 posted" in output
    assert len(fake_llm.requests) == asked


def test_a_post_a_crash_left_sending_is_unknown_and_never_posted_again(
    site: Path, aim_apprise: FakeChat
) -> None:
    settings = load_settings()
    db = Database.open(settings.db_path)
    # a run claimed the post, and was killed before it could record what the webhook said
    assert channel_store.begin(db, "vision", DATE, paper_ids=("2508.00001",), parts=1,
                               now=dt.datetime(2025, 8, 28, 7, tzinfo=dt.UTC)) == 0
    code, output = run("--date", DAY)
    assert code == 1
    assert "channel vision: status unknown: interrupted mid-post" in output
    assert posts(aim_apprise, "/vision") == [] and len(posts(aim_apprise, "/lab")) == 1
    assert channel_store.for_date(db, DATE)["vision"].status == "unknown"
    run("--date", DAY)
    assert posts(aim_apprise, "/vision") == []  # still not: the admin decides (--resend-unknown)
    code, output = run("--date", DAY, "--resend-unknown")
    assert code == 0, output
    assert len(posts(aim_apprise, "/vision")) == 1


def serve() -> tuple[ChannelReport, Database]:
    settings = load_settings()
    db = Database.open(settings.db_path)
    found = load_channels(channels_path(settings), settings)
    wanted = [c for c in found.channels if c.name == "vision"]
    report = serve_channels(wanted, now=dt.datetime(2025, 8, 28, 8, tzinfo=dt.UTC), settings=settings, db=db,
                            adapters=build_adapters(settings, db, DATE), digest_date=DATE, policy=FAST)
    return report, db


def test_429_and_5xx_are_retried_with_backoff_until_posted(site: Path, aim_apprise: FakeChat) -> None:
    aim_apprise.script("429", "500", "503")
    report, _ = serve()
    assert report.sent == ("vision",)
    assert [r.status for r in aim_apprise.requests] == [429, 500, 503, 200]


def test_a_channel_down_all_run_fails_and_the_next_run_posts_it(site: Path, aim_apprise: FakeChat) -> None:
    aim_apprise.script(*["500"] * FAST.max_attempts)
    report, db = serve()
    gave_up = f"gave up after {FAST.max_attempts} attempts: the channel answered HTTP 500"
    assert report.failed == {"vision": gave_up}
    assert channel_store.for_date(db, DATE)["vision"].status == "failed"
    report, db = serve()
    assert report.sent == ("vision",)
    assert len(aim_apprise.accepted) == 1


def test_a_split_post_goes_on_after_the_messages_already_posted(
    site: Path, aim_apprise: FakeChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(AppriseChannelPoster, "max_length", lambda self, url: 400)
    aim_apprise.script("200", *["500"] * FAST.max_attempts)
    _, db = serve()
    row = channel_store.for_date(db, DATE)["vision"]
    assert row.status == "failed" and row.parts > 2 and row.parts_sent == 1
    _, db = serve()
    bodies = [r.body["message"] for r in aim_apprise.accepted]
    assert len(bodies) == row.parts and len(set(bodies)) == row.parts  # each part once, none twice
    assert all(len(b) <= 400 for b in bodies) and bodies[0].endswith(f"(1/{row.parts})")


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_run_killed_mid_post_leaves_it_unknown_and_the_next_run_does_not_post_it_again(
    site: Path, aim_apprise: FakeChat
) -> None:
    hook = aim_apprise.url.replace("http://", "json://")
    write_channels(site, f"vision,{hook}/vision,{MATTING},cs.CV,,,", f"lab,{hook}/lab,*,,,,")
    aim_apprise.broken["/vision"] = "hang"  # the webhook takes the post and never answers
    aim_apprise.hang_seconds = 60
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SENDGRID_", "OPENAI_"))}
    env.update(PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    process = subprocess.Popen([sys.executable, "-m", "newsletter", "run", "--date", DAY],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while not aim_apprise.posted_to("/vision"):
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, "the run never got to posting"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    db = Database.open(site / "var" / "state.db")
    assert channel_store.for_date(db, DATE)["vision"].status == "sending"
    del aim_apprise.broken["/vision"]
    code, output = run("--date", DAY)
    assert code == 1
    assert "channel vision: status unknown: interrupted mid-post" in output
    assert aim_apprise.posted_to("/vision") == 1  # the one the kill interrupted, never a second
    assert channel_store.for_date(db, DATE)["vision"].status == "unknown"
