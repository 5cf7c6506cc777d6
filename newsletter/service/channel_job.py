"""The service's channel posts: at each delivery tick, every channel of `channels.csv` whose window
for a fetched recent day is open (the readers' rule, `newsletter.service.schedule.send_window`, on
the channel's own time zone and send_at) gets that day's digest through `run_channels`.
Problem rows, failed posts and `unknown` ones are admin alerts, naming the channel, never its URL.
"""

from __future__ import annotations

import datetime as dt
import logging

from newsletter.channels.file import Channel, ChannelsError, channels_path, load_channels
from newsletter.daily.channels import ChannelReport, run_channels
from newsletter.db import channel_deliveries as channel_store
from newsletter.models import Subscriber
from newsletter.service.alerts import Alert, run_alert
from newsletter.service.context import ServiceContext
from newsletter.service.schedule import recent_announcement_dates, send_window

log = logging.getLogger(__name__)


def channels_alert(day: dt.date, problems: list[str]) -> Alert | None:
    """Rows of channels.csv that are skipped; once per announcement day (like the roster's)."""
    if not problems:
        return None
    from newsletter.service.alerts import roster_alert

    alert = roster_alert(day, problems)
    assert alert is not None
    return Alert(kind="roster", key=f"channels:{alert.key}", day=day,
                 subject=f"arXiv Digest: {len(problems)} problem(s) in channels.csv on {day:%Y-%m-%d}",
                 lines=("These rows of channels.csv are skipped until they are fixed"
                        " (`newsletter channels check` lists them):", *problems))


class ChannelJob:
    """`tick(now, fetched, peers)`: post to the channels due now; called by the delivery job."""

    def __init__(self, context: ServiceContext) -> None:
        self.context = context

    def startup(self, now: dt.datetime) -> None:
        """Posts a crash left in `sending` become `unknown` (never reposted blindly) and alerted."""
        interrupted = channel_store.recover_interrupted(self.context.db, now)
        for day in sorted({d.digest_date for d in interrupted}):
            names = [f"channel {d.channel}" for d in interrupted if d.digest_date == day]
            if (alert := run_alert(day, {}, names)) is not None:
                self.context.alerter.send(alert, now)

    def _channels(self, newest: dt.date, now: dt.datetime) -> list[Channel]:
        settings = self.context.settings
        try:
            found = load_channels(channels_path(settings), settings)
        except ChannelsError as exc:
            log.error("channels: %s", exc)
            if (alert := channels_alert(newest, [str(exc)])) is not None:
                self.context.alerter.send(alert, now)
            return []
        if (alert := channels_alert(newest, [str(p) for p in found.problems])) is not None:
            self.context.alerter.send(alert, now)
        return found.channels

    def tick(self, now: dt.datetime, fetched: set[dt.date], peers: list[Subscriber]) -> list[ChannelReport]:
        context = self.context
        recent = [d for d in recent_announcement_dates(now, context.settings.extra_holidays, shown=fetched)
                  if d in fetched]
        if not recent:
            return []
        channels = self._channels(recent[-1], now)
        reports = []
        for day in recent:
            due = [c for c in channels if now in send_window(day, c.timezone, c.send_at)]
            rows = channel_store.for_date(context.db, day)
            due = [c for c in due if not (r := rows.get(c.name.lower())) or
                   not r.is_final(context.settings.max_send_runs)]
            if not due or context.gate.closed.is_set():
                continue
            adapters = context.adapters_for(day)
            try:
                report = run_channels(due, now=now, settings=context.settings, db=context.db,
                                      adapters=adapters, digest_date=day, peers=peers,
                                      stopping=context.gate.closed.is_set)
            finally:
                adapters.source.close()
            log.info("channels of %s: %d due, %d posted, %d empty, %d failed", day, len(due),
                     len(report.sent), len(report.empty), len(report.failed) + len(report.unknown))
            if (alert := run_alert(day, report.problems, [])) is not None:
                context.alerter.send(alert, now)
            reports.append(report)
        return reports

