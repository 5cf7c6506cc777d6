"""What pressing the confirmation button does, and the admin's `approve` / `decline`.

Only here, after the owner of the address has opened our mail, does anything look at whether the
address is subscribed or suppressed, and only here may the page say so. A suppressed address is
never resubscribed by a form: the owner is told to write to the admin (who can `subscribers add
--resubscribe`). In `open` mode the reader is added as `subscribers add` adds one (readers/enrol.py),
the seed papers fetched from the arXiv API now, at the first moment the address is proven: an
unconfirmed form never makes us call arXiv.
"""

from __future__ import annotations

import datetime as dt
import logging
import unicodedata
from collections.abc import Sequence
from typing import Literal

from newsletter.db import Database
from newsletter.db import signups as store
from newsletter.db import subscribers as subs
from newsletter.db.signups import Signup
from newsletter.fetch.errors import FetchError
from newsletter.models import Paper, Subscriber
from newsletter.readers.criteria import criteria_text
from newsletter.readers.enrol import NewReader, add_reader_with_text
from newsletter.readers.roster import RosterError, load_roster
from newsletter.readers.seeds import SeedList, fetch_seeds, record_seeds
from newsletter.settings import Settings

log = logging.getLogger(__name__)

Outcome = Literal["added", "pending", "already", "suppressed", "no-seeds", "arxiv-down"]


class NoSeeds(ValueError):
    """Only seed papers were named and arXiv knows none of them: there is no criteria text."""


def on_roster(settings: Settings, email: str) -> bool:
    try:
        return load_roster(settings.subscribers, settings).find(email) is not None
    except RosterError:  # no roster yet: nobody is on it
        return False


def criteria_from_seeds(papers: Sequence[Paper]) -> str:
    """The criteria text of a reader who named papers only: their titles. The seeds, stored as
    likes, teach the local ranker; this gives the LLM judge (and the digest's footer) words to
    read. The reader can rewrite it (the admin edits the file)."""
    def clean(title: str) -> str:
        return "".join(c for c in " ".join(title.split()) if unicodedata.category(c) != "Cc")

    if not papers:
        raise NoSeeds("none of the papers named is known to arXiv")
    lines = [f"{n}. {clean(p.title)} (arXiv:{p.arxiv_id})" for n, p in enumerate(papers, start=1)]
    return criteria_text("Papers like these, which I liked:\n\n" + "\n".join(lines))


def enrol_signup(settings: Settings, signup: Signup, papers: Sequence[Paper]) -> Subscriber:
    """The roster row and criteria file of a confirmed sign-up (raises NoSeeds, RosterError)."""
    text = signup.criteria or criteria_from_seeds(papers)
    reader = NewReader(email=signup.email, categories=",".join(signup.categories))
    return add_reader_with_text(settings, reader, text)


def lookup_seeds(settings: Settings, signup: Signup, db: Database) -> tuple[Paper, ...]:
    """The sign-up's seed papers: stored ones from the database, the others from the arXiv API
    (FetchError when it cannot be asked)."""
    return fetch_seeds(settings, SeedList(signup.seeds, ()), db).papers


def confirm(db: Database, settings: Settings, signup: Signup, now: dt.datetime) -> Outcome:
    """The button on the confirmation page. Safe to press twice."""
    if signup.status in ("added", "pending"):
        return signup.status
    if subs.is_suppressed(db, signup.email):
        log.info("a suppressed address confirmed a sign-up: told to write to the admin")
        return "suppressed"
    if on_roster(settings, signup.email):
        return "already"
    if settings.signup == "approve":
        store.mark(db, signup.id, "pending", now)
        log.info("sign-up confirmed: waiting for the admin (newsletter subscribers pending)")
        return "pending"
    try:
        papers = lookup_seeds(settings, signup, db) if signup.seeds else ()
        subscriber = enrol_signup(settings, signup, papers)
    except FetchError as exc:
        log.warning("sign-up confirmation: the arXiv API did not answer for the seed papers: %s", exc)
        return "arxiv-down"
    except NoSeeds:
        return "no-seeds"
    except RosterError:
        if on_roster(settings, signup.email):  # the same button pressed twice at once
            return "already"
        raise
    record_seeds(db, subscriber.email, papers, now)
    store.mark(db, signup.id, "added", now)
    log.info("sign-up confirmed: added to the roster on line %d", subscriber.row)
    return "added"
