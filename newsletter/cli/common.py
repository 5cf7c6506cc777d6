"""What every command shares: consoles, one-line errors, settings and the database."""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from newsletter.db import Database, DatabaseError
from newsletter.logs import setup_logging
from newsletter.readers.roster import RosterError
from newsletter.settings import ConfigError, Settings, load_settings

# The seed-paper options of `subscribers add`, `feedback seed` and `criteria draft`.
LikeOption = Annotated[
    str, typer.Option(help="Seed papers the reader likes: arXiv ids or URLs, comma-separated.")
]
LikeFileOption = Annotated[
    Path | None, typer.Option(help="Seed papers from a file: arXiv ids or URLs, or a BibTeX export.")
]

log = logging.getLogger(__name__)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class UserError(Exception):
    """Something the user can fix; shown as one line, no traceback."""


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    try:
        yield
    except (ConfigError, RosterError, DatabaseError, UserError) as exc:
        raise fail(str(exc)) from None
    except OSError as exc:  # a folder that is a file, a read-only mount, a full disk: say which
        log.debug("the traceback", exc_info=True)  # shown with NEWSLETTER_DEBUG=1
        where = f": {exc.filename}" if exc.filename else ""
        raise fail(f"{exc.strerror or exc}{where}") from None


def settings_for_cli() -> Settings:
    settings = load_settings()
    secrets = [
        settings.sendgrid_api_key.get_secret_value(),
        settings.llm_api_key.get_secret_value(),
        settings.webhook_password.get_secret_value(),
    ]
    level = logging.DEBUG if os.environ.get("NEWSLETTER_DEBUG") else logging.WARNING
    setup_logging(settings.log_format, level, secrets)
    return settings


def parse_date(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UserError(f"--date {value!r} is not a date as YYYY-MM-DD") from None


def open_db(settings: Settings) -> Database:
    return Database.open(settings.db_path)
