"""A reader's own settings: checked here, stored as overrides over their roster row
(newsletter/db/preferences.py, which says why a changed criteria text lives in the database), and
applied to the roster wherever the daily cycle, the service and the CLI load it (`load_roster`).

Each value is checked with the roster's own parsers (so a page and a CSV row accept the same
time zones, times and limits) and stored in one canonical text form. A stored value that no
longer parses (a time zone the system's tzdata dropped) is skipped with a warning, never fatal:
the roster row's value serves instead.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NoReturn

from newsletter.db import Database
from newsletter.db import preferences as store
from newsletter.models import Subscriber
from newsletter.readers.criteria import control_problem, one_line_text
from newsletter.readers.roster import Roster, _int_override, parse_send_at, parse_timezone
from newsletter.readers.roster import load_roster as load_csv
from newsletter.setting_values import parse_local_time
from newsletter.settings import Settings

log = logging.getLogger(__name__)

CRITERIA_MAX_CHARS = 10_000  # a page's text goes to the LLM with every batch: a few topics, not a book
MAX_AUTHORS, AUTHOR_MAX_CHARS = 50, 100
MAX_PAUSE = dt.timedelta(days=366)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# What a reader may set, as Subscriber fields, with the label the page and the CLI show.
LABELS: dict[str, str] = {
    "paused_until": "Pause until",
    "frequency": "Frequency",
    "weekday": "Weekday",
    "timezone": "Time zone",
    "send_at": "Send time",
    "max_papers": "Max papers",
    "min_relevance": "Min relevance",
    "max_per_topic": "Max per topic",
    "authors": "Followed authors",
    "criteria": "Criteria",
}


class PreferenceProblem(ValueError):
    """Bad input for one setting; `str()` names the setting and what is wrong."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{LABELS.get(name, name)}: {message}")
        self.name = name


def _pause(value: str, today: dt.date) -> str:
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a date as YYYY-MM-DD") from None
    if day <= today:
        raise ValueError(f"{day} is not after today ({today}): pick a later day, or resume")
    if day > today + MAX_PAUSE:
        raise ValueError(f"{day} is more than a year away: pause until {today + MAX_PAUSE} at most,"
                         " or leave")
    return day.isoformat()


def _frequency(value: str) -> str:
    if value not in ("daily", "weekly"):
        raise ValueError(f"{value!r} is neither daily nor weekly")
    return value


def _weekday(value: str) -> str:
    names = [w.lower() for w in WEEKDAYS]
    if value.lower() in names:
        return str(names.index(value.lower()))
    if value.isdigit() and int(value) < len(WEEKDAYS):
        return value
    raise ValueError(f"{value!r} is not a weekday (Monday to Sunday)")


def _time(value: str) -> str:
    return parse_send_at(value, dt.time()).strftime("%H:%M") if value else _required()


def _zone(value: str) -> str:
    return parse_timezone(value, "") if value else _required()


def _required() -> NoReturn:
    raise ValueError("is required")


def _limit(value: str, *, high: int) -> str:
    number = _int_override(value, low=1, high=high)
    return "" if number is None else str(number)


def _authors(value: str) -> str:
    names = [one_line_text(n.strip()) for n in value.replace("\r", "\n").replace("\n", ";").split(";")]
    names = list(dict.fromkeys(n for n in names if n))
    if len(names) > MAX_AUTHORS:
        raise ValueError(f"{len(names)} names: follow at most {MAX_AUTHORS}")
    if long := next((n for n in names if len(n) > AUTHOR_MAX_CHARS), None):
        raise ValueError(f"{long[:40]!r}… is longer than {AUTHOR_MAX_CHARS} characters: one name each")
    return "; ".join(names)


def _criteria(value: str) -> str:
    text = value.replace("\r\n", "\n").replace("\r", "\n").strip("\n")
    if not text.strip():
        raise ValueError("is empty: describe what you want to read, one numbered topic per line")
    if len(text) > CRITERIA_MAX_CHARS:
        raise ValueError(f"is {len(text):,} characters long, over the {CRITERIA_MAX_CHARS:,} allowed")
    if (control := control_problem(text, allowed=frozenset("\t\n"))) is not None:
        raise ValueError(f"has a control character (NUL, ESC …): {control}")
    return text


