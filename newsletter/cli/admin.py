"""The operator's commands beside the roster: `serve` and `check` (`feedback` is in feedback.py)."""

from __future__ import annotations

import typer

from newsletter.cli.common import out, settings_for_cli, user_errors


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
