"""Delivery state machine and retries, through the real SendGrid client against the loopback fake."""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from newsletter.daily.send import ComposedDigest, DeliveryReport, RetryPolicy, deliver_all
from newsletter.db import Database, deliveries, delivery_transitions, subscribers
from newsletter.mail.sendgrid import SendGridTransport
from newsletter.models import OutgoingEmail
from tests.fakes.sendgrid_server import FakeSendGrid

ROOT = Path(__file__).resolve().parents[2]
DAY = dt.date(2025, 8, 28)
NOW = dt.datetime(2025, 8, 28, 11, 0, tzinfo=dt.UTC)
T0 = 1_756_378_800.0  # NOW as epoch seconds: the fake's and the transport's wall clock


def make_job(address: str, day: dt.date = DAY) -> ComposedDigest:
    digest_id = deliveries.digest_id_for(address, day)
    email = OutgoingEmail(
        to=address, from_email="digest@lab.example", from_name="arXiv Digest",
        subject=f"arXiv digest {day:%m/%d/%Y}", text="# Personalized Daily ArXiv Papers\n",
        html="<h1>Personalized Daily ArXiv Papers</h1>", reply_to="u-tok@reply.lab.example",
        unsubscribe_url="https://digest.lab.example/unsubscribe/tok",
        message_id=f"<{digest_id}.digest@lab.example>", date=NOW, digest_id=digest_id)
    return ComposedDigest(email=email, digest_date=day, paper_ids=("2508.00001", "2508.00002"))


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(tmp_path / "state.db")
    yield database
    database.close()


@pytest.fixture
def fake(fake_sendgrid: FakeSendGrid) -> FakeSendGrid:
    fake_sendgrid.clock = lambda: T0
    return fake_sendgrid


class Sender:
    """deliver_all with a recorded, instant sleep and seeded jitter."""

    def __init__(self, db: Database, fake: FakeSendGrid, timeout: float = 2.0) -> None:
        self.db = db
        self.fake = fake
        self.waits: list[float] = []
        self.on_sleep: Any = None
        self.transport = SendGridTransport(fake.api_key, host=fake.url, timeout=timeout, clock=lambda: T0)

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.on_sleep is not None:
            self.on_sleep()

    def __call__(self, *addresses: str, concurrency: int = 1, attempts: int = 5,
                 transport: Any = None) -> DeliveryReport:
        return deliver_all([make_job(a) for a in addresses], db=self.db,
                           transport=transport or self.transport, clock=lambda: NOW,
                           concurrency=concurrency,
                           policy=RetryPolicy(max_attempts=attempts, rng=random.Random(7)),
                           sleep=self.sleep)

    def status(self, address: str) -> str | None:
        row = deliveries.get(self.db, address, DAY)
        return row.status if row else None


@pytest.fixture
def send(db: Database, fake: FakeSendGrid) -> Sender:
    return Sender(db, fake)


def test_every_reader_gets_one_message_and_it_is_recorded(send: Sender, fake: FakeSendGrid) -> None:
    readers = [f"r{n}@example.org" for n in range(6)]
    report = send(*readers, concurrency=3)
    assert sorted(report.sent) == readers
    assert report.failed == {}
    for address in readers:
        assert fake.sent_to(address) == 1
        row = deliveries.get(send.db, address, DAY)
        assert row is not None
        assert row.status == "sent"
        assert row.provider_id is not None
        assert row.provider_id.startswith("fake")
        assert deliveries.delivered_paper_ids(send.db, address) == {"2508.00001", "2508.00002"}
    # a second run for the same day sends nothing
    again = send(*readers, concurrency=3)
    assert sorted(again.skipped) == readers
    assert len(fake.requests) == 6


def test_the_pool_sends_in_parallel_but_never_more_than_its_size(send: Sender, fake: FakeSendGrid) -> None:
    barrier = threading.Barrier(4, timeout=10)

    def together(_: object) -> tuple[int, dict[str, str], bytes]:
        barrier.wait()  # breaks (→ 500) unless four requests are in flight at once
        return 202, {}, b""

    fake.script("202", *[together] * 4)  # the first send goes alone (see the next test)
    report = send(*[f"p{n}@example.org" for n in range(10)], concurrency=4)
    assert len(report.sent) == 10
    assert fake.max_in_flight == 4


