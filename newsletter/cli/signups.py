"""`newsletter subscribers pending|approve|decline`: the admin's side of NEWSLETTER_SIGNUP=approve.

`approve` adds the reader exactly as `subscribers add` does (readers/enrol.py), stores the seed
papers as `--like` does (cli/seeds.py), then mails a short welcome through `compose`. `decline`
drops the sign-up and mails nothing: the admin may have reasons they would rather explain in
their own words, and a sign-up they take for abuse should not bring its address more mail.
"""

from __future__ import annotations

from typing import Annotated

import typer

from newsletter.cli.common import UserError, err, open_db, out, settings_for_cli, user_errors
from newsletter.cli.seeds import fetch_seeds, store_seeds
from newsletter.clock import utc_now
from newsletter.db import signups as store
from newsletter.db import subscribers as subscriber_store
from newsletter.db.signups import Signup
from newsletter.mail.base import SendError
from newsletter.readers.signup_confirm import NoSeeds, enrol_signup, on_roster
from newsletter.readers.signup_mail import welcome_email
from newsletter.render.text import one_line
from newsletter.settings import Settings

_SHOWN = 100  # characters of a criteria text in the list: its start, enough to judge by


def _lines(signup: Signup) -> list[str]:
    confirmed = f"{signup.confirmed_at:%Y-%m-%d %H:%M} UTC" if signup.confirmed_at else "?"
    text = one_line(signup.criteria)
    shown = f"{text[:_SHOWN]}…" if len(text) > _SHOWN else text
    about = shown or "(from the seed papers' titles)"
    return [f"{signup.email} (confirmed {confirmed})",
            f"  categories: {','.join(signup.categories)}",
            f"  seed papers: {', '.join(signup.seeds) or 'none'}",
            f"  criteria: {about}"]


def pending() -> None:
    """Confirmed sign-ups waiting for `approve` or `decline`, oldest first."""
    with user_errors():
        settings = settings_for_cli()
        waiting = store.pending(open_db(settings))
    if not waiting:
        out.print("No sign-ups are waiting for approval.")
        return
    out.print(f"{len(waiting)} sign-up(s) waiting for approval:")
    for signup in waiting:
        for line in _lines(signup):
            out.print(line, markup=False, highlight=False)
    if settings.signup != "approve":
        out.print(f"(NEWSLETTER_SIGNUP is {settings.signup}: no new ones wait for you now)")


def _waiting(settings: Settings, email: str) -> Signup:
    signup = store.pending_for(open_db(settings), email.strip())
    if signup is None:
        raise UserError(f"no sign-up of {email} is waiting for approval"
                        " (see `newsletter subscribers pending`)")
    return signup


def approve(email: Annotated[str, typer.Argument(help="The address of a pending sign-up.")]) -> None:
    """Add a pending sign-up to the roster, as `subscribers add` would, and mail a welcome."""
    from newsletter.daily.wiring import build_transport

    with user_errors():
        settings = settings_for_cli()
        db = open_db(settings)
        signup = _waiting(settings, email)
        if subscriber_store.is_suppressed(db, signup.email):
            raise UserError(f"{signup.email} unsubscribed since signing up: decline, or add them with"
                            " `subscribers add --resubscribe` if they asked to come back")
        if on_roster(settings, signup.email):
            store.mark(db, signup.id, "added", utc_now())
            raise UserError(f"{signup.email} is on {settings.subscribers} already; the sign-up is closed")
        seeds = fetch_seeds(settings, ",".join(signup.seeds), None, db)
        try:
            subscriber = enrol_signup(settings, signup, seeds.papers)
        except NoSeeds:
            raise UserError(f"arXiv knows none of {signup.email}'s seed papers and they gave no criteria"
                            " text: decline, or write them a criteria file and `subscribers add`") from None
        store.mark(db, signup.id, "added", utc_now())
        criteria = subscriber.criteria_path.relative_to(settings.subscribers.resolve().parent)
        out.print(f"Added {subscriber.email} to {settings.subscribers} (line {subscriber.row}),"
                  f" criteria in {criteria}.", markup=False, highlight=False)
        store_seeds(db, subscriber.email, seeds)
        now = utc_now()
        message = welcome_email(subscriber, token=subscriber_store.token_for(db, subscriber.email, now),
                                settings=settings, now=now)
    try:
        build_transport(settings).send(message)
    except SendError as exc:
        err.print(f"could not send the welcome mail: {exc} (the reader is added all the same)",
                  markup=False, highlight=False)
        return
    out.print(f"Sent a welcome mail to {subscriber.email}.", markup=False, highlight=False)


def decline(email: Annotated[str, typer.Argument(help="The address of a pending sign-up.")]) -> None:
    """Drop a pending sign-up. No mail is sent."""
    with user_errors():
        settings = settings_for_cli()
        signup = _waiting(settings, email)
        store.drop(open_db(settings), signup.id)
    out.print(f"Declined the sign-up of {signup.email}; no mail was sent.", markup=False, highlight=False)
