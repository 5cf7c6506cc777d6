"""Adding a reader to the roster: the one way `newsletter subscribers add`, the sign-up page and
`newsletter subscribers approve` all take. A roster row (validated by `add_row`, so a bad value
changes nothing) whose criteria file lies in the roster's folder; given a criteria text rather
than a file, the file is written first, beside the roster, and removed again if the row is refused.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from newsletter.fetch.source import folder_categories
from newsletter.files import write_new_file
from newsletter.models import Subscriber
from newsletter.readers.roster import RosterError, add_row
from newsletter.settings import Settings

log = logging.getLogger(__name__)

CRITERIA_FOLDER = "criteria"  # beside the roster, as the shipped examples and the README have it
_SLUG_MAX = 60


class EnrolError(RosterError):
    """The reader cannot be added as given; the message says what to change (nothing was)."""


@dataclass(frozen=True, slots=True)
class NewReader:
    """A roster row's values as given (empty = the row leaves it to the defaults)."""

    email: str
    name: str = ""
    categories: str = ""
    timezone: str = ""
    send_at: str = ""
    authors: str = ""


def criteria_value(path: Path, roster: Path) -> str:
    """The criteria path as the roster stores it: relative to the roster's folder, where it must be.

    A relative path is read from the working folder or, failing that, from the roster's folder (as
    the roster itself names it): in the container the working folder is /app, the roster's /config.
    """
    folder = roster.resolve().parent
    if not folder.is_dir():  # or every criteria file would be "outside" it
        what = "is not a folder" if folder.exists() else "does not exist"
        raise EnrolError(f"the roster's folder {folder} {what} (NEWSLETTER_SUBSCRIBERS={roster})")
    if not path.is_file() and not path.is_absolute() and (folder / path).is_file():
        path = folder / path
    if not path.is_file():
        beside = "" if path.is_absolute() else f" (nor in the roster's folder {folder})"
        raise EnrolError(f"criteria file not found: {path}{beside}")
    lexical = Path(os.path.normpath(path.absolute()))  # a link inside the folder is the admin's choice
    inside = [p for p in (lexical, path.resolve()) if p.is_relative_to(folder)]
    if not inside:
        raise EnrolError(f"criteria file {path} is outside the roster's folder {folder}: copy it there")
    return str(inside[0].relative_to(folder))


def add_reader(settings: Settings, reader: NewReader, criteria: Path) -> Subscriber:
    """Append the reader's row to the roster (`settings.subscribers`); raises RosterError (an
    EnrolError for the criteria path) naming what is wrong, and then the file is unchanged."""
    values = {
        "email": reader.email.strip(),
        "name": reader.name,
        "categories": reader.categories,
        "timezone": reader.timezone,
        "send_at": reader.send_at,
        "authors": reader.authors,
        "criteria": criteria_value(criteria, settings.subscribers),
    }
    subscriber = add_row(settings.subscribers, values, settings)
    warn_if_feed_lacks(settings, subscriber)
    return subscriber


def warn_if_feed_lacks(settings: Settings, subscriber: Subscriber) -> tuple[str, ...]:
    """The reader's categories a folder feed holds no file for, logged as a warning (the row is
    added all the same: the admin may be about to add the file). Named by roster line, not by
    address, as the sign-up's log lines are."""
    held = folder_categories(settings.arxiv_feed_url)
    if held is None:  # arXiv's own feed serves every category
        return ()
    missing = tuple(sorted(set(subscriber.categories) - held))
    if missing:
        log.warning("the reader on line %d of %s has %s, which the feed folder (NEWSLETTER_ARXIV_FEED_URL)"
                    " holds no file for (it holds %s): their digests fail until it does",
                    subscriber.row, settings.subscribers, ", ".join(missing),
                    ", ".join(sorted(held)) or "none")
    return missing


def criteria_slug(email: str) -> str:
    """A file name stem from an address: `ada-example-org` (lower-case letters, digits, dashes)."""
    slug = re.sub(r"[^a-z0-9]+", "-", email.strip().lower()).strip("-")[:_SLUG_MAX].strip("-")
    return slug or "reader"


def _names(folder: Path, stem: str) -> Iterator[Path]:
    yield folder / f"{stem}.md"
    for number in itertools.count(2):
        yield folder / f"{stem}-{number}.md"


def write_criteria(roster: Path, email: str, text: str) -> Path:
    """A new criteria file `criteria/<address slug>.md` beside the roster (`-2`, `-3` … when the
    name is taken: an admin's file is never replaced). `text` is checked already."""
    folder = roster.resolve().parent / CRITERIA_FOLDER
    return write_new_file(_names(folder, criteria_slug(email)), (text.rstrip("\n") + "\n").encode("utf-8"))


def add_reader_with_text(settings: Settings, reader: NewReader, text: str) -> Subscriber:
    """`add_reader` with a criteria text: the file is written beside the roster first and taken
    away again when the row is refused (a duplicate address, say), so a refusal leaves nothing."""
    path = write_criteria(settings.subscribers, reader.email, text)
    try:
        return add_reader(settings, reader, path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
