"""The roster: `subscribers.csv` and the criteria files it points at.

Loading validates every row and reports each problem with its line, column and value; the valid
rows are served anyway. Changes (`add_row`, `remove_rows`) validate first, then rewrite the file
atomically under a lock, so a failed change leaves the file byte for byte as it was.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import re
import zoneinfo
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from email_validator import EmailNotValidError, validate_email
from filelock import FileLock

from newsletter.files import atomic_write_bytes
from newsletter.models import Subscriber
from newsletter.readers.criteria import one_line_text, read_criteria
from newsletter.setting_values import parse_local_time
from newsletter.settings import Settings
from newsletter.taxonomy import category_problem

COLUMNS = ("email", "name", "criteria", "categories", "timezone", "send_at", "authors")
OVERRIDES = ("min_relevance", "min_novelty", "max_papers")
T = TypeVar("T")


class RosterError(Exception):
    """The roster as a whole cannot be read or changed; the message says where and why."""


@dataclass(frozen=True, slots=True)
class RosterProblem:
    line: int
    column: str
    value: str
    message: str
    path: Path | None = None

    def __str__(self) -> str:
        where = f"{self.path.name} line {self.line}" if self.path else f"line {self.line}"
        return f"{where}, column {self.column}:{self._said()}"

    def of_option(self) -> str:
        """Said of the `subscribers add` argument that gave the value: its row is not in the file."""
        option = "EMAIL" if self.column == "email" else "--" + self.column.replace("_", "-")
        return f"{option}:{self._said()}"

    def _said(self) -> str:
        # a message that starts with the value already shows it ("'cs.XX' is not an arXiv category")
        shown = f" {self.value!r}" if self.value and not self.message.startswith(repr(self.value)) else ""
        return f"{shown} {self.message}"


@dataclass
class Roster:
    path: Path
    subscribers: list[Subscriber] = field(default_factory=list)
    problems: list[RosterProblem] = field(default_factory=list)

    def find(self, email: str) -> Subscriber | None:
        return next((s for s in self.subscribers if s.email.lower() == email.lower()), None)

    def why_not_served(self, email: str) -> str:
        """Why `email` is not among the subscribers: its row's problem, or that it has no row."""
        try:
            lines = self.path.read_text(encoding="utf-8-sig", errors="replace").splitlines()
        except OSError:
            lines = []
        wanted = email.strip().lower()
        for problem in self.problems:
            row = lines[problem.line - 1] if 0 < problem.line <= len(lines) else ""
            if wanted and wanted in row.lower():
                return f"{email}'s row cannot be served: {problem}"
        return f"{email} is not a subscriber in {self.path}"


def split_list(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in re.split(r"[;,]", value) if part.strip())


def _int_override(value: str, low: int, high: int) -> int | None:
    if not value:
        return None
    if not value.isdigit() or not low <= int(value) <= high:
        raise ValueError(f"must be a whole number from {low} to {high}")
    return int(value)


def _email(value: str) -> str:
    if not value:
        raise ValueError("is required")
    try:
        return str(validate_email(value, check_deliverability=False).normalized)
    except EmailNotValidError as exc:
        raise ValueError(f"is not a valid address: {exc}") from None


def parse_categories(value: str, default: tuple[str, ...]) -> tuple[str, ...]:
    found = split_list(value)
    problems = [problem for c in found if (problem := category_problem(c))]
    if problems:
        raise ValueError("; ".join(problems))
    return found or default


def parse_timezone(value: str, default: str) -> str:
    if not value:
        return default
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError("is not an IANA time zone (e.g. Europe/Berlin)") from None
    return value


def parse_send_at(value: str, default: dt.time) -> dt.time:
    if not value:
        return default
    try:
        return parse_local_time(value)
    except ValueError:
        raise ValueError("must be a local time as HH:MM (e.g. 07:00)") from None


def parse_row(
    row: Mapping[str, str], line: int, folder: Path, settings: Settings
) -> tuple[Subscriber | None, list[RosterProblem]]:
    """One CSV row → a Subscriber, or the problems that keep it out (all of them, not the first)."""
    problems: list[RosterProblem] = []

    def check(column: str, parse: Callable[[str], T]) -> T | None:
        value = (row.get(column) or "").strip()
        try:
            return parse(value)
        except ValueError as exc:
            problems.append(RosterProblem(line, column, value, str(exc)))
            return None

    address = check("email", _email)
    name = check("name", one_line_text)
    criteria = check("criteria", lambda v: read_criteria(folder, v))
    cats = check("categories", functools.partial(parse_categories, default=settings.default_categories))
    tz = check("timezone", functools.partial(parse_timezone, default=settings.timezone))
    at = check("send_at", functools.partial(parse_send_at, default=settings.send_at))
    limits = {
        name: check(name, functools.partial(_int_override, low=1, high=high))
        for name, high in (("min_relevance", 10), ("min_novelty", 10), ("max_papers", 500))
    }
    if problems or address is None or criteria is None:
        return None, problems
    return Subscriber(
        email=address,
        criteria=criteria[1],
        criteria_path=criteria[0],
        name=name or "",
        categories=cats or settings.default_categories,
        timezone=tz or settings.timezone,
        send_at=at or settings.send_at,
        authors=tuple(a.strip() for a in (row.get("authors") or "").split(";") if a.strip()),
        row=line,
        min_relevance=limits["min_relevance"],
        min_novelty=limits["min_novelty"],
        max_papers=limits["max_papers"],
    ), []


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RosterError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def csv_rows(
    path: Path, text: str, *, required: Sequence[str], columns: Sequence[str], error: type[RosterError]
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, row) of each non-blank row of a roster-like CSV file, its header lower-cased; `error`
    when the header lacks a `required` column (the roster's and the channels' file alike)."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if missing := [c for c in required if c not in header]:
        raise error(f"{path}: the header row lacks the column(s) {', '.join(missing)}"
                    f" (expected {','.join(columns)})")
    reader.fieldnames = header
    for raw in reader:
        row = {k: v for k, v in raw.items() if isinstance(k, str) and isinstance(v, str)}
        if any(v.strip() for v in row.values()):  # else a blank line
            yield reader.line_num, row


