"""POST /events: SendGrid's Event Webhook — signed delivery events about the digests we sent.

Only signed, fresh batches are read: the ECDSA signature over timestamp + body is checked with the
package's `EventWebhook` helper against `SENDGRID_WEBHOOK_PUBLIC_KEY` (empty = refuse all), and the
signed timestamp must be within `MAX_SKEW` of our clock, which the helper does not check — without
it a captured batch could be replayed forever. SendGrid retries a batch on any non-2xx answer, so
refusals are 403 (nothing to retry into success), a malformed signed body 400, and 500 only when
the database could not store it (so SendGrid tries again later). A signed batch nested deeper
than `MAX_DEPTH` (a poison batch: real events are three levels deep) is malformed too: 400 and a
log line, nothing of it stored. Without the bound, the JSON decoder's RecursionError was a 500,
which SendGrid retries with the same body.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import json
import logging
import sqlite3
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from newsletter.db import Database, DatabaseError
from newsletter.db.events import EventError, apply_events, parse_batch
from newsletter.settings import Settings
from newsletter.web.body import BodyTooLarge, read_capped

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
MAX_SKEW = dt.timedelta(minutes=10)
MAX_EVENTS_BYTES = 5 * 1024 * 1024  # SendGrid batches up to ~1 MB or 1,000 events
# batch → event → a list value (category) is 3; custom args are flat strings. Far below the
# interpreter's recursion limit, so no later step (hashing an event, say) can hit it either.
MAX_DEPTH = 16


@functools.lru_cache(maxsize=4)
def _verifier(public_key: str) -> Any:
    """The package's verifier for a key as SendGrid shows it (base64 DER, PEM armour optional)."""
    from sendgrid.helpers.eventwebhook import EventWebhook

    body = "".join(
        line.strip() for line in public_key.strip().splitlines() if not line.startswith("-----")
    )
    return EventWebhook(body)


def check_signature(
    public_key: str, body: bytes, signature: str | None, timestamp: str | None, now: dt.datetime
) -> str | None:
    """None when the batch is authentic and fresh; else why it is refused (for the log, not secret)."""
    if not public_key.strip():
        return "SENDGRID_WEBHOOK_PUBLIC_KEY is not set: every event is refused"
    if not signature or not timestamp:
        return "the signature or timestamp header is missing"
    try:
        stamp = int(timestamp.strip())
        signed_at = dt.datetime.fromtimestamp(stamp, dt.UTC)
    except (ValueError, OverflowError, OSError):
        return "the timestamp header is not a Unix time"
    if abs(now - signed_at) > MAX_SKEW:
        return f"the batch was signed at {signed_at:%Y-%m-%d %H:%M:%S}Z, too far from now (stale or replayed)"
    try:
        verifier = _verifier(public_key)
    except (ValueError, TypeError, binascii.Error) as exc:
        log.error("SENDGRID_WEBHOOK_PUBLIC_KEY is not a valid public key: %s", exc)
        return "SENDGRID_WEBHOOK_PUBLIC_KEY is not a valid public key"
    try:
        payload = body.decode("utf-8")
        base64.b64decode(signature, validate=True)
        valid = bool(verifier.verify_signature(payload, signature, timestamp))
    except (UnicodeDecodeError, binascii.Error, ValueError, TypeError):
        valid = False
    return None if valid else "the signature does not match"


def _depth_exceeded(value: object, limit: int) -> bool:
    """Whether `value` nests containers deeper than `limit` (iterative: no recursion to exhaust)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: list[object] = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def decode_batch(body: bytes) -> object:
    """The batch's JSON; ValueError (naming the event) for a body that is not JSON or nests too deep."""
    try:
        payload = json.loads(body)
    except RecursionError:
        raise ValueError(f"the body is nested deeper than {MAX_DEPTH} levels") from None
    if isinstance(payload, list):
        for position, raw in enumerate(payload):
            if _depth_exceeded(raw, MAX_DEPTH - 1):
                raise ValueError(f"event {position} is nested deeper than {MAX_DEPTH} levels")
    elif _depth_exceeded(payload, MAX_DEPTH):
        raise ValueError(f"the body is nested deeper than {MAX_DEPTH} levels")
    return payload


async def events_endpoint(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    db: Database = request.app.state.db
    try:  # before the signature check, so read with a cap: a chunked body has no length
        body = await read_capped(request, MAX_EVENTS_BYTES)
    except BodyTooLarge:
        return PlainTextResponse("event batch too large", status_code=413)
    now: dt.datetime = request.app.state.clock()  # the clock the app was built with
    refused = check_signature(settings.sendgrid_webhook_public_key, body,
                              request.headers.get(SIGNATURE_HEADER),
                              request.headers.get(TIMESTAMP_HEADER), now)
    if refused is not None:
        log.warning("event webhook batch refused: %s", refused)
        return PlainTextResponse("forbidden", status_code=403)
    try:
        events = parse_batch(decode_batch(body))
    except (ValueError, EventError) as exc:
        # Signed by SendGrid yet unreadable: retrying will not fix it, so say 400 and log why.
        log.error("signed event webhook batch rejected: %s", exc)
        return PlainTextResponse(f"bad event batch: {exc}", status_code=400)
    try:
        outcome = await run_in_threadpool(apply_events, db, events, now)
    except (sqlite3.Error, DatabaseError):
        log.exception("could not store an event webhook batch; SendGrid will retry it")
        return PlainTextResponse("could not store the events; try again", status_code=500)
    log.info("event webhook: %d recorded, %d duplicates, %d ignored, %d settled, %d suppressed",
             outcome.recorded, outcome.duplicates, outcome.ignored, len(outcome.resolved),
             len(outcome.suppressed))
    return JSONResponse(outcome.as_dict())


routes: list[Route] = [Route("/events", events_endpoint, methods=["POST"])]
