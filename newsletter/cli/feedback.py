"""`newsletter feedback`: what readers said — their replies and their votes —,
`newsletter feedback add EMAIL ARXIV_ID up|down`, a vote recorded as if the reader clicked, and
`newsletter feedback seed EMAIL --like …`, seed papers for a reader already on the roster."""

from __future__ import annotations

import re
from typing import Annotated

import typer
from rich.markup import escape

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
from newsletter.clock import utc_now
from newsletter.db.votes import Vote
from newsletter.models import split_arxiv_id
from newsletter.render.text import printable

app = typer.Typer(help="What readers said: replies and votes; votes and seed papers recorded for them.")

_ARXIV_ID = re.compile(r"^(\d{4}\.\d{4,5}|[a-z-]+(\.[A-Z]{2})?/\d{7})$")
_WORDS = {"up": "up", "more": "up", "down": "down", "less": "down"}


def arxiv_id_of(raw: str) -> str:
    """'2508.20020', 'arXiv:2508.20020v2' or an arxiv.org/abs|pdf URL → '2508.20020'."""
    text = re.sub(r"^(https?://(www\.|export\.)?arxiv\.org/(abs|pdf)/|arxiv:)", "", raw.strip(), flags=re.I)
    base, _ = split_arxiv_id(text.removesuffix(".pdf"))
    if not _ARXIV_ID.match(base):
        raise UserError(f"{raw!r} is not an arXiv id (e.g. 2508.20020)")
    return base


def vote_line(vote: Vote) -> str:
    digest = f"digest {vote.digest_date}" if vote.digest_date else "no digest"
    when = vote.at[:16].replace("T", " ")
    return f"{when} {vote.email} {vote.vote:<4} {vote.arxiv_id} ({vote.source}, {digest})"


@app.callback(invoke_without_command=True)
def feedback(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="How many of each, newest first.")] = 50,
) -> None:
    """Replies that were not unsubscribes or votes, then the votes: what readers told us."""
    if ctx.invoked_subcommand is not None:
        return
    from newsletter.db import votes as vote_store
    from newsletter.readers.feedback import list_feedback

    with user_errors():
        db = open_db(settings_for_cli())
        items = list_feedback(db, limit=limit)
        votes = vote_store.select(db, limit=limit)
    if not items and not votes:
        err.print("No feedback yet.")
    for item in items:  # a reader's text without control characters: no escape codes reach the terminal
        email, subject = escape(printable(item.email)), escape(printable(item.subject))
        out.print(f"[bold]{item.received_at:%Y-%m-%d %H:%M}[/bold] {email}: {subject}")
        out.print(printable(item.body).strip()[:2000], markup=False)
        out.print()
    if votes:
        out.print("[bold]Votes[/bold] (up: more like this, down: less like this)")
    for vote in votes:
        out.print(printable(vote_line(vote)), markup=False)


@app.command("add")
def add(
    email: Annotated[str, typer.Argument(help="The reader's address.")],
    arxiv_id: Annotated[str, typer.Argument(help="The paper, e.g. 2508.20020.")],
    vote: Annotated[str, typer.Argument(help="up (more like this) or down (less like this).")],
) -> None:
    """Record a vote for a reader, as their click would (the paper must have been in one of
    their digests)."""
    from newsletter.readers.votes import VoteRefused, record_vote

    direction = _WORDS.get(vote.strip().lower())
    with user_errors():
        if direction is None:
            raise UserError(f"the vote is 'up' or 'down', not {vote!r}")
        paper = arxiv_id_of(arxiv_id)
        db = open_db(settings_for_cli())
        try:
            stored = record_vote(db, email.strip(), paper, "up" if direction == "up" else "down",
                                 source="admin", now=utc_now())
        except VoteRefused as exc:
            # the refusal is right for a click, but the admin importing likes has a command for it
            hint = (f"; to store it as a paper they like, `newsletter feedback seed {email.strip()}"
                    f" --like {paper}`") if direction == "up" else ""
            raise UserError(f"{exc}{hint}") from None
    said = {"new": "Recorded", "changed": "Changed to", "same": "Already recorded:"}[stored]
    out.print(f"{said} {direction} on {paper} for {escape(email.strip())}.")


@app.command("seed")
def seed(
    email: Annotated[str, typer.Argument(help="The reader's address (on the roster).")],
    like: LikeOption = "",
    like_file: LikeFileOption = None,
) -> None:
    """Store seed papers as likes of a reader on the roster, as `subscribers add --like` does; a
    paper the reader voted on keeps that vote."""
    from newsletter.cli.seeds import fetch_seeds, store_seeds
    from newsletter.readers.roster import load_roster

    if not like and like_file is None:
        raise fail("name the seed papers: --like IDS and/or --like-file FILE", 2)
    with user_errors():
        settings = settings_for_cli()
        roster = load_roster(settings.subscribers, settings)
    reader = roster.find(email.strip())
    if reader is None:  # before any fetch: a typo costs no API call
        raise fail(f"{roster.why_not_served(email.strip())}; add a new reader with"
                   " `newsletter subscribers add EMAIL --criteria PATH --like …`", 2)
    with user_errors():
        db = open_db(settings)
        seeds = fetch_seeds(settings, like, like_file, db, otherwise="")
        store_seeds(db, reader.email, seeds, likes="likes")
    if not seeds.papers:
        raise fail("none of the seed papers could be used: nothing stored")
