"""`newsletter subscribers …`: add, list, remove and check the roster."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from newsletter.cli import signups
from newsletter.cli.common import (
    LikeFileOption,
    LikeOption,
    UserError,
    err,
    fail,
    open_db,
    out,
    settings_for_cli,
    user_errors,
)
from newsletter.cli.roster_rows import roster_rows, status_of
from newsletter.clock import utc_now
from newsletter.db import subscribers as subscriber_store
from newsletter.models import Paper
from newsletter.readers.enrol import NewReader, add_reader
from newsletter.readers.roster import COLUMNS, OVERRIDES, load_roster, remove_rows

app = typer.Typer(no_args_is_help=True, help="Add, list, check and remove subscribers.")


@app.command("add")
def add(
    email: Annotated[str, typer.Argument(help="The subscriber's address.")],
    criteria: Annotated[Path, typer.Option(help="A text/Markdown file with the reader's criteria.")],
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    categories: Annotated[str, typer.Option(help="arXiv categories, e.g. cs.CV,cs.LG.")] = "",
    timezone: Annotated[str, typer.Option(help="IANA time zone, e.g. Europe/Berlin.")] = "",
    send_at: Annotated[str, typer.Option(help="Local send time HH:MM.")] = "",
    authors: Annotated[str, typer.Option(help='Always include these authors: "A. Name;B. Name".')] = "",
    resubscribe: Annotated[
        bool, typer.Option("--resubscribe", help="Re-add an address that unsubscribed.")
    ] = False,
    like: LikeOption = "",
    like_file: LikeFileOption = None,
) -> None:
    """Validate and add one subscriber to the roster (the file is unchanged on any error); seed
    papers are taken from the database when it holds them, fetched from the arXiv API otherwise,
    before anything is written, and stored as the reader's first likes."""
    from newsletter.cli.seeds import fetch_seeds, store_seeds

    with user_errors():
        settings = settings_for_cli()
        db = open_db(settings)
        seeds = fetch_seeds(settings, like, like_file, db)
        suppressed = subscriber_store.is_suppressed(db, email.strip())
        if suppressed and not resubscribe:
            raise UserError(f"{email} unsubscribed earlier; add --resubscribe if they asked to come back")
        from newsletter.readers.leave import resubscribe as come_back

        # Leaving never touches the CSV, so whoever comes back is usually still on it: keep that row.
        kept = None
        if suppressed and settings.subscribers.is_file():
            kept = load_roster(settings.subscribers, settings).find(email.strip())
        if kept is not None:
            come_back(db, kept.email, utc_now())
            out.print(
                f"Resubscribed {kept.email}: their row on line {kept.row} of {settings.subscribers}"
                " is kept as it is (edit it to change their criteria or schedule)."
            )
            store_seeds(db, kept.email, seeds)
            return
        reader = NewReader(email=email.strip(), name=name, categories=categories, timezone=timezone,
                           send_at=send_at, authors=authors)
        subscriber = add_reader(settings, reader, criteria)
        if suppressed:
            come_back(db, subscriber.email, utc_now())
        out.print(f"Added {subscriber.email} to {settings.subscribers} (line {subscriber.row}).")
        store_seeds(db, subscriber.email, seeds)


