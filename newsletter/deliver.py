"""Deliver: send each digest once, through any Transport, with retries chosen by the error's kind.

Every (subscriber, digest date) is claimed in the database (→ sending) before the provider is
called and recorded (→ sent / failed) after, each in its own committed transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from newsletter.db import Database
from newsletter.db import deliveries as store
from newsletter.mail.base import AuthSendError, PermanentSendError, Transport, TransientSendError
from newsletter.models import OutgoingEmail

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]


@dataclass(frozen=True, slots=True)
class DeliveryJob:
    email: OutgoingEmail
    digest_date: dt.date
    paper_ids: tuple[str, ...]


@dataclass
class DeliveryReport:
    sent: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # suppressed, already sent, or unknown
    aborted: str | None = None  # why the run stopped sending (credentials rejected)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, outcome: str, address: str, reason: str = "") -> None:
        with self._lock:
            if outcome == "sent":
                self.sent.append(address)
            elif outcome == "failed":
                self.failed[address] = reason
            else:
                self.skipped.append(address)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff_base: float = 1.0  # seconds; doubles each attempt, with full jitter
    max_wait: float = 120.0  # the longest we wait for one retry (a rate-limit reset included)

    def wait(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_wait)
        return min(random.uniform(0, self.backoff_base * 2 ** (attempt - 1)), self.max_wait)


def _send_one(
    job: DeliveryJob,
    *,
    db: Database,
    transport: Transport,
    clock: Clock,
    policy: RetryPolicy,
    sleep: Callable[[float], None],
    report: DeliveryReport,
    stop: threading.Event,
) -> None:
    address = job.email.to
    if stop.is_set():
        return
    if not store.begin(db, address, job.digest_date, paper_ids=job.paper_ids,
                       message_id=job.email.message_id, now=clock()):
        log.info("not sending to %s for %s: suppressed or already handled", address, job.digest_date)
        report.record("skipped", address)
        return
    for attempt in range(1, policy.max_attempts + 1):
        try:
            provider_id = transport.send(job.email)
        except TransientSendError as exc:
            if attempt == policy.max_attempts or stop.is_set():
                reason = f"gave up after {attempt} attempts: {exc}"
                break
            delay = policy.wait(attempt, exc.retry_after)
            log.warning("send to %s failed (%s); retrying in %.1f s", address, exc, delay)
            sleep(delay)
            continue
        except PermanentSendError as exc:
            reason = str(exc)
            break
        except AuthSendError as exc:
            reason = str(exc)
            report.aborted = reason
            stop.set()
            break
        except Exception as exc:  # a bug or an unforeseen library error must not stop the others
            log.exception("unexpected error sending to %s", address)
            reason = f"unexpected error: {exc!r}"
            break
        store.mark_sent(db, address, job.digest_date, provider_id=provider_id, now=clock())
        report.record("sent", address)
        return
    store.mark_failed(db, address, job.digest_date, error=reason, now=clock())
    report.record("failed", address, reason)
    log.error("could not send to %s: %s", address, reason)


def deliver_all(
    jobs: Sequence[DeliveryJob],
    *,
    db: Database,
    transport: Transport,
    clock: Clock,
    concurrency: int = 4,
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[], None] | None = None,
) -> DeliveryReport:
    """Send every job through a bounded pool; one bad address never stops the others."""
    report = DeliveryReport()
    stop = threading.Event()
    chosen = policy or RetryPolicy()

    def work(job: DeliveryJob) -> None:
        try:
            _send_one(job, db=db, transport=transport, clock=clock, policy=chosen, sleep=sleep,
                      report=report, stop=stop)
        finally:
            if progress is not None:
                progress()

    if concurrency <= 1 or len(jobs) <= 1:
        for job in jobs:
            work(job)
    else:
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="send") as pool:
            list(pool.map(work, jobs))
    return report
