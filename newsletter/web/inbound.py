"""POST /inbound: SendGrid Inbound Parse — replies to a digest (unsubscribe, votes or feedback).

SendGrid drops a mail it gets a 4xx for and retries a 5xx for three days, so: 401 only for bad
credentials, 400 for a body that is not an Inbound Parse form at all (413 if it was also cut at
the read cap), 500 only when nothing could be stored, and 200 for everything else — an unknown
token, automatic mail, a mail of any size or with any number of attachments too. Only the text
fields are read, each up to its cap; attachments stream past unread (see form_fields.py).
The subscriber is whoever owns the token in the envelope recipient; `From` is never trusted.
Tokens are credentials: they are never logged.
"""

from __future__ import annotations

import codecs
import datetime as dt
import email
import json
import logging
import re
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from email import policy
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses
from typing import Literal

from lxml import etree
from lxml import html as lxml_html
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

log = logging.getLogger(__name__)

# SendGrid posts mails of up to 30 MB; past twice that, reading stops and what was read is used.
MAX_INBOUND_BYTES = 64 * 1024 * 1024
_MIB = 1024 * 1024
# The fields read, each kept up to its cap (bytes); every other field and every file streams past.
# Raw mode's `email` holds the whole MIME message, attachments too: its first 2 MiB hold the
# headers and the text parts (mail clients put attachments last), and parsing them stays cheap.
FIELD_CAPS = {"email": 2 * _MIB, "headers": _MIB, "text": _MIB, "html": _MIB, "subject": 64 * 1024,
              "from": 64 * 1024, "to": 64 * 1024, "envelope": 64 * 1024, "charsets": 64 * 1024}
# A reader's own words fit many times over; the rest of a long mail is quotes, signatures, junk.
MAX_REPLY_CHARS = 100_000
_TOKEN = re.compile(r"^[a-z0-9]{16,128}$")

Outcome = Literal["automatic", "not-for-us", "unknown-token", "unsubscribed", "already-unsubscribed",
                  "feedback", "duplicate", "unreadable", "votes", "reset"]


def _recode(value: str, charset: str | None) -> str:
    """Undo the form parser's Latin-1 fallback for a field SendGrid says is in another charset."""
    if not charset:
        return value
    try:
        name = codecs.lookup(charset).name
    except LookupError:
        return value
    if name in ("utf-8", "ascii", "latin-1", "iso8859-1"):
        return value
    try:
        return value.encode("latin-1").decode(name)
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


# lxml refuses a str that declares its own encoding; the declaration says nothing about a str.
_XML_DECLARATION = re.compile(r"^[\s\ufeff]*<\?xml[^>]*>")
_SKIPPED = frozenset({"blockquote", "style", "script", "head", "title"})
_BLOCKS = frozenset({"p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"})
_QUOTE_CLASSES = ("gmail_quote", "moz-cite-prefix")  # where mail clients put the quoted message


def _html_to_text(markup: str) -> str:
    """The reader's words in an HTML mail: no quote, style or script; a line per block.

    lxml's parser (C, linear): regexes, and Python 3.11's HTMLParser, took minutes on a crafted
    mail of unclosed tags, and this runs for any sender before a token is checked.
    """
    try:
        document = lxml_html.document_fromstring(_XML_DECLARATION.sub("", markup[:MAX_REPLY_CHARS]))
    except (etree.ParserError, ValueError):  # empty, or nothing but whitespace
        return ""
    parts: list[str] = []
    skipping = 0
    for event, element in etree.iterwalk(document, events=("start", "end", "comment", "pi")):
        tag = element.tag if isinstance(element.tag, str) else None
        if event in ("comment", "pi"):  # its text is hidden, the text after it is not
            parts.append("" if skipping else element.tail or "")
            continue
        if event == "start":
            if tag == "div" and any(c in (element.get("class") or "") for c in _QUOTE_CLASSES):
                break  # the rest is the quoted digest
            if tag in _SKIPPED:
                skipping += 1
            elif not skipping:
                parts.append("\n" if tag == "br" else "")
                parts.append(element.text or "")
            continue
        if tag in _SKIPPED:
            skipping -= 1
            parts.append("" if skipping else "\n")
        elif not skipping and tag in _BLOCKS:
            parts.append("\n")
        if not skipping:
            parts.append(element.tail or "")
    return "".join(parts)


