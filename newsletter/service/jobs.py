"""The service's jobs: what the fetch and delivery ticks do at a given `now`.

- fetch: try until the expected announcement is stored (for `fetch_retry_hours` after the feed
  should show it), then one admin alert. Right after a fetch the day is scored once per distinct criteria
  ("prepare"), logged as a run so its cost counts, so the first send finds the scores cached.
- deliver: send every digest that is due now (see `newsletter.service.schedule`) and not yet handled,
  through `run_daily(now=..., date=D, only=..., is_due=...)`; a failed digest is retried by up to
  `max_send_runs` runs; final failures and `unknown` deliveries are alerted; when no reader of a
  day is left, the day's cost line goes to the admin.
The database, not a job store, says what is due, so a restart catches up by itself.
`newsletter.service.process` runs these on a scheduler beside the web app.
"""

from __future__ import annotations

import datetime as dt

from newsletter.daily.send import recover_interrupted
from newsletter.service.alerts import run_alert
from newsletter.service.delivery_job import DeliverySide
from newsletter.service.fetch_job import FetchSide


class Service(FetchSide, DeliverySide):
    """The jobs' logic. Each tick takes `now`; one lock keeps fetch/prepare and delivery apart.

    The shared state and helpers are `ServiceBase` (newsletter/service/context.py); `fetch_tick` is in
    newsletter/service/fetch_job.py, `delivery_tick` in newsletter/service/delivery_job.py.
    """

    def startup(self, now: dt.datetime) -> None:
        """Deliveries a crash left in `sending` become `unknown` (never resent blindly) and alerted."""
        interrupted = recover_interrupted(self.db, self.gate, now)
        for digest_date in sorted({d.digest_date for d in interrupted}):
            emails = [d.email for d in interrupted if d.digest_date == digest_date]
            alert = run_alert(digest_date, {}, emails)
            if alert is not None:
                self.alerter.send(alert, now)
