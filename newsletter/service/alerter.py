"""Sending admin alerts (what they say: `newsletter.service.alerts`).

`newsletter serve` sends them from its jobs; a `newsletter run` from cron through `report_run`.
Each alert is sent at most once per (kind, key): the `alerts` table remembers, so a restart or the
next tick of the delivery job does not repeat it. Without an admin address the alert is only
logged. Alerts are composed like the digests and go through the same transport (SendGrid or the
outbox).
"""

from __future__ import annotations

import datetime as dt
import logging

from newsletter.daily.summary import RunSummary
from newsletter.db import Database
from newsletter.db import alerts as alert_log
from newsletter.db import deliveries as delivery_store
from newsletter.db import subscribers as subscriber_store
from newsletter.db.audits import audit_totals
from newsletter.db.runs import day_cost
from newsletter.mail.base import SendError, Transport
from newsletter.mail.compose import compose
from newsletter.models import OutgoingEmail, RenderedDigest
from newsletter.service.alerts import (
    Alert,
    alert_digest,
    cost_alert,
    judge_alerts,
    mail_events,
    roster_alert,
    run_alert,
)
from newsletter.settings import Settings

log = logging.getLogger(__name__)


def alert_email(alert: Alert, *, to: str, token: str, settings: Settings, now: dt.datetime) -> OutgoingEmail:
    """The alert as mail to the admin; `token` is the admin's own, so a reply or the one-click
    button stops the alerts like a digest."""
    rendered = RenderedDigest(subject=alert.subject, markdown=alert.text, html=alert.html)
    return compose(rendered, to=to, token=token, settings=settings, now=now,
                   digest_id=f"{alert.day:%Y%m%d}-alert-{alert.kind}-{alert_digest([alert.key])}",
                   category=f"alert-{alert.kind}", message_tag=f"{now:%Y%m%d%H%M%S}")


class Alerter:
    """Sends each alert once. Never raises: an alert that cannot be sent is logged instead."""

    def __init__(self, db: Database, transport: Transport, settings: Settings) -> None:
        self.db = db
        self.transport = transport
        self.settings = settings

    def send(self, alert: Alert, now: dt.datetime) -> bool:
        """True when the alert was sent now (False: sent before, no admin address, or failed)."""
        if alert_log.already_sent(self.db, alert.kind, alert.key):
            return False
        if alert.kind == "feedback":  # readers' words stay out of the log
            log.info("admin note: %s", alert.subject)
        elif alert.kind == "cost":  # news, not trouble
            log.info("admin note: %s | %s", alert.subject, " | ".join(alert.lines))
        else:
            log.warning("admin alert: %s | %s", alert.subject, " | ".join(alert.lines))
        admin = self.settings.admin_email.strip()
        if not admin:
            alert_log.claim(self.db, alert.kind, alert.key, alert.subject, now, "logged")
            return False
        if subscriber_store.is_suppressed(self.db, admin):
            log.info("the admin address %s asked for no more mail; alert only logged", admin)
            return False
        # Claimed before the send: at most once, like the digests (a crash here loses one alert
        # rather than repeating it every few minutes).
        if not alert_log.claim(self.db, alert.kind, alert.key, alert.subject, now, "sent"):
            return False
        token = subscriber_store.token_for(self.db, admin, now)
        try:
            self.transport.send(alert_email(alert, to=admin, token=token, settings=self.settings, now=now))
        except SendError as exc:
            log.error("could not send the admin alert %r: %s", alert.subject, exc)
            if alert.kind == "feedback":  # the replies are in no log: try again next time
                alert_log.release(self.db, alert.kind, alert.key)
            else:
                alert_log.mark_failed(self.db, alert.kind, alert.key)
            return False
        return True


def report_run(alerter: Alerter, summary: RunSummary, now: dt.datetime, *, whole_day: bool) -> None:
    """The alerts of one `newsletter run` (e.g. from cron), as the service sends them.

    Its failures, that day's `unknown` digests and broken roster rows, each alerted once; then the
    day's cost line, once a run over every subscriber (`whole_day`: no `--only`) has tried everyone
    and left none of the day's digests `unknown`. Like the service, it does not wait for a failed
    address to work: the line counts the failures, and they have their own alert.
    """
    if summary.no_announcement or summary.digest_date is None:
        return
    day = summary.digest_date
    problem = summary.fatal or summary.aborted
    rows = delivery_store.for_date(alerter.db, day)
    unknown = sorted(address for address, row in rows.items() if row.status == "unknown")
    for alert in (run_alert(day, summary.failed, unknown, problem), roster_alert(day, summary.problems),
                  *judge_alerts(summary)):
        if alert is not None:
            alerter.send(alert, now)
    if whole_day and not problem and not unknown:
        cost = day_cost(alerter.db, day)
        if cost.runs:
            mail = mail_events(alerter.db, alerter.settings, now)
            alerter.send(cost_alert(cost, audit_totals(alerter.db, day, day), mail), now)
