"""The operator's commands beside the roster: `serve`, `check` and `feedback`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from newsletter.cli.common import err, open_db, out, settings_for_cli, user_errors
from newsletter.render.text import printable


def serve() -> None:
    """Run the service: scheduled fetch and delivery, and the web routes."""
    from newsletter.service.process import serve as run_service

    with user_errors():
        settings = settings_for_cli()
        run_service(settings)


def check_all() -> None:
    """Verify settings, roster, templates, database and the outside services."""
    from newsletter.cli.checks import run_checks

    with user_errors():
        settings = settings_for_cli()
        code = run_checks(settings, out)
    if code:
        raise typer.Exit(code)


def feedback(limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50) -> None:
    """Replies that were not unsubscribes: what readers wrote back."""
    from newsletter.readers.feedback import list_feedback

    with user_errors():
        items = list_feedback(open_db(settings_for_cli()), limit=limit)
    if not items:
        err.print("No feedback yet.")
    for item in items:  # a reader's text without control characters: no escape codes reach the terminal
        email, subject = escape(printable(item.email)), escape(printable(item.subject))
        out.print(f"[bold]{item.received_at:%Y-%m-%d %H:%M}[/bold] {email}: {subject}")
        out.print(printable(item.body).strip()[:2000], markup=False)
        out.print()