class HoldingTransport:
    """Answers the first send at once and holds every later one until `release` is set."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.in_flight: set[threading.Thread] = set()
        self.release = threading.Event()
        self.answered = 0

    def send(self, email: OutgoingEmail) -> str:
        with self.changed:
            self.answered += 1
            if self.answered == 1:
                return "first"
            self.in_flight.add(threading.current_thread())
            self.changed.notify_all()
        self.release.wait(timeout=30)
        with self.changed:
            self.in_flight.discard(threading.current_thread())
        return "held"


def test_the_pool_has_exactly_its_size_of_senders(db: Database) -> None:
    """Every send is held, so each sender holds one job: the senders in flight are all there are."""
    transport = HoldingTransport()
    jobs = [make_job(f"p{n}@example.org") for n in range(20)]
    reports: list[DeliveryReport] = []
    before = set(threading.enumerate())
    caller = threading.Thread(target=lambda: reports.append(
        deliver_all(jobs, db=db, transport=transport, clock=lambda: NOW, concurrency=4)))
    caller.start()
    try:
        with transport.changed:
            # the calling thread starts its helpers before it sends: once it is held, all exist
            assert transport.changed.wait_for(lambda: caller in transport.in_flight, timeout=30)
            senders = set(threading.enumerate()) - before
            assert transport.changed.wait_for(lambda: transport.in_flight >= senders, timeout=30)
            assert len(transport.in_flight) == 4
    finally:
        transport.release.set()
        caller.join(timeout=30)
    assert len(reports[0].sent) == 20


def test_backoff_never_exceeds_its_cap() -> None:
    policy = RetryPolicy(backoff_base=1.0, backoff_cap=4.0, rng=random.Random(7))
    for attempt in range(1, 12):
        ceiling = min(2 ** (attempt - 1), 4.0)
        assert ceiling / 2 <= policy.wait(attempt, None) <= ceiling


def test_rate_limit_waits_until_the_reset_then_sends(send: Sender, fake: FakeSendGrid) -> None:
    fake.reset_in = 7
    fake.script("429")
    report = send("a@example.org")
    assert report.sent == ("a@example.org",)
    assert len(send.waits) == 1
    assert 7.0 <= send.waits[0] <= 7.5
    assert len(fake.requests) == 2
    assert fake.sent_to("a@example.org") == 1


def test_rate_limit_wait_is_bounded(send: Sender, fake: FakeSendGrid) -> None:
    fake.reset_in = 3600
    fake.script("429")
    send("a@example.org")
    assert send.waits[0] <= RetryPolicy().max_rate_limit_wait


def test_server_errors_back_off_exponentially_with_jitter(send: Sender, fake: FakeSendGrid) -> None:
    fake.script("500", "503", "502")
    report = send("a@example.org")
    assert report.sent == ("a@example.org",)
    assert len(send.waits) == 3
    for attempt, wait in enumerate(send.waits, start=1):
        ceiling = 2 ** (attempt - 1)
        assert ceiling / 2 <= wait <= ceiling
    assert fake.sent_to("a@example.org") == 1


def test_server_errors_give_up_after_the_bound_and_a_later_run_retries(
    send: Sender, fake: FakeSendGrid
) -> None:
    fake.script(*["500"] * 4)
    report = send("a@example.org", "b@example.org", attempts=4)
    assert report.failed["a@example.org"].startswith("gave up after 4 attempts")
    assert "HTTP 500" in report.failed["a@example.org"]
    assert report.sent == ("b@example.org",)
    assert send.status("a@example.org") == "failed"
    row = deliveries.get(send.db, "a@example.org", DAY)
    assert row is not None
    assert row.error is not None
    assert "HTTP 500" in row.error
    assert deliveries.delivered_paper_ids(send.db, "a@example.org") == set()
    # failed is not sent: the next run tries again, and sends exactly once
    assert send("a@example.org", "b@example.org").sent == ("a@example.org",)
    assert fake.sent_to("a@example.org") == 1
    assert fake.sent_to("b@example.org") == 1


@pytest.mark.parametrize("step", ["400", "403", "413"])
def test_refused_message_fails_that_reader_with_sendgrids_message_and_the_run_goes_on(
    send: Sender, fake: FakeSendGrid, step: str
) -> None:
    fake.script(step)
    report = send("bad@example.org", "good@example.org")
    message = fake.error_messages[int(step)]
    assert message in report.failed["bad@example.org"]
    assert report.sent == ("good@example.org",)
    assert send.waits == []  # never retried
    row = deliveries.get(send.db, "bad@example.org", DAY)
    assert row is not None
    assert row.status == "failed"
    assert row.error is not None
    assert message in row.error


def test_rejected_key_stops_the_run_at_once_and_says_so(db: Database, fake: FakeSendGrid) -> None:
    send = Sender(db, fake)
    wrong = SendGridTransport("SG.wrong.key", host=fake.url, timeout=2)
    readers = ["a@example.org", "b@example.org", "c@example.org"]
    report = send(*readers, transport=wrong, concurrency=3)
    assert report.aborted is not None
    assert "SENDGRID_API_KEY was rejected" in report.aborted
    assert len(fake.requests) == 1  # nothing after the 401
    assert set(report.failed) == set(readers)  # and the report says what happened to whom
    assert "SENDGRID_API_KEY was rejected" in report.failed["b@example.org"]
    assert send.status("a@example.org") == "failed"
    assert send.status("b@example.org") is None  # never claimed
    # with the right key, the next run sends each exactly once
    assert sorted(send(*readers).sent) == readers
    assert all(fake.sent_to(r) == 1 for r in readers)


@pytest.mark.parametrize("step", ["hang", "accept_drop"])
def test_no_answer_after_the_request_is_unknown_never_resent_blindly(
    db: Database, fake: FakeSendGrid, step: str
) -> None:
    send = Sender(db, fake, timeout=0.5)
    fake.hang_seconds = 3
    fake.script(step)
    report = send("a@example.org", "b@example.org")
    assert "a@example.org" in report.unknown
    assert "a@example.org" in report.failed  # so the run's exit code is not 0
    assert report.sent == ("b@example.org",)
    assert send.waits == []
    assert send.status("a@example.org") == "unknown"
    assert fake.sent_to("a@example.org") == 1  # SendGrid did take it
    # later runs leave it alone
    assert send("a@example.org").skipped == ("a@example.org",)
    assert fake.sent_to("a@example.org") == 1
    # on the admin's word (--resend-unknown) it is sent exactly once more, then never again
    assert delivery_transitions.release_unknown(db, NOW) == ["a@example.org"]
    assert send("a@example.org").sent == ("a@example.org",)
    assert send("a@example.org").skipped == ("a@example.org",)
    assert fake.sent_to("a@example.org") == 2


def test_refused_connection_is_retried_then_fails(db: Database) -> None:
    with FakeSendGrid() as gone:
        url = gone.url
    send = Sender(db, gone)
    send.transport = SendGridTransport("SG.k.k", host=url, timeout=1)
    report = send("a@example.org", attempts=3)
    assert report.failed["a@example.org"].startswith("gave up after 3 attempts: cannot reach SendGrid")
    assert len(send.waits) == 2
    assert send.status("a@example.org") == "failed"


def test_suppressed_reader_is_never_sent(send: Sender, fake: FakeSendGrid) -> None:
    subscribers.suppress(send.db, "gone@example.org", "reply", NOW)
    report = send("gone@example.org", "here@example.org")
    assert report.skipped == ("gone@example.org",)
    assert fake.sent_to("gone@example.org") == 0


def test_an_unsubscribe_during_a_backoff_takes_effect_at_once(send: Sender, fake: FakeSendGrid) -> None:
    fake.script("503")
    send.on_sleep = lambda: subscribers.suppress(send.db, "a@example.org", "one-click", NOW)
    report = send("a@example.org")
    assert report.skipped == ("a@example.org",)
    assert report.sent == ()
    assert len(fake.requests) == 1
    assert fake.accepted == []


def test_sent_but_not_recorded_is_reported_and_becomes_unknown(
    send: Sender, fake: FakeSendGrid, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(delivery_transitions, "mark_sent", broken)
    report = send("a@example.org")
    assert "disk I/O error" in report.unknown["a@example.org"]
    assert send.status("a@example.org") == "sending"
    monkeypatch.undo()
    assert [d.email for d in delivery_transitions.recover_interrupted(send.db, NOW)] == ["a@example.org"]
    assert send("a@example.org").skipped == ("a@example.org",)
    assert fake.sent_to("a@example.org") == 1


def test_jobs_may_come_from_a_generator_and_its_failure_is_reported(
    send: Sender, fake: FakeSendGrid
) -> None:
    def jobs() -> Iterator[ComposedDigest]:
        yield make_job("a@example.org")
        yield make_job("b@example.org")
        raise RuntimeError("template missing")

    report = deliver_all(jobs(), db=send.db, transport=send.transport, clock=lambda: NOW, concurrency=2)
    assert sorted(report.sent) == ["a@example.org", "b@example.org"]
    assert report.aborted is not None
    assert "template missing" in report.aborted


CRASH = """
import datetime as dt, os, signal, sys
from newsletter.db import Database
from newsletter.daily.send import deliver_all
from newsletter.mail.sendgrid import SendGridTransport
from tests.daily.test_send import NOW, make_job

