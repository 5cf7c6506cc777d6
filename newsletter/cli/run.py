"""`newsletter run` and `newsletter preview`: one daily cycle at the current time, and its report."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn
from rich.progress import Progress as ProgressBar

from newsletter.cli.common import err, fail, open_db, out, parse_date, settings_for_cli, user_errors
from newsletter.clock import utc_now
from newsletter.daily.summary import Progress, RunSummary, no_progress
from newsletter.settings import Settings


@contextmanager
def _progress(enabled: bool) -> Iterator[Progress]:
    if not enabled:
        yield no_progress
        return
    with ProgressBar(
        TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(), console=err, transient=True
    ) as bar:

        def stage(name: str, total: int) -> Callable[[], None]:
            task = bar.add_task(name, total=total)
            return lambda: bar.advance(task)

        yield stage


def _print_summary(summary: RunSummary, settings: Settings, dry_run: bool) -> None:
    date = summary.digest_date.isoformat() if summary.digest_date else "?"
    if summary.no_announcement:
        out.print(f"No digest: {summary.no_announcement}")
        return
    if summary.fatal:  # nothing ran: the error line says why
        return
    if summary.due == 0 and not summary.fatal:
        out.print(f"Nothing due for {date}: {summary.nothing_due}.")
    else:
        served = len(summary.previews) if dry_run else len(summary.sent)
        out.print(
            f"Digest {date}: {summary.due} due, {served} {'previewed' if dry_run else 'sent'},"
            f" {len(summary.empty)} with nothing to send, {len(summary.failed)} failed;"
            f" {summary.papers} papers announced."
        )
        u = summary.usage
        out.print(
            f"LLM: {u.calls} calls, {u.prompt_tokens} prompt + {u.completion_tokens} completion tokens,"
            f" ${u.cost_usd:.4f}."
            if settings.llm_model
            else "Ranking: local ranker (no LLM configured)."
        )
    for note in summary.notes:
        out.print(f"Note: {note}")
    for address, reason in summary.failed.items():
        out.print(f"  failed: {address}: {reason}")
    if summary.released:
        out.print(f"Released for resending: {', '.join(summary.released)}")
    waiting = [a for a in summary.unknown if a not in summary.interrupted]
    if waiting:
        out.print(
            f"{len(waiting)} digest(s) of earlier runs are 'unknown' (maybe sent):"
            " check, then `newsletter run --resend-unknown`."
        )
    for address in summary.interrupted:
        out.print(f"  unknown: {address} (interrupted mid-send; not resent)")
    for problem in summary.problems:
        out.print(f"  roster: {problem}")
    if dry_run and summary.previews:
        out.print(f"Previews written to {settings.preview_dir / date}/")
    elif summary.sent and not settings.uses_sendgrid:
        out.print(f"Digests written to {settings.outbox_dir / date}/")


def _daily_cycle(
    settings: Settings,
    day: dt.date | None,
    *,
    alerts: bool = False,
    only: Sequence[str] = (),
    dry_run: bool = False,
    resend_unknown: bool = False,
    progress: Progress = no_progress,
) -> RunSummary:
    """Build the real adapters and run one cycle at the current time.

    `alerts`: tell NEWSLETTER_ADMIN_EMAIL (when set) what went wrong and, once the day is done,
    what it cost, as the service does; without an address the summary printed here is the report.
    The other keywords go to `run_daily` as they are.
    """
    from newsletter.daily.run import default_digest_date, run_daily
    from newsletter.daily.wiring import build_adapters
    from newsletter.service.alerter import Alerter, report_run

    now = utc_now()
    db = open_db(settings)
    adapters = build_adapters(settings, db, day or default_digest_date(now, settings))
    summary = run_daily(
        now=now,
        settings=settings,
        db=db,
        adapters=adapters,
        date=day,
        only=only,
        dry_run=dry_run,
        resend_unknown=resend_unknown,
        progress=progress,
    )
    channels = None
    if not dry_run and not only:  # channels are served by whole runs, like every reader
        from newsletter.cli.channels import after_run

        channels = after_run(settings, db, adapters, summary, now, resend_unknown=resend_unknown)
    if alerts and settings.admin_email.strip():
        alerter = Alerter(db, adapters.transport, settings)
        report_run(alerter, summary, now, whole_day=not only)
        if channels is not None and summary.digest_date is not None:
            from newsletter.service.alerts import run_alert

            if (alert := run_alert(summary.digest_date, channels.problems, [])) is not None:
                alerter.send(alert, now)
    if channels is not None and channels.problems:  # the exit code and the summary's lines say so
        summary = replace(summary, failed={**summary.failed, **channels.problems})
    return summary


def run(
    date: Annotated[
        str | None, typer.Option(help="Announcement date YYYY-MM-DD (default: the latest).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Write previews, send nothing.")] = False,
    only: Annotated[
        list[str] | None,
        typer.Option(help="Only these addresses (list them, repeat --only, or comma-separate)."),
    ] = None,
    resend_unknown: Annotated[
        bool, typer.Option("--resend-unknown", help="Resend digests whose earlier send was interrupted.")
    ] = False,
    more: Annotated[
        list[str] | None, typer.Argument(metavar="EMAIL", help="Only these addresses, as with --only.")
    ] = None,
) -> None:
    """One daily cycle: fetch, score, render and deliver to everyone due."""
    # `--only a b` (the documented form) leaves `b` as an argument; bare addresses mean the same.
    # Anything else is a slip (`run 2025-08-28` for `run --date 2025-08-28`): say so, run nothing.
    if stray := next((m for m in more or [] if "@" not in m), None):
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", stray.strip()):
            raise fail(f"unexpected argument {stray!r}: did you mean --date {stray}?")
        raise fail(f"unexpected argument {stray!r}: arguments are subscribers' addresses")
    addresses = [a.strip() for item in [*(only or []), *(more or [])] for a in item.split(",") if a.strip()]
    with user_errors(), _progress(err.is_terminal) as progress:
        settings = settings_for_cli()
        summary = _daily_cycle(
            settings,
            parse_date(date),
            alerts=not dry_run,
            only=addresses,
            dry_run=dry_run,
            resend_unknown=resend_unknown,
            progress=progress,
        )
    _print_summary(summary, settings, dry_run)
    if summary.exit_code:
        raise fail(summary.reason, summary.exit_code)


def preview(
    email: Annotated[str, typer.Argument(help="The subscriber's address.")],
    date: Annotated[
        str | None, typer.Option(help="Announcement date YYYY-MM-DD (default: the latest).")
    ] = None,
) -> None:
    """Write one subscriber's digest (.md and .html) and print the paths; sends nothing."""
    with user_errors():
        summary = _daily_cycle(settings_for_cli(), parse_date(date), only=[email], dry_run=True)
    if summary.fatal or summary.failed:
        raise fail(summary.reason)
    if summary.no_announcement:
        raise fail(f"no digest for that day: {summary.no_announcement}")
    paths = next(iter(summary.previews.values()), ())
    misses = next(iter(summary.near_misses.values()), None)
    if misses is not None:  # nothing selected: say what came closest (stderr: stdout is for paths)
        err.print(f"Nothing matched {email}'s criteria on {summary.digest_date}.", highlight=False)
        if misses:
            err.print("The closest papers (relevance/novelty, id, title, comment):", highlight=False)
        for entry in misses:
            score = entry.score
            err.print(
                f"  {score.relevance}/{score.novelty}  {entry.paper.arxiv_id}  {entry.paper.title}"
                f"  ({score.comment})",
                highlight=False,
                markup=False,
            )
    for path in paths:
        out.print(str(path))
