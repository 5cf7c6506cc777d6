"""POST /inbound: SendGrid Inbound Parse — replies to a digest (unsubscribe, votes or feedback).

SendGrid drops a mail it gets a 4xx for and retries a 5xx for three days, so: 401 only for bad
credentials, 400 for a body that is not an Inbound Parse form at all (413 if it was also cut at
the read cap), 500 only when nothing could be stored, and 200 for everything else — an unknown
token, automatic mail, a mail of any size or with any number of attachments too. Only the text
fields are read, each up to its cap; attachments stream past unread (see form_fields.py).
The subscriber is whoever owns the token in the envelope recipient; `From` is never trusted.
Tokens are credentials: they are never logged. Reading the mail itself is `inbound_parse.py`'s.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from dataclasses import dataclass
from typing import Literal

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from newsletter.db import Database, DatabaseError
from newsletter.db import subscribers as subs
from newsletter.readers import leave
from newsletter.readers.feedback import record_feedback
from newsletter.readers.replies import Reply, above_quote, asks_to_leave, automatic_reason
from newsletter.readers.reply_votes import handle_vote_reply
from newsletter.settings import Settings
from newsletter.web.auth import unauthorized, webhook_authorized
from newsletter.web.form_fields import MalformedForm, read_fields
from newsletter.web.inbound_parse import parse_fields, reply_tokens

log = logging.getLogger(__name__)

# SendGrid posts mails of up to 30 MB; past twice that, reading stops and what was read is used.
MAX_INBOUND_BYTES = 64 * 1024 * 1024
_MIB = 1024 * 1024
# The fields read, each kept up to its cap (bytes); every other field and every file streams past.
# Raw mode's `email` holds the whole MIME message, attachments too: its first 2 MiB hold the
# headers and the text parts (mail clients put attachments last), and parsing them stays cheap.
FIELD_CAPS = {"email": 2 * _MIB, "headers": _MIB, "text": _MIB, "html": _MIB, "subject": 64 * 1024,
              "from": 64 * 1024, "to": 64 * 1024, "envelope": 64 * 1024, "charsets": 64 * 1024}

Outcome = Literal["automatic", "not-for-us", "unknown-token", "unsubscribed", "already-unsubscribed",
                  "feedback", "duplicate", "unreadable", "votes", "reset"]


@dataclass(frozen=True, slots=True)
class Handled:
    outcome: Outcome
    email: str | None = None


def handle_reply(reply: Reply, *, db: Database, settings: Settings, now: dt.datetime) -> Handled:
    """Decide and store. Raises sqlite3/Database errors when nothing could be stored."""
    reason = automatic_reason(reply)
    if reason is not None:
        log.info("ignored automatic mail (%s)", reason)
        return Handled("automatic")
    tokens = reply_tokens(reply.recipients, settings.reply_domain)
    if not tokens:
        domains = sorted({r.rpartition("@")[2].lower() for r in reply.recipients})
        log.warning("inbound mail not addressed to a reply address at %s (domains: %s)",
                    settings.reply_domain, ", ".join(domains) or "none")
        return Handled("not-for-us")
    address = next((a for a in (subs.email_for_token(db, t) for t in tokens) if a), None)
    if address is None:
        log.warning("inbound mail to an unknown reply token; ignored")
        return Handled("unknown-token")
    if asks_to_leave(reply.subject, reply.text):
        words = above_quote(reply.text).split("\n", 1)[0] or reply.subject
        result = leave.unsubscribe(db, address, "reply", now, message_id=reply.message_id,
                                   detail=words[:200])
        return Handled("unsubscribed" if result.newly_suppressed else "already-unsubscribed", address)
    # Only votes (`+3 -7`, `more 3`) or `reset`: recorded, not kept for the admin.
    voted = handle_vote_reply(db, address, above_quote(reply.text), reply.headers, now)
    if voted.outcome != "feedback":
        return Handled(voted.outcome, address)
    if voted.why:
        log.info("kept a reply as feedback: %s", voted.why)
    body = above_quote(reply.text) or reply.text.strip()
    stored = record_feedback(db, email=address, subject=reply.subject, body=body, now=now,
                             message_id=reply.message_id, from_header=reply.from_header)
    log.info("kept a reply from %s as feedback", address)
    return Handled("feedback" if stored else "duplicate", address)


async def inbound(request: Request) -> Response:
    if not webhook_authorized(request):
        log.warning("inbound: refused a post with missing or wrong credentials")
        return unauthorized()
    state = request.app.state
    limit: int = getattr(state, "inbound_max_bytes", MAX_INBOUND_BYTES)
    try:
        form = await read_fields(request.headers.get("content-type", ""), request.stream(),
                                 caps=FIELD_CAPS, max_bytes=limit)
    except MalformedForm as exc:
        log.warning("inbound: malformed form (%s)", exc)
        return PlainTextResponse("malformed form\n", status_code=400)
    if form.cut or form.skipped_files or not form.complete:
        log.info("inbound: read %d bytes%s; kept the start of %s; skipped %d attachment(s)",
                 form.read_bytes, "" if form.complete else f" (stopped at the {limit}-byte cap)",
                 ", ".join(form.cut) or "no field", form.skipped_files)
    fields = form.fields
    if not any(name in fields for name in ("email", "headers", "envelope", "to")):
        if not form.complete:
            log.warning("inbound: refused a body over %d bytes without Inbound Parse fields", limit)
            return PlainTextResponse("body too large\n", status_code=413)
        log.warning("inbound: a post without Inbound Parse fields")
        return PlainTextResponse("not an Inbound Parse post\n", status_code=400)

    settings: Settings = state.settings
    db: Database = state.db
    now: dt.datetime = state.clock()
    try:
        reply = await run_in_threadpool(parse_fields, fields)  # a big mail must not stall the loop
    except Exception as exc:  # a mail the stdlib cannot read: retrying it for 3 days won't help
        log.error("inbound: could not parse a mail (%s); ignored", type(exc).__name__)
        return PlainTextResponse("ok: unreadable\n")
    try:
        handled = await run_in_threadpool(handle_reply, reply, db=db, settings=settings, now=now)
    except (sqlite3.Error, DatabaseError) as exc:
        log.error("inbound: could not store a reply (SendGrid will retry): %s", exc)
        return PlainTextResponse("could not store, try again later\n", status_code=500)

    task = None
    transport = getattr(state, "transport", None)
    leaving = handled.outcome in ("unsubscribed", "already-unsubscribed")
    if leaving and transport is not None and handled.email:
        task = BackgroundTask(leave.send_confirmation, db, handled.email, now,
                              settings=settings, transport=transport)
    return PlainTextResponse(f"ok: {handled.outcome}\n", background=task)


routes = [Route("/inbound", inbound, methods=["POST"])]
