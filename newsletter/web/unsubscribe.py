"""GET/POST /unsubscribe/{token}: the link in the footer and the RFC 8058 one-click button.

GET only shows a page with a button, because link scanners and mail previews fetch every link.
POST (from that button, or from Gmail/Yahoo with `List-Unsubscribe=One-Click`) unsubscribes and
answers 200 with no redirect; it carries no cookie or auth, the token in the URL is the
credential. An unknown token gets the same 404 page whatever the reason.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import re
import sqlite3

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from newsletter.db import Database, DatabaseError
from newsletter.db import subscribers as subs
from newsletter.readers import leave
from newsletter.web.page import page

log = logging.getLogger(__name__)

_TOKEN = re.compile(r"^[A-Za-z0-9]{16,128}$")


_STYLE = (
    'body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;\n'
    'line-height:1.5}button{font-size:1rem;padding:.6rem 1.2rem;cursor:pointer}'
)


# The same way back as the confirmation mail offers (readers/leave.py): a reader never re-subscribes
# through a page, so a scanner or a stranger with the link cannot either.
_WAY_BACK = ("<p>Changed your mind? Reply to any digest or to the confirmation we sent, and the"
             " admin will add you back.</p>")


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return page(title, body, style=_STYLE, status=status)


def _not_found() -> HTMLResponse:
    return _page("Link not valid", "<p>This unsubscribe link is not valid (any more).</p>", 404)


def mask_address(address: str) -> str:
    """`a***@example.org`: enough for the owner to recognise, little for anyone else."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def _lookup(db: Database, token: str) -> str | None:
    return subs.email_for_token(db, token) if _TOKEN.match(token) else None


async def show(request: Request) -> Response:
    db: Database = request.app.state.db
    token = str(request.path_params["token"])
    try:
        address = await run_in_threadpool(_lookup, db, token)
        suppressed = address is not None and await run_in_threadpool(subs.is_suppressed, db, address)
    except (sqlite3.Error, DatabaseError) as exc:
        log.error("unsubscribe page: database unavailable: %s", exc)
        return _page("Try again later", "<p>Something went wrong on our side.</p>", 503)
    if address is None:
        log.info("unsubscribe page asked for an unknown token")
        return _not_found()
    masked = html.escape(mask_address(address))
    if suppressed:
        return _page("You are unsubscribed", f"<p>{masked} gets no more digests.</p>{_WAY_BACK}")
    return _page(
        "Unsubscribe?",
        f"<p>Stop the arXiv digests to {masked}?</p>"
        '<form method="post" action=""><input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<button type="submit">Unsubscribe</button></form>',
    )


async def confirm(request: Request) -> Response:
    state = request.app.state
    db: Database = state.db
    token = str(request.path_params["token"])
    now: dt.datetime = state.clock()
    try:
        address = await run_in_threadpool(_lookup, db, token)
        if address is None:
            log.info("one-click unsubscribe for an unknown token")
            return _not_found()
        await run_in_threadpool(leave.unsubscribe, db, address, "one-click", now)
    except (sqlite3.Error, DatabaseError) as exc:
        log.error("one-click unsubscribe: could not store it: %s", exc)
        return _page("Try again later", "<p>Something went wrong on our side; please try again.</p>", 503)
    task = None
    transport = getattr(state, "transport", None)
    if transport is not None:  # claim-guarded: sends at most once, retries a failed one
        task = BackgroundTask(leave.send_confirmation, db, address, now,
                              settings=state.settings, transport=transport)
    response = _page("You are unsubscribed",
                     f"<p>{html.escape(mask_address(address))} will get no more digests.</p>{_WAY_BACK}")
    response.background = task
    return response


routes = [Route("/unsubscribe/{token}", show, methods=["GET"]),
          Route("/unsubscribe/{token}", confirm, methods=["POST"])]
