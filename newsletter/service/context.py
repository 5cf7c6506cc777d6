"""What the service's two jobs share: their options, the transport gate and `ServiceBase`, which
holds the state (settings, database, clock, alerter, health, the work lock) and the small helpers.

`newsletter.service.jobs.Service` puts it together with the fetch side
(`newsletter.service.fetch_job`) and the
delivery side (`newsletter.service.delivery_job`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Callable

from newsletter.clock import Clock
from newsletter.daily.wiring import Adapters
from newsletter.db import Database
from newsletter.db import subscribers as subscriber_store
from newsletter.mail.base import PermanentSendError, Transport
from newsletter.models import OutgoingEmail, Subscriber
from newsletter.readers.roster import Roster, load_roster
from newsletter.service.alerts import Alerter
from newsletter.service.health import ServiceState
from newsletter.settings import Settings

AdapterFactory = Callable[[Settings, Database, "dt.date | None"], Adapters]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclasses.dataclass(frozen=True, slots=True)
class ServiceOptions:
    """Intervals of the jobs (settings of the same names, NEWSLETTER_<NAME>)."""

    delivery_interval: float = 300.0  # seconds between delivery ticks
    fetch_retry_interval: float = 900.0  # seconds between fetch attempts while the day is missing
    fetch_retry_hours: float = 8.0  # how long after the feed should show a day the fetch keeps trying
    max_send_runs: int = 3  # runs that may try one failed digest before it is left to the admin
    overdue_grace_minutes: float = 30.0  # /healthz turns 503 when a due digest waits longer

    @classmethod
    def from_settings(cls, settings: Settings) -> ServiceOptions:
        return cls(**{option.name: getattr(settings, option.name) for option in dataclasses.fields(cls)})

    @property
    def retry_for(self) -> dt.timedelta:
        return dt.timedelta(hours=self.fetch_retry_hours)


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


class ServiceBase:
    """The state and helpers the fetch and delivery jobs share; one lock (`work`) keeps them apart."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        clock: Clock = utc_now,
        options: ServiceOptions | None = None,
        adapters: AdapterFactory | None = None,
        transport: Transport | None = None,
    ) -> None:
        from newsletter.daily.wiring import build_adapters, build_transport

        self.settings = settings
        self.db = db
        self.clock = clock
        self.options = options or ServiceOptions.from_settings(settings)
        self._adapters = adapters or build_adapters
        self.gate = TransportGate(transport or build_transport(settings))
        self.alerter = Alerter(db, self.gate, settings)
        self.state = ServiceState(
            started_at=clock(),
            delivery_interval=dt.timedelta(seconds=self.options.delivery_interval),
            overdue_grace=dt.timedelta(minutes=self.options.overdue_grace_minutes),
        )
        self.work = threading.Lock()
        self._tried_at: dict[dt.date, dt.datetime] = {}  # the last fetch try of each expected day
        self._fetch_problem: tuple[object, ...] | None = None  # what the last failed fetch met
        self._last_categories: set[str] = set()  # what the last readable roster asked to fetch

    # --- helpers ---------------------------------------------------------------------------------

    def adapters_for(self, digest_date: dt.date | None) -> Adapters:
        built = self._adapters(self.settings, self.db, digest_date)
        return dataclasses.replace(built, transport=self.gate, clock=self.clock)

    @staticmethod
    def _close(adapters: Adapters) -> None:
        close = getattr(adapters.source, "close", None)
        if callable(close):
            close()

    def _roster(self) -> Roster:
        return load_roster(self.settings.subscribers, self.settings)

    def _active(self, roster: Roster) -> list[Subscriber]:
        suppressed = subscriber_store.suppressions(self.db)
        return [s for s in roster.subscribers if s.email.lower() not in suppressed]

    def stored_dates(self, since: dt.date) -> set[dt.date]:
        rows = (
            self.db.read()
            .execute("SELECT DISTINCT date FROM announcements WHERE date >= ?", (since.isoformat(),))
            .fetchall()
        )
        return {dt.date.fromisoformat(row[0]) for row in rows}
