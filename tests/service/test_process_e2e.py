"""`newsletter serve` as the container runs it (a subprocess, NEWSLETTER_* environment), against the
loopback arXiv and the outbox: a morning's delivery, a reply that unsubscribes, the next
announcement's run without that reader, /healthz throughout, and a clean exit on SIGTERM.

The service is started through tests/fakes/clock_serve.py, which serves on a clock read from a
file the test moves; the service ticks every 0.3 s. The loopback arXiv replays real days, so "the
next day" is the next reference announcement the feed serves (2025-07-15, then 2025-08-28).
"""

from __future__ import annotations

import datetime as dt
import email
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from email import policy
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import DATA
from tests.fakes.arxiv_server import FakeArxiv
from tests.fakes.inbound import basic_auth, default_post, reply

pytestmark = pytest.mark.slow

FIRST, NEXT = dt.date(2025, 7, 15), dt.date(2025, 8, 28)
USER, PASSWORD = "sendgrid", "a long webhook password"
WAIT = 60.0  # a bound on waiting for the subprocess, not a performance claim


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


REPO = Path(__file__).resolve().parents[2]  # where `tests.fakes.clock_serve` is imported from


def command(clock: Path) -> list[str]:
    return [sys.executable, "-m", "tests.fakes.clock_serve", str(clock)]


def wait_for(what: str, probe: Callable[[], Any], proc: subprocess.Popen[bytes]) -> Any:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the service exited ({proc.returncode}) while waiting for {what}")
        value = probe()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Site:
    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.port = port
        self.clock = root / "clock"
        self.url = f"http://127.0.0.1:{port}"

    def set_clock(self, when: dt.datetime) -> None:
        tmp = self.clock.with_suffix(".tmp")
        tmp.write_text(when.isoformat())
        tmp.replace(self.clock)  # the service never reads half a timestamp

    def outbox(self, day: dt.date) -> dict[str, Path]:
        folder = self.root / "var" / "outbox" / day.isoformat()
        return {p.name: p for p in folder.glob("*.eml")} if folder.exists() else {}

    def health(self) -> httpx.Response | None:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=2)
        except httpx.TransportError:
            return None

    def query(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(self.root / "var" / "state.db", timeout=10)
        try:
            return [tuple(row) for row in conn.execute(sql, args)]
        finally:
            conn.close()


@pytest.fixture
def service(tmp_path: Path, fake_arxiv: FakeArxiv) -> Iterator[tuple[Site, subprocess.Popen[bytes]]]:
    shutil.copytree(DATA / "criteria", tmp_path / "criteria")
    (tmp_path / "subscribers.csv").write_text(
        "email,name,criteria,categories,timezone,send_at\n"
        "ada@example.org,Ada,criteria/generation-segmentation-matting.md,cs.CV,Europe/Berlin,07:00\n"
        "bob@example.org,Bob,criteria/vision-language-seven-topics.md,cs.CV,Europe/Berlin,07:00\n")
    site = Site(tmp_path, free_port())
    site.set_clock(dt.datetime(2025, 7, 15, 7, 5, tzinfo=dt.timezone(dt.timedelta(hours=2))))
    fake_arxiv.serve_feed(FIRST)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSLETTER_", "SENDGRID_"))}
    env.update({
        "NEWSLETTER_SUBSCRIBERS": str(tmp_path / "subscribers.csv"),
        "NEWSLETTER_DATA_DIR": str(tmp_path / "var"),
        "NEWSLETTER_HOST": "127.0.0.1",
        "NEWSLETTER_PORT": str(site.port),
        "NEWSLETTER_LOG_FORMAT": "json",
        "NEWSLETTER_ARXIV_FEED_URL": fake_arxiv.feed_url,
        "NEWSLETTER_ARXIV_API_URL": fake_arxiv.api_url,
        "NEWSLETTER_HTTP_TIMEOUT": "5",
        "NEWSLETTER_PUBLIC_URL": "https://digest.example.org",
        "NEWSLETTER_REPLY_DOMAIN": "reply.example.org",
        "NEWSLETTER_FROM_EMAIL": "digest@example.org",
        "NEWSLETTER_WEBHOOK_USERNAME": USER,
        "NEWSLETTER_WEBHOOK_PASSWORD": PASSWORD,
        "NEWSLETTER_SEND_EMPTY": "true",
        "NEWSLETTER_DELIVERY_INTERVAL": "0.3",
        "NEWSLETTER_FETCH_RETRY_INTERVAL": "0.3",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")])),
    })
    stderr = (tmp_path / "service.log").open("wb")
    proc = subprocess.Popen(command(site.clock), cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                            stderr=stderr)
    try:
        yield site, proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        stderr.close()


def test_serve_delivers_unsubscribes_by_reply_and_skips_the_reader_next_day(
    service: tuple[Site, subprocess.Popen[bytes]], fake_arxiv: FakeArxiv
) -> None:
    site, proc = service
    first = wait_for("the first morning's digests",
                     lambda: (m := site.outbox(FIRST)) and len(m) == 2 and m, proc)
    assert set(first) == {"ada@example.org.eml", "bob@example.org.eml"}
    health = wait_for("/healthz", site.health, proc)
    assert health.status_code == 200, health.text
    body = health.json()
    assert body["last_fetch"]["announcement_date"] == FIRST.isoformat()
    assert body["last_delivery_run"]["digest_date"] == FIRST.isoformat()

    # Ada replies "unsubscribe" to her digest: SendGrid posts it to /inbound
    digest = email.message_from_bytes(first["ada@example.org.eml"].read_bytes(), policy=policy.default)
    reply_to = str(digest["Reply-To"]).strip()
    assert reply_to.startswith("u-")
    message = reply(to=reply_to, sender="Ada <ada@example.org>", text="unsubscribe")
    post = default_post(message)
    answer = httpx.post(f"{site.url}/inbound", content=post.body,
                        headers={**post.headers, **basic_auth(USER, PASSWORD)}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert site.query("SELECT email, source FROM suppressions") == [("ada@example.org", "reply")]

    # the next announcement, the next morning
    fake_arxiv.serve_feed(NEXT)
    site.set_clock(dt.datetime(2025, 8, 28, 7, 5, tzinfo=dt.timezone(dt.timedelta(hours=2))))
    wait_for("the next morning's digest", lambda: "bob@example.org.eml" in site.outbox(NEXT), proc)
    wait_for("the run to be recorded", lambda: site.query(
        "SELECT 1 FROM runs WHERE kind='run' AND digest_date=? AND finished_at IS NOT NULL",
        NEXT.isoformat()), proc)
    assert "ada@example.org.eml" not in site.outbox(NEXT)
    assert site.query("SELECT email, status FROM deliveries WHERE digest_date=?", NEXT.isoformat()) == [
        ("bob@example.org", "sent")]
    body = site.health().json()  # type: ignore[union-attr]
    assert body["last_fetch"]["announcement_date"] == NEXT.isoformat()
    assert body["digests"]["due"] == 0

    # SIGTERM: a clean exit, 0
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=WAIT) == 0
    log_lines = [line for line in (site.root / "service.log").read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in log_lines]  # NEWSLETTER_LOG_FORMAT=json: JSON lines only
    messages = [r["message"] for r in records]
    assert any(m.startswith("serving on http://127.0.0.1:") for m in messages)
    assert messages[-1] == "stopped"
    assert PASSWORD not in "\n".join(log_lines)
