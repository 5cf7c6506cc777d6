"""Sign-up with double opt-in: what the public page accepts, how it is limited, how it is signed.

Nobody has a reader token yet, so a server key (newsletter/db/server_keys.py) keys the MACs: the
form's CSRF token (purpose, time, a one-use nonce) and the confirmation link (sign-up id, time;
good for `LINK_MAX_AGE`). The page answers every accepted form alike: nothing here looks at
whether the address is subscribed, pending or suppressed until its owner presses the link
(newsletter/readers/signup_confirm.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, TypeVar

from email_validator import EmailNotValidError, validate_email

from newsletter.db import Database
from newsletter.db import signups as store
from newsletter.db.server_keys import server_key
from newsletter.db.signups import Admission, Signup
from newsletter.db.subscribers import new_token
from newsletter.readers.criteria import criteria_text
from newsletter.readers.roster import split_list
from newsletter.readers.seeds import parse_seeds
from newsletter.readers.votes import form_token, form_token_ok
from newsletter.taxonomy import category_problem

KEY_PURPOSE = "signup"
# A confirmation link works this long: two days covers a weekend's unread mail; past it the
# pending row goes and the page must be filled in again.
LINK_MAX_AGE = dt.timedelta(hours=48)
# A sign-up form is filled in within minutes; a short life bounds what a harvested token is worth.
FORM_MAX_AGE = dt.timedelta(hours=2)
# Per address: 3 a day lets a person fix a mistake twice, and caps the mail a stranger can make us
# send to someone else's inbox at three a day.
ADDRESS_LIMIT = (dt.timedelta(days=1), 3)
# Per client: 10 an hour lets a lab behind one NAT sign up together; a script on one host gets
# 10 mails an hour out of us, no more.
CLIENT_LIMIT = (dt.timedelta(hours=1), 10)
# The criteria text a stranger may store: 4x the longest real one in criteria/ (4.3 kB).
CRITERIA_MAX_BYTES = 16 * 1024
# "A few" papers: enough to start the reader's ranker, and one arXiv API request at confirmation.
MAX_SEEDS = 10
MAX_CATEGORIES = 20

FormCheck = Literal["ok", "expired", "replayed"]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SignupRequest:
    """A sign-up form that passed every check."""

    email: str
    categories: tuple[str, ...]
    criteria: str  # '' when only seed papers were named
    seeds: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FormToken:
    nonce: str
    csrf: str


def key(db: Database, now: dt.datetime) -> str:
    return server_key(db, KEY_PURPOSE, now)


def new_form(db: Database, now: dt.datetime) -> FormToken:
    """The hidden fields of a fresh form: a nonce, and the MAC over it and the time."""
    nonce = secrets.token_urlsafe(16)
    return FormToken(nonce, form_token(key(db, now), f"signup-form|{nonce}", now))


def check_form(db: Database, nonce: str, csrf: str, now: dt.datetime) -> FormCheck:
    """Is this POST from a form we made within `FORM_MAX_AGE`, sent for the first time? A valid
    form is used up by this check, whatever happens to the sign-up it carries."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{16,64}", nonce) or not form_token_ok(
            key(db, now), f"signup-form|{nonce}", csrf, now, max_age=FORM_MAX_AGE):
        return "expired"
    return "ok" if store.use_nonce(db, nonce, now) else "replayed"


def _address(value: str) -> str:
    try:
        return str(validate_email(value.strip(), check_deliverability=False).normalized)
    except EmailNotValidError as exc:
        raise ValueError(f"This is not an email address: {exc}") from None


def _categories(value: str) -> tuple[str, ...]:
    names = split_list(value.replace(" ", ","))
    if not names:
        raise ValueError("Name at least one arXiv category, e.g. cs.CV.")
    if len(names) > MAX_CATEGORIES:
        raise ValueError(f"At most {MAX_CATEGORIES} categories.")
    problems = [problem for name in names if (problem := category_problem(name))]
    if problems:
        said = "; ".join(problems)
        raise ValueError(said if said.endswith("?") else said + ".")
    return tuple(dict.fromkeys(names))


