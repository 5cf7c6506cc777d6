"""`subscribers add … --like IDS --like-file FILE` and `feedback seed EMAIL --like …`: the seed
papers, taken from the database or fetched before anything is written (a fetch that fails changes
nothing), stored as the reader's likes after. `criteria draft --like …` fetches them the same way
(from the API only: it opens no database) and stores nothing."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape

from newsletter.cli.common import UserError, err, out
from newsletter.clock import utc_now
from newsletter.db import Database
from newsletter.fetch.errors import FetchError
from newsletter.readers.seeds import Seeds, parse_seeds, record_seeds
from newsletter.readers.seeds import fetch_seeds as lookup_seeds
from newsletter.settings import Settings


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UserError(f"--like-file {path}: no such file") from None
    except UnicodeDecodeError:
        raise UserError(f"--like-file {path}: not UTF-8 text (a BibTeX export or a list of ids)") from None


def fetch_seeds(settings: Settings, like: str, like_file: Path | None, db: Database | None = None,
                *, otherwise: str = "add the reader now without --like/--like-file") -> Seeds:
    """The seed papers named: those in `db` already from it, the others with their text from the
    arXiv API; what could not be used, said. `otherwise`: what to do when the API is down."""
    values = ([like] if like else []) + ([_read(like_file)] if like_file else [])
    try:
        wanted = parse_seeds(values)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    try:
        return lookup_seeds(settings, wanted, db)
    except FetchError as exc:
        raise UserError(f"could not fetch the seed papers from the arXiv API: {exc};"
                        " nothing was changed. Try again later"
                        + (f", or {otherwise}" if otherwise else "")) from None


def store_seeds(db: Database, email: str, seeds: Seeds, likes: str = "first likes") -> None:
    if seeds.papers:
        added = record_seeds(db, email, seeds.papers, utc_now())
        already = len(seeds.papers) - added
        note = f" ({already} voted on already)" if already else ""
        out.print(f"Seed papers: {added} stored as {escape(email)}'s {likes}{note}.")
    report_skipped(seeds)


def report_skipped(seeds: Seeds) -> None:
    """One line on stderr for each seed that could not be used."""
    for problem in seeds.skipped:
        err.print(f"skipped seed: {escape(problem)}")
