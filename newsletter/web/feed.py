"""GET /feed/{key}.xml: a reader's private Atom feed of the papers of their digests.

The key is a one-way form of the reader's token (`db.subscribers.feed_key`), the link in each
digest's footer; the URL is the only credential, so it never leaves the reader (no Referer, no
shared caches, not indexed). A malformed or unknown key gets the same bare 404, whatever the
reason. A reader who left (on the suppression list) gets 410 Gone: feed readers drop a 410
subscription instead of polling a dead URL forever, and only someone who holds a once-valid
key learns that much. GET (and HEAD) only; it changes nothing.

Conditional GET (RFC 9110): the ETag is a hash of the document and Last-Modified the newest
send; If-None-Match, when present, decides alone, else If-Modified-Since; either answers 304.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import sqlite3
from dataclasses import dataclass
from email.utils import format_datetime, parsedate_to_datetime
from typing import Literal

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from newsletter.db import Database, DatabaseError
from newsletter.db import feed as feed_store
from newsletter.db import subscribers as subs
from newsletter.settings import Settings
from newsletter.web.atom import FeedInfo, atom_document, parse_time

log = logging.getLogger(__name__)

_KEY = re.compile(r"^[0-9a-f]{40}$")
_HEADERS = {
    "Cache-Control": "private, no-cache",  # the reader's own client revalidates; no shared cache
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
}
MEDIA_TYPE = "application/atom+xml; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Feed:
    body: bytes
    etag: str
    last_modified: dt.datetime


Refusal = Literal["unknown", "gone"]


def _load(db: Database, settings: Settings, key: str, now: dt.datetime) -> Feed | Refusal:
    reader = subs.reader_for_feed_key(db, key) if _KEY.match(key) else None
    if reader is None:
        return "unknown"
    if subs.is_suppressed(db, reader.email):
        return "gone"
    since = now.astimezone(dt.UTC).date() - dt.timedelta(days=feed_store.FEED_DAYS)
    entries = feed_store.entries(db, reader.email, since)
    updated = max((parse_time(e.sent_at) for e in entries), default=parse_time(reader.since))
    info = FeedInfo(self_url=f"{settings.public_url}/feed/{key}.xml", public_url=settings.public_url,
                    email=reader.email, publisher=settings.from_name, updated=updated)
    body = atom_document(info, entries)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return Feed(body, etag, updated.astimezone(dt.UTC).replace(microsecond=0))


def _etags(header: str) -> set[str]:
    """The tags of an If-None-Match header, weak ones compared weakly (as RFC 9110 says for it)."""
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


def not_modified(request: Request, etag: str, last_modified: dt.datetime) -> bool:
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = _etags(if_none_match)
        return "*" in tags or etag in tags
    since = request.headers.get("if-modified-since")
    if since is None:
        return False
    try:
        moment = parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False  # a malformed date is ignored, as RFC 9110 asks
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return last_modified <= moment


def _refusal(why: Refusal) -> Response:
    if why == "gone":
        return PlainTextResponse("This feed has ended: its reader unsubscribed.", 410, headers=_HEADERS)
    log.info("feed asked for an unknown key")
    return PlainTextResponse("Not found.", 404, headers=_HEADERS)


async def show(request: Request) -> Response:
    state = request.app.state
    key = str(request.path_params["key"])
    try:
        found = await run_in_threadpool(_load, state.db, state.settings, key, state.clock())
    except (sqlite3.Error, DatabaseError) as exc:
        log.error("feed: database unavailable: %s", exc)
        return PlainTextResponse("Try again later.", 503, headers={**_HEADERS, "Retry-After": "300"})
    if isinstance(found, str):
        return _refusal(found)
    validators = {"ETag": found.etag, "Last-Modified": format_datetime(found.last_modified, usegmt=True)}
    if not_modified(request, found.etag, found.last_modified):
        return Response(status_code=304, headers={**_HEADERS, **validators})
    return Response(found.body, media_type=MEDIA_TYPE, headers={**_HEADERS, **validators})


routes = [Route("/feed/{key}.xml", show, methods=["GET"])]