def _seeds(value: str) -> tuple[str, ...]:
    if not value.strip():
        return ()
    found = parse_seeds([value])  # its ValueError (far too many) says what is wrong already
    if found.skipped:
        raise ValueError("Not arXiv papers: " + "; ".join(found.skipped) + ".")
    if len(found.ids) > MAX_SEEDS:
        raise ValueError(f"Name at most {MAX_SEEDS} papers ({len(found.ids)} given).")
    return found.ids


def _criteria(value: str) -> str:
    if not value.strip():
        return ""
    try:
        return criteria_text(value, max_bytes=CRITERIA_MAX_BYTES)
    except ValueError as exc:
        raise ValueError(f"The description {exc}.") from None


def _checked(problems: dict[str, str], name: str, parse: Callable[[str], T],
             fields: Mapping[str, str]) -> T | None:
    try:
        return parse(fields.get(name, ""))
    except ValueError as exc:
        problems[name] = str(exc)
        return None


def validate(fields: Mapping[str, str]) -> SignupRequest | dict[str, str]:
    """The request, or per field what is wrong with it (for the page to show beside the field)."""
    problems: dict[str, str] = {}
    email = _checked(problems, "email", _address, fields)
    categories = _checked(problems, "categories", _categories, fields)
    criteria = _checked(problems, "criteria", _criteria, fields)
    seeds = _checked(problems, "seeds", _seeds, fields)
    if not problems and not criteria and not seeds:
        problems["criteria"] = "Describe what you want to read, or name a few papers you like (or both)."
    if problems or email is None or categories is None:
        return problems
    return SignupRequest(email=email, categories=categories, criteria=criteria or "", seeds=seeds or ())


def keyed(db: Database, kind: str, value: str, now: dt.datetime) -> str:
    """A MAC of an address or a client IP: the limits compare these, and neither is stored."""
    digest = hmac.new(key(db, now).encode(), f"{kind}|{value.strip().lower()}".encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def admit(db: Database, request: SignupRequest, client: str,
          now: dt.datetime) -> tuple[Admission, Signup | None]:
    """Count the sign-up against the limits and, within them, store it as unconfirmed."""
    store.prune(db, now, attempts_before=now - max(ADDRESS_LIMIT[0], CLIENT_LIMIT[0]),
                nonces_before=now - FORM_MAX_AGE - dt.timedelta(minutes=10))
    admission = store.admit(db, client=keyed(db, "client", client, now),
                            address=keyed(db, "address", request.email, now), now=now,
                            client_window=CLIENT_LIMIT, address_window=ADDRESS_LIMIT)
    if admission != "ok":
        return admission, None
    signup = Signup(id=new_token(), email=request.email, categories=request.categories,
                    criteria=request.criteria, seeds=request.seeds, status="unconfirmed",
                    created_at=now, expires_at=now + LINK_MAX_AGE, confirmed_at=None)
    store.create(db, signup)
    return admission, signup


def confirm_path(db: Database, signup: Signup) -> str:
    """`/signup/confirm/<id>/<time>.<MAC>`: the id is 160 random bits, the MAC (server key) binds
    it to the time the link was made, which `check_link` measures `LINK_MAX_AGE` from."""
    mark = form_token(key(db, signup.created_at), f"signup-confirm|{signup.id}", signup.created_at)
    return f"/signup/confirm/{signup.id}/{mark}"


LinkRefusal = Literal["forged", "expired"]


def check_link(db: Database, signup_id: str, mark: str, now: dt.datetime) -> Signup | LinkRefusal:
    """The sign-up a confirmation link names, or why it names none. Reads only."""
    if not re.fullmatch(r"[a-z0-9]{16,64}", signup_id) or not re.fullmatch(r"\d{1,12}\.[a-z0-9]{1,32}", mark):
        return "forged"
    secret = key(db, now)
    subject = f"signup-confirm|{signup_id}"
    # First the MAC alone (any age), so that an altered link and an old one are told apart.
    if not form_token_ok(secret, subject, mark, now, max_age=dt.timedelta(days=3650)):
        return "forged"
    signup = store.get(db, signup_id)
    if signup is None:  # expired and pruned, or declined
        return "expired"
    if not form_token_ok(secret, subject, mark, now, max_age=LINK_MAX_AGE) or now > signup.expires_at:
        return "expired" if signup.status != "pending" else signup
    return signup