@app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Every subscriber with status (active / unsubscribed) and last delivery."""
    with user_errors():
        settings = settings_for_cli()
        rows, problems = roster_rows(settings, open_db(settings))
    for problem in problems:  # on stderr: stdout stays the list (or JSON) a script reads
        err.print(f"not listed: {problem} (see `newsletter subscribers check`)",
                  highlight=False, markup=False)
    if as_json:
        out.print_json(json.dumps(rows))
        return
    table = Table("email", "name", "status", "categories", "tz", "send", "last digest", "set by the reader")
    today = utc_now().date().isoformat()
    for r in rows:
        last = f"{r['last_digest']} {r['last_status']}" if r["last_digest"] else "-"
        own = r["from_reader"]
        table.add_row(
            r["email"],
            r["name"],
            status_of(r, today),
            ",".join(r["categories"]),
            (r["timezone"] or "") + ("*" if "timezone" in own else ""),
            (r["send_at"] or "") + ("*" if "send_at" in own else ""),
            last,
            ", ".join(own) or "-",
        )
    for column in table.columns:  # wrap, never cut: an address must stay whole
        column.overflow = "fold"
    # Piped or from cron there is no screen width to respect: one line per subscriber.
    (out if out.is_terminal else Console(file=out.file, width=1000, highlight=False)).print(table)


@app.command("show")
def show(email: Annotated[str, typer.Argument(help="The reader's address.")]) -> None:
    """What is known about one reader: roster row, status, last digest, votes and seeds."""
    from newsletter.cli.feedback import vote_line
    from newsletter.db import votes as vote_store
    from newsletter.db.papers import papers_by_id
    from newsletter.db.runs import last_run_failures_of
    from newsletter.render.text import printable

    address = email.strip()
    with user_errors():
        settings = settings_for_cli()
        db = open_db(settings)
        row = next((r for r in roster_rows(settings, db)[0] if r["email"].lower() == address.lower()), None)
        votes = vote_store.select(db, email=address)
        papers = papers_by_id(db, [v.arxiv_id for v in votes])
        if row is None and not votes:
            raise UserError(f"{address} is not in {settings.subscribers} and has no votes")
    if row is None:
        out.print(f"{escape(address)}: not on the roster {settings.subscribers}")
    else:
        last = f"{row['last_digest']} {row['last_status']}" if row["last_digest"] else "none yet"
        left = f"left {str(row['left_at'])[:10]} ({row['left_how']})"
        status = row["status"] if row["status"] == "active" else left
        name = escape(row["name"] or "no name")
        out.print(f"{escape(row['email'])} ({name}): {status}; last digest: {last}")
        day, failures = last_run_failures_of(db, row["email"])
        for reason in failures:  # e.g. not served at all: no digest row says so
            out.print(printable(f"The last run ({day}) failed this reader: {reason}"), markup=False)
        base = load_roster(settings.subscribers, settings).find(address) if row["criteria"] else None
        if base is not None:  # the roster row itself; the reader's own values follow
            authors = "; ".join(base.authors) or "none"
            out.print(escape(f"From the roster: criteria {row['criteria']}; categories"
                             f" {','.join(base.categories) or 'default'}; time zone {base.timezone};"
                             f" send at {base.send_at:%H:%M}; followed authors {authors}"))
            for line in reader_lines(db, address):
                out.print(line, markup=False, highlight=False)
    seeds = [v for v in votes if v.source == "seed"]
    cast = [v for v in votes if v.source != "seed"]
    ups = sum(v.vote == "up" for v in cast)
    out.print(f"Votes: {len(cast)} ({ups} up, {len(cast) - ups} down); seed papers: {len(seeds)}")
    for vote in votes:
        paper = papers.get(vote.arxiv_id)
        title = printable(" ".join(paper.title.split()))[:90] if paper else ""
        out.print(printable(vote_line(vote)) + (f"  {title}" if title else ""), markup=False)
    _print_learned([(papers[v.arxiv_id], 1 if v.vote == "up" else -1) for v in votes if v.arxiv_id in papers])


def _print_learned(taught: list[tuple[Paper, int]]) -> None:
    """The terms the ranker weighs most for this reader, from their votes and seeds (as loaded
    for the list above: no second read)."""
    from newsletter.ranking.votes import weighing_terms
    from newsletter.render.text import printable

    liked, disliked = weighing_terms(taught)
    if liked:
        out.print(printable("Weighs most for a paper: " + ", ".join(liked)), markup=False)
    if disliked:
        out.print(printable("Weighs most against: " + ", ".join(disliked)), markup=False)


def reader_lines(db: Any, email: str) -> list[str]:
    """`Set by the reader: …` lines of `show`: each own value (over the roster's) and since when."""
    from newsletter.db import preferences as preference_store
    from newsletter.readers.preferences import describe
    from newsletter.render.text import printable

    own = preference_store.overrides(db, email)
    lines = []
    for name in sorted(own):
        value = own[name]
        shown = describe(name, value.value)
        if name == "criteria":
            shown = f"Criteria: their own text ({len(value.value):,} characters, kept in the database)"
        lines.append(printable(f"Set by the reader: {shown} (since {value.set_at[:16].replace('T', ' ')})"))
    return lines


@app.command("remove")
def remove(email: Annotated[str, typer.Argument(help="The address to take off the roster.")]) -> None:
    """Take a subscriber off the roster (their history stays in the database)."""
    with user_errors():
        settings = settings_for_cli()
        if remove_rows(settings.subscribers, email) == 0:
            raise UserError(f"{email} is not in {settings.subscribers}")
    out.print(f"Removed {email} from {settings.subscribers}.")


@app.command("check")
def check_roster() -> None:
    """Report every problem of the roster and its criteria files at once."""
    with user_errors():
        settings = settings_for_cli()
        roster = load_roster(settings.subscribers, settings)
    for problem in roster.problems:
        out.print(str(problem))
    if unread := _unread_columns(settings.subscribers):
        # a typo (`max_paper`) or a reader's own setting (`frequency`) would otherwise do nothing, silently
        out.print(escape(f"note: {settings.subscribers.name} column(s) {', '.join(map(repr, unread))} are"
                         f" not read (the roster reads {', '.join(COLUMNS + OVERRIDES)}); frequency and"
                         " pauses are each reader's own, on their settings page"))
    if roster.problems:
        raise fail(
            f"{len(roster.problems)} problem(s) in {settings.subscribers};"
            f" {len(roster.subscribers)} valid subscriber(s)"
        )
    out.print(f"{settings.subscribers}: {len(roster.subscribers)} subscriber(s), no problems.")


def _unread_columns(path: Path) -> list[str]:
    """The header's columns that no part of the roster reads."""
    try:
        first = path.read_text(encoding="utf-8-sig", errors="replace").splitlines()[:1]
    except OSError:
        return []
    known = set(COLUMNS) | set(OVERRIDES)
    return [c.strip() for c in next(csv.reader(first), []) if c.strip() and c.strip().lower() not in known]


# The admin's side of sign-ups with NEWSLETTER_SIGNUP=approve (cli/signups.py).
app.command("pending")(signups.pending)
app.command("approve")(signups.approve)
app.command("decline")(signups.decline)