class KillAfterSend:
    # The process dies right after SendGrid took the message, before the send is recorded.
    def __init__(self, inner):
        self.inner = inner
    def send(self, email):
        self.inner.send(email)
        os.kill(os.getpid(), signal.SIGKILL)

db_path, url, key = sys.argv[1:4]
transport = KillAfterSend(SendGridTransport(key, host=url, timeout=5))
deliver_all([make_job("a@example.org")], db=Database.open(db_path), transport=transport,
            clock=lambda: NOW, concurrency=1)
"""


@pytest.mark.slow
def test_killed_between_the_send_and_its_record_is_unknown_never_a_second_email(
    tmp_path: Path, fake: FakeSendGrid
) -> None:
    db_path = tmp_path / "crash.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", CRASH, str(db_path), fake.url, fake.api_key],
                          env=env, cwd=ROOT, timeout=60, capture_output=True, text=True)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert fake.sent_to("a@example.org") == 1

    db = Database.open(db_path)
    send = Sender(db, fake)
    assert send.status("a@example.org") == "sending"
    assert [d.email for d in delivery_transitions.recover_interrupted(db, NOW)] == ["a@example.org"]
    assert send.status("a@example.org") == "unknown"
    assert send("a@example.org").skipped == ("a@example.org",)
    assert fake.sent_to("a@example.org") == 1  # the next run did not send it again
    # --resend-unknown: exactly one more, then never again
    delivery_transitions.release_unknown(db, NOW)
    assert send("a@example.org").sent == ("a@example.org",)
    assert send("a@example.org").skipped == ("a@example.org",)
    assert fake.sent_to("a@example.org") == 2
    db.close()


def test_an_event_that_beat_the_recovery_settles_the_crashed_delivery(send: Sender) -> None:
    from newsletter.db.events import apply_events, parse_batch

    assert delivery_transitions.begin(send.db, "a@example.org", DAY, paper_ids=("2508.00001",),
                                      message_id="<m>", now=NOW)
    digest_id = deliveries.digest_id_for("a@example.org", DAY)
    apply_events(send.db, parse_batch([{"event": "processed", "email": "a@example.org",
                                        "sg_event_id": "e1", "digest_id": digest_id}]), NOW)
    assert delivery_transitions.recover_interrupted(send.db, NOW) == []
    assert send.status("a@example.org") == "sent"
