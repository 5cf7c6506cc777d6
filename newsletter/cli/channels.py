"""`newsletter channels check [--send-test]`, and the channels' part of `newsletter run`."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import typer

from newsletter.channels.file import ChannelsError, channels_path, load_channels
from newsletter.channels.message import trial_message
from newsletter.cli.common import UserError, fail, out, settings_for_cli, user_errors
from newsletter.daily.summary import RunSummary
from newsletter.db import Database
from newsletter.settings import Settings

if TYPE_CHECKING:  # the daily cycle imports the ranker (scikit-learn, a second): only when a run needs it
    from newsletter.daily.channels import ChannelReport
    from newsletter.daily.wiring import Adapters

app = typer.Typer(no_args_is_help=True, help="Chat channels (channels.csv beside the roster).")


@app.command()
def check(
    send_test: Annotated[
        bool, typer.Option("--send-test", help="Post one test message to each channel.")
    ] = False,
) -> None:
    """Validate channels.csv (every problem with its line and column); optionally post a test."""
    from newsletter.channels.transport import AppriseChannelPoster
    from newsletter.mail.base import SendError

    with user_errors():
        settings = settings_for_cli()
        path = channels_path(settings)
        if not path.is_file():
            raise UserError(f"no channels file: {path} (it sits beside the roster)")
        try:
            found = load_channels(path, settings)
        except ChannelsError as exc:
            raise UserError(str(exc)) from None
    for problem in found.problems:
        out.print(f"  {problem}")
    kinds = ", ".join(f"{c.name} ({'lab view' if c.lab else 'scored'})" for c in found.channels)
    out.print(f"{path}: {len(found.channels)} channel(s) valid{': ' + kinds if kinds else ''};"
              f" {len(found.problems)} problem(s).")
    failures = 0
    if send_test:
        poster = AppriseChannelPoster(timeout=settings.http_timeout)
        for channel in found.channels:
            try:
                poster.post(channel.url, trial_message(channel.name), "")
                out.print(f"  test message posted to {channel.name}")
            except SendError as exc:  # the error names the channel, never its URL
                failures += 1
                out.print(f"  test message to {channel.name} failed: {exc}")
    if found.problems or failures:
        raise fail(f"{len(found.problems)} problem(s), {failures} failed test message(s)")


def after_run(settings: Settings, db: Database, adapters: Adapters, summary: RunSummary, now: dt.datetime,
              *, resend_unknown: bool) -> ChannelReport | None:
    """`newsletter run`'s channels: every channel not yet served the run's day gets it (no
    schedule, as with readers). None when there is no channels file or the run had no day."""
    from newsletter.daily.channels import run_channels
    from newsletter.db import channel_deliveries as channel_store
    from newsletter.db import subscribers as subscriber_store
    from newsletter.readers.roster import load_roster

    path = channels_path(settings)
    if summary.fatal or summary.no_announcement or summary.digest_date is None or not path.is_file():
        return None
    found = load_channels(path, settings)
    for problem in found.problems:
        out.print(f"  channels: {problem}")
    if not found.channels:
        return None
    if resend_unknown:
        channel_store.release_unknown(db, now, summary.digest_date)
    suppressed = subscriber_store.suppressions(db)
    peers = [s for s in load_roster(settings.subscribers, settings).subscribers
             if s.email.lower() not in suppressed]
    report = run_channels(found.channels, now=now, settings=settings, db=db, adapters=adapters,
                          digest_date=summary.digest_date, peers=peers)
    out.print(f"Channels {summary.digest_date}: {len(report.sent)} posted, {len(report.empty)} with nothing"
              f" to post, {len(report.failed) + len(report.unknown)} failed.")
    return report
