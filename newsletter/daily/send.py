"""Deliver: send each digest once, through any Transport, with retries chosen by the error's kind.

Every (subscriber, digest date) is claimed in the database (→ sending) before the provider is
called and recorded (→ sent / failed / unknown) after, each in its own committed transaction, so
a crash in between leaves `sending`, which the next run turns into `unknown` — never a blind resend.

What each failure does (the transport classifies, see `newsletter.mail.base`):
- rate limited (429): wait until the provider's reset time (bounded), then try again;
- transient (5xx, connect errors and timeouts before the request got through): back off
  exponentially with jitter, a bounded number of times, then `failed` (a later run retries);
- uncertain (the request went out, no answer came back): `unknown` at once, not retried —
  SendGrid has no idempotency key, so a retry could mail the reader twice;
- permanent (400/403/413): `failed` with the provider's message; the others go on;
- credentials rejected (401): the run stops sending at once; what was not sent is reported.
Before every retry the suppression list is read again, so an unsubscribe during a backoff counts.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import random
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from newsletter.backoff import exponential_delay, retry_after_delay
from newsletter.clock import Clock
from newsletter.db import Database, delivery_transitions
from newsletter.db import deliveries as store
from newsletter.db import subscribers as subscriber_store
from newsletter.mail.base import (
    AuthSendError,
    PermanentSendError,
    TransientSendError,
    Transport,
    UncertainSendError,
    copies_of,
)
from newsletter.models import OutgoingEmail

log = logging.getLogger(__name__)


def recover_interrupted(db: Database, transport: Transport, now: dt.datetime) -> list[store.Delivery]:
    """Sends a crash left in `sending`: `unknown` (maybe sent, never resent blindly), returned.

    Where the transport keeps copies (the outbox), each is settled for certain instead: its file
    is there (sent) or not (back to pending, so this run sends it).
    """
    interrupted = delivery_transitions.recover_interrupted(db, now)
    copies = copies_of(transport)
    if copies is None:
        return interrupted
    for delivery in interrupted:
        day = delivery.digest_date.isoformat()
        if copies.written(delivery.digest_id, delivery.email, day):
            delivery_transitions.resolve_unknown_as_sent(db, delivery.digest_id, now)
        else:
            copies.discard_partial(delivery.email, day)
            delivery_transitions.release_unknown(db, now, delivery.digest_date, emails=[delivery.email])
        log.info("interrupted send to %s settled from the outbox", delivery.email)
    return []


@dataclass(frozen=True, slots=True)
class ComposedDigest:
    """One reader's digest, composed and waiting for a sender."""

    email: OutgoingEmail
    digest_date: dt.date
    paper_ids: tuple[str, ...]


SendOutcome = Literal["sent", "failed", "unknown", "skipped"]


@dataclass(frozen=True)
class DeliveryReport:
    """What happened to whom. `failed` also holds the `unknown` ones (so the run's exit code says
    so); `unknown` names which failures may in fact have been delivered."""

    sent: tuple[str, ...] = ()
    failed: Mapping[str, str] = field(default_factory=dict)
    skipped: tuple[str, ...] = ()  # suppressed, already sent, or unknown
    unknown: Mapping[str, str] = field(default_factory=dict)
    aborted: str | None = None  # why the run stopped sending (credentials rejected)


