"""GET/POST /signup and /signup/confirm/{id}/{mark}: the public sign-up with double opt-in.

Served only when NEWSLETTER_SIGNUP is `open` or `approve` (web/app.py mounts these routes then;
otherwise they are a 404 like any unknown path). The form POST carries a one-use CSRF token (a MAC
by a server key over its nonce and time, readers/signup.py) and is refused when the browser marks
it cross-site or its Origin is another site's. Every accepted form gets the same "check your
inbox" page, whatever the address's state and also past the address's rate limit; only the
client's own limit gets a page of its own, which says nothing about any address. The confirmation
link's GET shows a button and changes nothing (mail scanners fetch links); its POST confirms.
The client is `request.client.host`: behind a reverse proxy, uvicorn puts the proxy's
X-Forwarded-For there for the proxies FORWARDED_ALLOW_IPS trusts (README, "Sign-up").
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import sqlite3
import time
from urllib.parse import urlsplit

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from newsletter.db import Database, DatabaseError
from newsletter.db.signups import Signup
from newsletter.mail.base import Transport
from newsletter.readers import signup as rules
from newsletter.readers.roster import RosterError
from newsletter.readers.signup_confirm import Outcome, confirm
from newsletter.readers.signup_mail import send_confirmation
from newsletter.readers.votes import form_token, form_token_ok
from newsletter.settings import Settings
from newsletter.web import signup_pages as pages
from newsletter.web.unsubscribe import mask_address
from newsletter.web.vote import form_fields

log = logging.getLogger(__name__)

# The form url-encoded: the page lets a description run to 16,384 characters, up to 4 UTF-8 bytes
# each and 3 characters (%XX) a byte: 192 KiB, plus the rest. Such a text is then refused by its
# own cap (in bytes) with a message beside the field, not by this one.
MAX_FORM_BYTES = 256 * 1024
MAIL_DELAY = 0.25  # seconds between the answer and the confirmation mail's work (see _mail_later)
_FIELDS = ("email", "categories", "criteria", "seeds")


def _unavailable(exc: Exception) -> HTMLResponse:
    log.error("sign-up page: %s", exc)
    return pages.refused("Try again later", "Something went wrong on our side; nothing was changed.", 503)


def _cross_site(request: Request, settings: Settings) -> bool:
    """The browser says so (Sec-Fetch-Site), or the Origin is neither ours nor this request's."""
    if request.headers.get("sec-fetch-site", "").lower() == "cross-site":
        return True
    origin = request.headers.get("origin")
    # None: an older browser or a script. "null": what browsers send from our own pages, whose
    # Referrer-Policy is no-referrer. Either way the CSRF token decides alone.
    if origin is None or origin == "null":
        return False
    ours = {f"{p.scheme}://{p.netloc}" for p in (urlsplit(settings.public_url), request.url)}
    return origin.rstrip("/") not in ours


