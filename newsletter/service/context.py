"""What the service's two jobs are handed: `ServiceContext` (settings, database, clock, transport
gate, alerter, health state, the adapters and the work lock) and the `TransportGate`.

Each job keeps its own state: `newsletter.service.fetch_job.FetchJob` what it tried and met,
`newsletter.service.delivery_job.DeliveryJob` nothing beyond the context.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from newsletter.clock import Clock, utc_now
from newsletter.daily.wiring import Adapters
from newsletter.db import Database
from newsletter.db import subscribers as subscriber_store
from newsletter.mail.base import PermanentSendError, Transport
from newsletter.models import OutgoingEmail, Subscriber
from newsletter.readers.preferences import load_roster
from newsletter.readers.roster import Roster
from newsletter.service.alerter import Alerter
from newsletter.service.health import ServiceState
from newsletter.settings import Settings

AdapterFactory = Callable[[Settings, Database, "dt.date | None"], Adapters]


class TransportGate:
    """Passes sends through until `close()`; then refuses new ones, so a stopping service does
    not start sends it could not finish. A refused digest is `failed` and retried after restart.
    `inner` is what `newsletter.mail.base.copies_of` looks through for the outbox's copies."""

    STOPPING = "the service was stopping; retried on the next start"

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.closed = threading.Event()

    def close(self) -> None:
        self.closed.set()

    def send(self, email: OutgoingEmail) -> str:
        if self.closed.is_set():
            raise PermanentSendError(self.STOPPING)
        return self.inner.send(email)


@dataclass(frozen=True, slots=True)
class ServiceContext:
    """What both jobs use. Built once by `newsletter.service.process.serve` (or a test)."""

    settings: Settings
    db: Database
    clock: Clock
    gate: TransportGate
    alerter: Alerter
    state: ServiceState
    adapter_factory: AdapterFactory
    # Held by each tick of either job. The fetch job's prepare step and a delivery run would
    # otherwise score the same day at the same time (twice the LLM cost, and the delivery run
    # could not find the scores cached); and the two fetch triggers ("fetch-when-shown",
    # "fetch-retry") are separate scheduler jobs that must not run one FetchJob at once.
    work: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def build(
        cls,
        settings: Settings,
        db: Database,
        *,
        clock: Clock = utc_now,
        adapters: AdapterFactory | None = None,
        transport: Transport | None = None,
    ) -> ServiceContext:
        """The context from the settings; `adapters` and `transport` default to the real ones."""
        from newsletter.daily.wiring import build_adapters, build_transport

        gate = TransportGate(transport or build_transport(settings))
        state = ServiceState(
            started_at=clock(),
            delivery_interval=dt.timedelta(seconds=settings.delivery_interval),
            overdue_grace=dt.timedelta(minutes=settings.overdue_grace_minutes),
        )
        return cls(settings, db, clock, gate, Alerter(db, gate, settings), state, adapters or build_adapters)

    def adapters_for(self, digest_date: dt.date | None) -> Adapters:
        """The outside world for one day, sending through the gate and reading this clock."""
        built = self.adapter_factory(self.settings, self.db, digest_date)
        return dataclasses.replace(built, transport=self.gate, clock=self.clock)

    def roster(self) -> Roster:
        """The roster with the readers' own settings on top (readers/preferences.py)."""
        return load_roster(self.settings.subscribers, self.settings, self.db)

    def active(self, roster: Roster) -> list[Subscriber]:
        """The roster's readers who have not left."""
        suppressed = subscriber_store.suppressions(self.db)
        return [s for s in roster.subscribers if s.email.lower() not in suppressed]