@dataclass
class _Tally:
    """The senders' shared record of outcomes while they run; `report()` freezes it."""

    sent: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    unknown: dict[str, str] = field(default_factory=dict)
    aborted: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, outcome: SendOutcome, address: str, reason: str = "") -> None:
        with self._lock:
            if outcome == "sent":
                self.sent.append(address)
            elif outcome == "failed":
                self.failed[address] = reason
            elif outcome == "unknown":
                self.unknown[address] = reason
                self.failed[address] = f"status unknown: {reason}"
            else:
                self.skipped.append(address)

    def abort(self, reason: str) -> None:
        with self._lock:
            if self.aborted is None:
                self.aborted = reason

    def report(self) -> DeliveryReport:
        with self._lock:
            return DeliveryReport(
                tuple(self.sent), dict(self.failed), tuple(self.skipped), dict(self.unknown), self.aborted
            )


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5  # tries per message for transient failures (rate limits included)
    backoff_base: float = 1.0  # seconds before the 2nd try; doubles each time
    backoff_cap: float = 60.0  # the longest backoff between two tries
    max_rate_limit_wait: float = 120.0  # the longest wait for a rate-limit reset
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def wait(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after the `attempt`-th failed try."""
        if retry_after is not None:
            # The reset time has a one-second grain; a little jitter keeps the pool from
            # stampeding the very same second.
            return retry_after_delay(retry_after, bound=self.max_rate_limit_wait, spread=0.5,
                                     jitter=self.rng.random)
        return exponential_delay(attempt, base=self.backoff_base, cap=self.backoff_cap,
                                 jitter=self.rng.random)  # "equal jitter": never ~0, never over


@dataclass
class _Run:
    db: Database
    transport: Transport
    clock: Clock
    policy: RetryPolicy
    sleep: Callable[[float], None]
    report: _Tally
    stop: threading.Event = field(default_factory=threading.Event)
    contacted: threading.Event = field(default_factory=threading.Event)


def _send_one(job: ComposedDigest, run: _Run) -> None:
    """Claim the digest, send it with retries, and record how it ended."""
    address, report = job.email.to, run.report
    if run.stop.is_set():
        # Never claimed, so the next run (with a good key) sends it.
        report.record("failed", address, f"not sent: the run stopped ({report.aborted})")
        return
    if not delivery_transitions.begin(run.db, address, job.digest_date, paper_ids=job.paper_ids,
                                      message_id=job.email.message_id, now=run.clock()):
        log.info("not sending to %s for %s: suppressed or already handled", address, job.digest_date)
        report.record("skipped", address)
        return
    reason = _send_with_retries(job, run)
    if reason is not None:
        delivery_transitions.mark_failed(run.db, address, job.digest_date, error=reason, now=run.clock())
        report.record("failed", address, reason)
        log.error("could not send to %s: %s", address, reason)


def _send_with_retries(job: ComposedDigest, run: _Run) -> str | None:
    """Send until it is settled (None: sent, unknown or unsubscribed, each recorded here) or
    failed for good (the reason, for the caller to record)."""
    address = job.email.to
    for attempt in itertools.count(1):
        try:
            try:
                provider_id = run.transport.send(job.email)
            finally:
                run.contacted.set()
        except UncertainSendError as exc:
            reason = (f"{exc} (not retried: check SendGrid's activity, or resend with"
                      " `newsletter run --resend-unknown`)")
            delivery_transitions.mark_unknown(run.db, address, job.digest_date, error=reason, now=run.clock())
            run.report.record("unknown", address, reason)
            log.error("delivery to %s is unknown: %s", address, exc)
            return None
        except TransientSendError as exc:
            if attempt >= run.policy.max_attempts:
                return f"gave up after {attempt} attempts: {exc}"
            if not _wait_to_retry(run, address, attempt, exc):
                return f"not retried, the run stopped ({run.report.aborted}); last error: {exc}"
            if subscriber_store.is_suppressed(run.db, address):
                delivery_transitions.mark_failed(run.db, address, job.digest_date, now=run.clock(),
                                                 error="unsubscribed during the run; not sent")
                run.report.record("skipped", address)
                log.info("%s unsubscribed while its send was waiting; not sent", address)
                return None
            continue
        except PermanentSendError as exc:
            return str(exc)
        except AuthSendError as exc:
            run.report.abort(str(exc))
            run.stop.set()
            return str(exc)
        except Exception as exc:  # a bug or an unforeseen library error must not stop the others
            log.exception("unexpected error sending to %s", address)
            return f"unexpected error: {exc!r}"
        _record_sent(job, run, provider_id)
        return None
    raise AssertionError("unreachable")  # itertools.count never ends


def _wait_to_retry(run: _Run, address: str, attempt: int, exc: TransientSendError) -> bool:
    """Wait as the policy says; False when the run is stopping (the wait is cut short)."""
    delay = run.policy.wait(attempt, exc.retry_after)
    log.warning("send to %s failed (%s); retrying in %.1f s", address, exc, delay)
    if not run.stop.is_set():
        run.sleep(delay)
    return not run.stop.is_set()


def _record_sent(job: ComposedDigest, run: _Run, provider_id: str) -> None:
    address = job.email.to
    try:
        delivery_transitions.mark_sent(run.db, address, job.digest_date, provider_id=provider_id,
                                       now=run.clock())
    except Exception as exc:
        # Sent, but not recorded: the row stays `sending`, which the next run reports as
        # `unknown` (and a `processed` event settles) — never a second email.
        log.exception("sent to %s but could not record it", address)
        run.report.record("unknown", address, f"sent (id {provider_id}) but not recorded: {exc}")
        return
    run.report.record("sent", address)


def deliver_all(
    jobs: Iterable[ComposedDigest],
    *,
    db: Database,
    transport: Transport,
    clock: Clock,
    concurrency: int = 4,
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], None] | None = None,
    progress: Callable[[], None] | None = None,
) -> DeliveryReport:
    """Send every job through a bounded pool of senders; one bad address never stops the others.

    `jobs` may be a generator: senders take the next job only when free, so at most `concurrency`
    digests need to be in memory at once. `sleep` defaults to a wait that a stopping run cuts short.
    """
    report = _Tally()
    stop = threading.Event()

    def wait(seconds: float) -> None:
        stop.wait(seconds)  # a stopping run cuts the backoff short

    run = _Run(db, transport, clock, policy or RetryPolicy(), sleep or wait, report, stop)
    source: Iterator[ComposedDigest] = iter(jobs)
    take = threading.Lock()

    def next_job() -> ComposedDigest | None:
        with take:
            try:
                return next(source, None)
            except Exception as exc:  # the caller's generator failed: no more jobs from it
                log.exception("could not prepare the next digest")
                report.abort(f"could not prepare the next digest: {exc}")
                return None

    def worker(until_contact: bool = False) -> None:
        while not (until_contact and run.contacted.is_set()) and (job := next_job()) is not None:
            try:
                _send_one(job, run)
            except Exception as exc:  # the database failed around a send: report it, go on
                log.exception("delivery to %s failed in its bookkeeping", job.email.to)
                report.record("failed", job.email.to, f"could not record the delivery: {exc}")
            finally:
                if progress is not None:
                    progress()

    # One sender alone until the provider has answered once: a rejected key then costs one
    # request, not one per sender.
    worker(until_contact=True)
    senders = [threading.Thread(target=worker, name=f"send-{n}") for n in range(max(1, concurrency) - 1)]
    for sender in senders:
        sender.start()
    worker()  # the calling thread is one of the senders
    for sender in senders:
        sender.join()
    return report.report()