def _checks(today: dt.date) -> dict[str, Callable[[str], str]]:
    return {
        "paused_until": functools.partial(_pause, today=today),
        "frequency": _frequency,
        "weekday": _weekday,
        "timezone": _zone,
        "send_at": _time,
        "max_papers": functools.partial(_limit, high=500),
        "min_relevance": functools.partial(_limit, high=10),
        "max_per_topic": functools.partial(_limit, high=100),
        "authors": _authors,
        "criteria": _criteria,
    }


def validate(values: Mapping[str, str], *, today: dt.date) -> dict[str, str | None]:
    """The canonical form of each value (None: back to the roster's value, for an emptied limit);
    PreferenceProblem for the first bad one (the caller stores nothing then)."""
    checks = _checks(today)
    clean: dict[str, str | None] = {}
    for name, raw in values.items():
        if name not in checks:
            raise PreferenceProblem(name, "is not a setting a reader can change")
        try:
            value = checks[name](raw.strip() if name != "criteria" else raw)
        except ValueError as exc:
            raise PreferenceProblem(name, str(exc)) from None
        clean[name] = None if value == "" and name not in ("authors",) else value
    return clean


def resume_value(today: dt.date) -> str:
    """Resuming sets the pause's end to the day of resuming (models.Subscriber.paused_until): the
    days of the pause are never sent, so nothing piles up."""
    return today.isoformat()


def canonical(subscriber: Subscriber, name: str) -> str | None:
    """A Subscriber field in the stored form (None: unset), to tell a change from a resubmission."""
    value = getattr(subscriber, name)
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    if isinstance(value, tuple):
        return "; ".join(value)
    return str(value)


def describe(name: str, value: str | None) -> str:
    """`Weekday: Friday`, `Criteria: your new text`, `Max papers: the admin's value`."""
    if value is None:
        shown = "the admin's value" if name != "max_per_topic" else "no limit"
    elif name == "weekday":
        shown = WEEKDAYS[int(value)]
    elif name == "criteria":
        shown = "your new text"
    elif name == "authors":
        shown = value or "none"
    else:
        shown = value
    return f"{LABELS.get(name, name)}: {shown}"


def _parsed(name: str, value: str) -> object:
    """A stored canonical value as the Subscriber field takes it."""
    if name == "paused_until":
        return dt.date.fromisoformat(value)
    if name in ("weekday", "max_papers", "min_relevance", "max_per_topic"):
        return int(value)
    if name == "send_at":
        return parse_local_time(value)
    if name == "timezone":
        return parse_timezone(value, "UTC")
    if name == "authors":
        return tuple(a.strip() for a in value.split(";") if a.strip())
    return value  # frequency, criteria


def apply_overrides(subscriber: Subscriber, overrides: Mapping[str, store.Override]) -> Subscriber:
    """The roster's subscriber with the reader's values applied and `from_reader` naming them."""
    changed: dict[str, object] = {}
    for name, override in overrides.items():
        if name not in LABELS:
            continue
        try:
            changed[name] = _parsed(name, override.value)
        except ValueError as exc:
            log.warning("%s's own %s %r no longer applies (%s): the roster's serves",
                        subscriber.email, name, override.value, exc)
    if not changed:
        return subscriber
    return dataclasses.replace(subscriber, **changed, from_reader=frozenset(changed))  # type: ignore[arg-type]


def with_overrides(roster: Roster, db: Database) -> Roster:
    """The roster with every reader's own settings applied; overrides of addresses not on it stay
    stored, dormant, for when the admin adds the reader back."""
    found = store.all_overrides(db)
    subscribers = [apply_overrides(s, found.get(s.email.lower(), {})) for s in roster.subscribers]
    return Roster(path=roster.path, subscribers=subscribers, problems=list(roster.problems))


def load_roster(path: Path, settings: Settings, db: Database) -> Roster:
    """`newsletter.readers.roster.load_roster` with the readers' own settings on top: what the
    daily cycle, the service and the CLI serve, so a change counts from the next digest."""
    return with_overrides(load_csv(path, settings), db)