def _decode_bytes(data: bytes, charset: str | None) -> str:
    """Bytes in a declared charset that may be unknown ("unknown-8bit") or wrong: the declared one,
    then UTF-8, then Windows-1252 with replacement characters, which reads anything."""
    for name in (charset, "utf-8"):
        try:
            return data.decode(name) if name else data.decode("utf-8")
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("cp1252", errors="replace")


def _part_text(part: Message) -> str:
    """A text part's content, decoded defensively: a charset Python does not know must not make a
    reply read as empty (and so lose its unsubscribe)."""
    try:
        return str(part.get_content())  # type: ignore[attr-defined]
    except (LookupError, UnicodeError, ValueError, AssertionError) as exc:
        log.info("inbound: read a text part the slow way (%s)", type(exc).__name__)
    encoding = str(part.get("Content-Transfer-Encoding", "") or "").strip().lower()
    if encoding not in ("base64", "quoted-printable"):
        payload = part.get_payload()  # already text: the form field it came in was decoded
        return payload if isinstance(payload, str) else ""
    data = part.get_payload(decode=True)
    return _decode_bytes(data, part.get_content_charset()) if isinstance(data, bytes) else ""


def _body_text(message: Message) -> str:
    try:
        body = message.get_body(preferencelist=("plain", "html"))  # type: ignore[attr-defined]
        if body is None:  # no body by the book: the first text part, wherever it is
            body = next((p for p in message.walk() if p.get_content_maintype() == "text"), None)
        if body is None:
            return ""
        content = _part_text(body)
        return _html_to_text(content) if body.get_content_type() == "text/html" else content
    except (LookupError, ValueError, KeyError, AttributeError, TypeError) as exc:
        log.info("could not read the body of an inbound mail: %s", type(exc).__name__)
        return ""


def parse_fields(fields: Mapping[str, str]) -> Reply:
    """An Inbound Parse post (default mode, or raw mode with the whole message in `email`)."""
    try:
        charsets = json.loads(fields.get("charsets") or "{}")
    except ValueError:
        charsets = {}
    charsets = charsets if isinstance(charsets, dict) else {}

    def field(name: str) -> str:
        charset = charsets.get(name)
        return _recode(fields.get(name) or "", charset if isinstance(charset, str) else None)

    if fields.get("email"):
        headers: Message = email.message_from_string(fields["email"], policy=policy.default)
        text = _body_text(headers)
    else:
        headers = HeaderParser(policy=policy.default).parsestr(fields.get("headers") or "")
        text = field("text") or _html_to_text(field("html"))
    subject = field("subject") or str(headers.get("Subject", "") or "")

    try:
        envelope = json.loads(fields.get("envelope") or "null")
    except ValueError:
        envelope = None
    envelope = envelope if isinstance(envelope, dict) else None
    recipients: list[str] = []
    envelope_from: str | None = None
    if envelope is not None:
        envelope_from = envelope.get("from") if isinstance(envelope.get("from"), str) else ""
        to = envelope.get("to")
        recipients = [str(x) for x in to] if isinstance(to, list) else [str(to)] if to else []
    if not recipients:  # no usable envelope: the To header is the next best witness
        to_values = [fields.get("to") or "", str(headers.get("To", "") or "")]
        recipients = [addr for _, addr in getaddresses([v for v in to_values if v]) if addr]

    message_id = str(headers.get("Message-ID", "") or "").strip() or None
    return Reply(recipients=tuple(recipients), envelope_from=envelope_from, headers=headers,
                 subject=subject.strip(), text=text[:MAX_REPLY_CHARS], message_id=message_id,
                 from_header=field("from") or str(headers.get("From", "") or ""))


def reply_tokens(recipients: tuple[str, ...], reply_domain: str) -> list[str]:
    """Tokens of the `u-<token>@<reply domain>` recipients, lower-cased (relays fold case)."""
    tokens = []
    for _, address in getaddresses(list(recipients)):
        local, _, domain = address.strip().rpartition("@")
        if domain.lower() != reply_domain.lower() or not local.lower().startswith("u-"):
            continue
        token = local[2:].lower()
        if _TOKEN.match(token):
            tokens.append(token)
    return tokens


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
