"""`channels.csv`, beside the roster: chat channels (Slack, Discord, Teams, Matrix, Telegram, any
webhook) that get the day's digest as one message. A channel is a reader without an address.

Columns `name,url,criteria,categories,timezone,send_at,max_papers`; `url` is an Apprise URL and a
secret (it holds the webhook's token), so no problem message ever quotes it. `criteria` is a file
like the roster's, or `*`: the lab view (the papers most readers' digests carried that day).
Every row's problems are reported with line and column; the valid rows are served anyway.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from newsletter.logs import add_secrets
from newsletter.models import Subscriber
from newsletter.readers.criteria import read_criteria
from newsletter.readers.roster import (
    RosterError,
    RosterProblem,
    _int_override,
    csv_rows,
    parse_categories,
    parse_send_at,
    parse_timezone,
)
from newsletter.settings import Settings

COLUMNS = ("name", "url", "criteria", "categories", "timezone", "send_at", "max_papers")
LAB = "*"  # the criteria of a lab-view channel
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
T = TypeVar("T")


class ChannelsError(RosterError):
    """The channels file as a whole cannot be read; the message says where and why."""


@dataclass(frozen=True, slots=True)
class Channel:
    """One valid row. `url` is secret: never log, show or alert it (say `name`)."""

    name: str
    url: str = field(repr=False)
    criteria: str  # the criteria text, or LAB
    criteria_path: Path | None
    categories: tuple[str, ...]
    timezone: str
    send_at: dt.time
    max_papers: int
    row: int = 0

    @property
    def lab(self) -> bool:
        return self.criteria == LAB

    @property
    def key(self) -> str:
        """The address-like key this channel's reader proxy is known by (never a real address)."""
        return f"channel:{self.name}"

    def as_reader(self) -> Subscriber:
        """The channel as a reader for the shared scoring and selection (one per criteria text)."""
        return Subscriber(email=self.key, criteria=self.criteria, criteria_path=self.criteria_path or Path(),
                          name=self.name, categories=self.categories, timezone=self.timezone,
                          send_at=self.send_at, max_papers=self.max_papers, row=self.row)


@dataclass
class ChannelFile:
    path: Path
    channels: list[Channel] = field(default_factory=list)
    problems: list[RosterProblem] = field(default_factory=list)


def channels_path(settings: Settings) -> Path:
    """`channels.csv` in the roster's folder."""
    return settings.subscribers.parent / "channels.csv"


def _url(value: str) -> str:
    if not value:
        raise ValueError("is required (an Apprise URL such as slack://… or discord://…)")
    if not _SCHEME.match(value):
        raise ValueError("is not an Apprise URL (scheme://…)")
    from newsletter.channels.transport import url_problem

    # the URL's tokens (path parts, user and password) are masked in every log line from now on
    add_secrets(part for part in re.split(r"[/:@?&=#]", value.split("://", 1)[1]) if part)
    if problem := url_problem(value):
        raise ValueError(problem)
    return value


def parse_row(row: Mapping[str, str], line: int, folder: Path, settings: Settings
              ) -> tuple[Channel | None, list[RosterProblem]]:
    """One row → a Channel, or every problem that keeps it out. A bad URL is never quoted."""
    problems: list[RosterProblem] = []

    def check(column: str, parse: Callable[[str], T], secret: bool = False) -> T | None:
        value = (row.get(column) or "").strip()
        try:
            return parse(value)
        except ValueError as exc:
            problems.append(RosterProblem(line, column, "" if secret else value, str(exc)))
            return None

    def name(value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("must be 1-64 letters, digits, '.', '_' or '-'")
        return value

    def criteria(value: str) -> tuple[Path | None, str]:
        return (None, LAB) if value == LAB else read_criteria(folder, value)

    label, url, crit = check("name", name), check("url", _url, secret=True), check("criteria", criteria)
    cats = check("categories", functools.partial(parse_categories, default=settings.default_categories))
    tz = check("timezone", functools.partial(parse_timezone, default=settings.timezone))
    at = check("send_at", functools.partial(parse_send_at, default=settings.send_at))
    most = check("max_papers", functools.partial(_int_override, low=1, high=100))
    if problems or label is None or url is None or crit is None:
        return None, problems
    return Channel(name=label, url=url, criteria=crit[1], criteria_path=crit[0],
                   categories=cats or settings.default_categories, timezone=tz or settings.timezone,
                   send_at=at or settings.send_at, max_papers=most or settings.max_papers, row=line), []


def parse_channels(path: Path, text: str, settings: Settings) -> ChannelFile:
    found = ChannelFile(path)
    seen: dict[str, int] = {}
    for line, row in csv_rows(path, text, required=("name", "url", "criteria"), columns=COLUMNS,
                              error=ChannelsError):
        channel, problems = parse_row(row, line, path.parent, settings)
        if channel is not None and (first := seen.get(channel.name.lower())) is not None:
            problems, channel = [RosterProblem(line, "name", channel.name, f"duplicates line {first}")], None
        if channel is not None:
            seen[channel.name.lower()] = line
            found.channels.append(channel)
        found.problems.extend(RosterProblem(p.line, p.column, p.value, p.message, path) for p in problems)
    return found


def load_channels(path: Path, settings: Settings) -> ChannelFile:
    """The channels file; an empty list when there is none (channels are optional)."""
    if not path.is_file():
        return ChannelFile(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ChannelsError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    return parse_channels(path, text, settings)