def parse_roster(path: Path, text: str, settings: Settings) -> Roster:
    roster = Roster(path=path)
    seen: dict[str, int] = {}
    for line, row in csv_rows(path, text, required=("email", "criteria"), columns=COLUMNS, error=RosterError):
        subscriber, problems = parse_row(row, line, path.parent, settings)
        if subscriber is not None:
            first = seen.get(subscriber.email.lower())
            if first is not None:
                problems = [
                    RosterProblem(
                        line,
                        "email",
                        subscriber.email,
                        f"duplicates line {first} (addresses are case-insensitive)",
                    )
                ]
                subscriber = None
            else:
                seen[subscriber.email.lower()] = line
                roster.subscribers.append(subscriber)
        roster.problems.extend(RosterProblem(p.line, p.column, p.value, p.message, path) for p in problems)
    return roster


def load_roster(path: Path, settings: Settings) -> Roster:
    if not path.is_file():
        raise RosterError(f"roster not found: {path} (set NEWSLETTER_SUBSCRIBERS)")
    return parse_roster(path, _decode(path, path.read_bytes()), settings)


def _render_rows(header: Sequence[str], rows: Sequence[Mapping[str, str]], newline: str) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(header), lineterminator=newline, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def add_row(path: Path, values: Mapping[str, str], settings: Settings) -> Subscriber:
    """Validate a new row against the roster and append it, atomically and under a lock."""
    with FileLock(str(path) + ".lock", timeout=10):
        original = path.read_bytes() if path.exists() else b""
        text = _decode(path, original) if original else ""
        newline = "\r\n" if "\r\n" in text else "\n"
        header = next(csv.reader(io.StringIO(text)), []) if text.strip() else list(COLUMNS)
        header = [h.strip() for h in header]
        lower = [h.lower() for h in header]
        needed = [k for k, v in values.items() if v and k not in lower]
        row = {h: values.get(h.lower(), "") for h in header} | {k: values[k] for k in needed}
        new_header = header + needed
        if needed or not text.strip():
            existing = list(csv.DictReader(io.StringIO(text))) if text.strip() else []
            updated = _render_rows(new_header, [*existing, row], newline)
        else:
            line = _render_rows(new_header, [row], newline).split(newline, 1)[1]
            updated = text + ("" if text.endswith(("\n", "\r")) else newline) + line
        roster = parse_roster(path, updated, settings)
        problems = [p for p in roster.problems if p.line == _last_line(updated)]
        if problems:
            raise RosterError(problems[0].of_option())
        subscriber = roster.subscribers[-1] if roster.subscribers else None
        if subscriber is None or subscriber.email.lower() != values["email"].strip().lower():
            raise RosterError(f"{values['email']} was not added")  # pragma: no cover
        atomic_write_bytes(
            path, (b"\xef\xbb\xbf" if original.startswith(b"\xef\xbb\xbf") else b"") + updated.encode("utf-8")
        )
        return subscriber


def _last_line(text: str) -> int:
    reader = csv.reader(io.StringIO(text))
    last = 0
    for row in reader:
        if any(cell.strip() for cell in row):
            last = reader.line_num
    return last


def remove_rows(path: Path, email: str) -> int:
    """Drop every row of `email` (case-insensitive) and return how many went; other lines stay as they are."""
    with FileLock(str(path) + ".lock", timeout=10):
        if not path.is_file():
            raise RosterError(f"roster not found: {path} (set NEWSLETTER_SUBSCRIBERS)")
        original = path.read_bytes()
        text = _decode(path, original)
        lines = text.splitlines(keepends=True)
        header = [h.strip().lower() for h in next(csv.reader(lines[:1]), [])]
        if "email" not in header:
            raise RosterError(f"{path}: the header row lacks the column email")
        column = header.index("email")
        kept, removed = lines[:1], 0
        for line in lines[1:]:
            cells = next(csv.reader([line]), [])
            if len(cells) > column and cells[column].strip().lower() == email.strip().lower():
                removed += 1
            else:
                kept.append(line)
        if removed:
            atomic_write_bytes(
                path,
                (b"\xef\xbb\xbf" if original.startswith(b"\xef\xbb\xbf") else b"")
                + "".join(kept).encode("utf-8"),
            )
        return removed