async def show_form(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    try:
        token = await run_in_threadpool(rules.new_form, request.app.state.db, request.app.state.clock())
    except (sqlite3.Error, DatabaseError) as exc:
        return _unavailable(exc)
    return pages.form_page(token, {}, {}, default_categories=settings.categories)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def submit(request: Request) -> Response:
    state = request.app.state
    settings: Settings = state.settings
    db: Database = state.db
    now: dt.datetime = state.clock()
    fields = await form_fields(request, max_bytes=MAX_FORM_BYTES, max_fields=8)
    if _cross_site(request, settings):
        log.info("sign-up: refused a cross-site post")
        return pages.refused("Not sent", "This request did not come from the sign-up page.", 403)
    if fields is None:
        return pages.refused("Not sent", "This form is far too long (or not a form): nothing was sent.", 413)
    try:
        check = await run_in_threadpool(rules.check_form, db, fields.get("nonce", ""),
                                        fields.get("csrf", ""), now)
        if check != "ok":
            log.info("sign-up: refused a %s form", check)
            said = "was sent already" if check == "replayed" else "has expired or did not come from this site"
            return pages.refused("Not sent", f"This form {said}: open the sign-up page again.", 403)
        token = await run_in_threadpool(rules.new_form, db, now)
        request_or_problems = rules.validate(fields)
        if isinstance(request_or_problems, dict):
            values = {name: fields.get(name, "") for name in _FIELDS}
            return pages.form_page(token, values, request_or_problems, status=400,
                                   default_categories=settings.categories)
        admission, signup = await run_in_threadpool(rules.admit, db, request_or_problems,
                                                    _client(request), now)
    except (sqlite3.Error, DatabaseError) as exc:
        return _unavailable(exc)
    if admission == "client-limit":
        log.info("sign-up: a client past its limit")
        return pages.too_many()
    response = pages.check_inbox(request_or_problems.email)
    if signup is None:  # the address is past its limit: the same page, and no mail
        log.info("sign-up: an address past its limit")
        return response
    response.background = BackgroundTask(_mail_later, db, signup, settings=settings,
                                         transport=getattr(state, "transport", None), now=now)
    return response


def _mail_later(db: Database, signup: Signup, *, settings: Settings, transport: Transport | None,
                now: dt.datetime) -> None:
    """The confirmation, once the answer is out. Composing and writing a mail holds the GIL for
    milliseconds; started at once, it slowed the answer's delivery for every address that gets a
    mail and not for one that does not (a bounced one), which a stranger could time."""
    time.sleep(MAIL_DELAY)
    send_confirmation(db, signup, settings=settings, transport=transport, now=now)


_REFUSED = {"forged": ("Link not valid", "This confirmation link is not valid.", 404),
            "expired": ("Link expired", "This confirmation link has expired: please sign up again.", 410)}


def _path(request: Request) -> str:
    return str(request.url.path)


def _button(request: Request, db: Database, signup: Signup, now: dt.datetime, label: str) -> str:
    csrf = form_token(rules.key(db, now), f"signup-confirm-form|{signup.id}", now)
    return pages.button(_path(request), csrf, label)


async def _target(request: Request, db: Database, now: dt.datetime) -> Signup | HTMLResponse:
    p = request.path_params
    found = await run_in_threadpool(rules.check_link, db, str(p["signup_id"]), str(p["mark"]), now)
    if isinstance(found, str):
        log.info("sign-up confirmation link refused: %s", found)
        title, text, status = _REFUSED[found]
        again = '<p><a href="/signup">Sign up again</a></p>' if found == "expired" else ""
        return pages.answer(title, f"<p>{html.escape(text)}</p>{again}", status)
    return found


async def show_confirm(request: Request) -> Response:
    """The landing page of the link: a button, never a change."""
    db: Database = request.app.state.db
    now: dt.datetime = request.app.state.clock()
    try:
        found = await _target(request, db, now)
        if isinstance(found, HTMLResponse):
            return found
        if found.status != "unconfirmed":
            return _outcome(request.app.state.settings, found, found.status)
        form = await run_in_threadpool(_button, request, db, found, now, "Confirm my sign-up")
    except (sqlite3.Error, DatabaseError) as exc:
        return _unavailable(exc)
    masked = html.escape(mask_address(found.email))
    return pages.answer("Confirm your sign-up", f"<p>Start the arXiv digest for {masked}?</p>"
                        f"{pages.request_summary(found.categories, found.criteria, found.seeds)}{form}")


async def press_confirm(request: Request) -> Response:
    state = request.app.state
    db: Database = state.db
    now: dt.datetime = state.clock()
    fields = await form_fields(request)
    if _cross_site(request, state.settings) or fields is None:
        return pages.refused("Not confirmed", "This request did not come from the confirmation page.", 403)
    try:
        found = await _target(request, db, now)
        if isinstance(found, HTMLResponse):
            return found
        key = await run_in_threadpool(rules.key, db, now)
        if not form_token_ok(key, f"signup-confirm-form|{found.id}", fields.get("csrf", ""), now,
                             max_age=rules.FORM_MAX_AGE):
            return pages.refused("Not confirmed", "This page has expired: open the link in the mail"
                                 " again.", 403)
        outcome = await run_in_threadpool(confirm, db, state.settings, found, now)
        retry = await run_in_threadpool(_button, request, db, found, now, "Try again")
    except (sqlite3.Error, DatabaseError, RosterError) as exc:
        return _unavailable(exc)
    return _outcome(state.settings, found, outcome, retry=retry)


def _outcome(settings: Settings, signup: Signup, outcome: Outcome, *, retry: str = "") -> HTMLResponse:
    masked = html.escape(mask_address(signup.email))
    if outcome == "added":
        # the form asks no time zone: say when the digest comes, and where to change it
        when = f"at {settings.send_at:%H:%M} ({html.escape(settings.timezone)})"
        where = (" Each digest links to your settings (time, time zone, daily or weekly, pause) and"
                 " says how to leave." if settings.self_service else " Each digest says how to leave.")
        return pages.answer("You are subscribed", f"<p>{masked} gets the digest from the next arXiv"
                            f" morning on, {when}.{where}</p>")
    if outcome == "pending":
        return pages.answer("Thank you", f"<p>Your address {masked} is confirmed. The admin looks at each"
                            " sign-up; you get a welcome mail when yours is approved.</p>")
    if outcome == "already":
        return pages.answer("Already subscribed",
                            f"<p>{masked} already gets the digest: nothing changed.</p>")
    if outcome == "suppressed":
        admin = settings.admin_email.strip()
        how = (f'write to the admin at <a href="mailto:{html.escape(admin)}">{html.escape(admin)}</a>'
               if admin else "reply to the mail that brought you this link: the admin reads it")
        return pages.answer("Write to the admin", f"<p>{masked} unsubscribed earlier, and a form cannot"
                            f" subscribe it again. To come back, {how}.</p>")
    if outcome == "no-seeds":
        return pages.answer("Nothing to go by", "<p>arXiv knows none of the papers you named, so there is"
                            " nothing to choose papers by. Please sign up again with a few words about what"
                            ' you want to read.</p><p><a href="/signup">Sign up again</a></p>', 422)
    return pages.answer("Try again in a few minutes", "<p>We could not reach arXiv to look up the papers you"
                        f" named. Nothing changed; the link still works.</p>{retry}", 503)


routes = [
    Route("/signup", show_form, methods=["GET"]),
    Route("/signup", submit, methods=["POST"]),
    Route("/signup/confirm/{signup_id}/{mark}", show_confirm, methods=["GET"]),
    Route("/signup/confirm/{signup_id}/{mark}", press_confirm, methods=["POST"]),
]
