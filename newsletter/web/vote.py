"""GET/POST /v/{token}/{u|d + signature}/{arxiv id}: "More like this" / "Less like this".

Mail security scanners fetch every link of a message, so GET only shows the paper and one
button; nothing is recorded until that button is pressed. The button is a POST form carrying a
CSRF token: a MAC, keyed by the reader's secret token, over the paper and the time the page was
made (readers/votes.py), good for a day. A POST without it (a scanner replaying the URL, another
site's form) records nothing, nor does one the browser marks as cross-site. The confirmation page
shows the paper and offers undo, another POST with its own token. Same headers as /unsubscribe:
no caching, no referrer (the URL holds the token), no scripts; plain HTML that works on a phone.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import sqlite3
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from newsletter.db import Database, DatabaseError
from newsletter.db import votes as vote_store
from newsletter.db.papers import papers_by_id
from newsletter.readers import votes
from newsletter.readers.votes import LABELS, REFUSALS, LinkTarget, Refusal
from newsletter.web.page import page

log = logging.getLogger(__name__)

MAX_FORM_BYTES = 4096  # two short fields; anything longer is not our form
_STATUS: dict[Refusal, int] = {"unknown-token": 404, "forged": 404, "not-in-digest": 404, "expired": 410,
                               "unsubscribed": 410}

_STYLE = (
    'body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;\n'
    'line-height:1.5;overflow-wrap:anywhere}button{font-size:1.05rem;padding:.7rem 1.4rem;min-height:44px;\n'
    'cursor:pointer}.paper{border-left:3px solid #b31b1b;padding:.2rem .9rem;margin:1.2rem 0}\n'
    '.muted{color:#57606a;font-size:.9rem}'
)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return page(title, body, style=_STYLE, status=status)


def _refused(reason: Refusal) -> HTMLResponse:
    log.info("vote link refused: %s", reason)
    return _page("No vote recorded", f"<p>{html.escape(REFUSALS[reason])}</p>", _STATUS[reason])


def _unavailable(exc: Exception) -> HTMLResponse:
    log.error("vote page: database unavailable: %s", exc)
    return _page("Try again later", "<p>Something went wrong on our side; no vote was recorded.</p>", 503)


def _paper_block(db: Database, arxiv_id: str) -> str:
    """Title and id of the paper, linked to arXiv; the id alone once retention removed the text."""
    paper = papers_by_id(db, [arxiv_id]).get(arxiv_id)
    url = html.escape(f"https://arxiv.org/abs/{arxiv_id}")
    title = html.escape(" ".join(paper.title.split())) if paper else f"arXiv:{html.escape(arxiv_id)}"
    return (f'<div class="paper"><p><a href="{url}">{title}</a><br>'
            f'<span class="muted">arXiv:{html.escape(arxiv_id)}</span></p></div>')


def _form(token: str, target: LinkTarget, action: str, label: str, now: dt.datetime) -> str:
    csrf = votes.form_token(token, target.arxiv_id, now)
    return ('<form method="post" action="">'
            f'<input type="hidden" name="csrf" value="{html.escape(csrf)}">'
            f'<input type="hidden" name="action" value="{action}">'
            f'<button type="submit">{html.escape(label)}</button></form>')


def _target(request: Request, db: Database, now: dt.datetime) -> LinkTarget | Refusal:
    p = request.path_params
    return votes.check_link(db, str(p["token"]), str(p["mark"]), str(p["arxiv_id"]), now)


async def show(request: Request) -> Response:
    """The landing page of a link: never records anything."""
    db: Database = request.app.state.db
    now: dt.datetime = request.app.state.clock()
    token = str(request.path_params["token"])
    try:
        target = await run_in_threadpool(_target, request, db, now)
        if isinstance(target, str):
            return _refused(target)
        current = await run_in_threadpool(vote_store.get, db, target.email, target.arxiv_id)
        paper = await run_in_threadpool(_paper_block, db, target.arxiv_id)
    except (sqlite3.Error, DatabaseError) as exc:
        return _unavailable(exc)
    label = LABELS[target.vote]
    if current is not None and current.vote == target.vote:
        return _page(f"Already noted: {label.lower()}",
                     f"{paper}<p>You said this before.</p>{_form(token, target, 'undo', 'Undo', now)}")
    wish = "more" if target.vote == "up" else "fewer"
    said = "" if current is None else html.escape(LABELS[current.vote].lower())
    before = f"<p>You said <em>{said}</em> before; this changes it.</p>" if said else ""
    return _page(f"{label}?", f"{paper}{before}<p>Tell your digest you want {wish} papers like this one.</p>"
                 f"{_form(token, target, 'vote', label, now)}")


async def form_fields(request: Request, *, max_bytes: int = MAX_FORM_BYTES,
                      max_fields: int = 4) -> dict[str, str] | None:
    """The first value of each field of a small url-encoded form; None when the body is longer
    than `max_bytes` (reading stops there), has more fields, or is not a form at all."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            return None
    try:
        parsed = parse_qs(body.decode("ascii"), max_num_fields=max_fields)
    except (UnicodeDecodeError, ValueError):
        return None
    return {key: values[0] for key, values in parsed.items()}


async def confirm(request: Request) -> Response:
    """The button: records the vote (or its undo) and says so."""
    db: Database = request.app.state.db
    now: dt.datetime = request.app.state.clock()
    token = str(request.path_params["token"])
    fields = await form_fields(request)
    if request.headers.get("sec-fetch-site", "").lower() == "cross-site" or fields is None:
        log.info("vote: refused a cross-site or malformed post")
        return _page("No vote recorded", "<p>This request did not come from the vote page.</p>", 403)
    try:
        target = await run_in_threadpool(_target, request, db, now)
        if isinstance(target, str):
            return _refused(target)
        if not votes.form_token_ok(token, target.arxiv_id, fields.get("csrf", ""), now):
            log.info("vote: refused a post without a valid form token")
            return _page("No vote recorded", "<p>This page has expired or the request did not come from it:"
                         " open the link in your digest again.</p>", 403)
        paper = await run_in_threadpool(_paper_block, db, target.arxiv_id)
        if fields.get("action") == "undo":
            await run_in_threadpool(votes.undo_vote, db, target.email, target.arxiv_id)
            return _page("Vote removed", f"{paper}<p>Your digest forgets what you said about this paper.</p>"
                         f"{_form(token, target, 'vote', LABELS[target.vote], now)}")
        await run_in_threadpool(vote_store.put, db, target.email, target.arxiv_id, target.vote,
                                source="click", digest_date=target.digest_date, now=now)
    except (sqlite3.Error, DatabaseError) as exc:
        return _unavailable(exc)
    label = LABELS[target.vote]
    return _page(f"Noted: {label.lower()}", f"{paper}<p>Thank you: your digest will learn from this.</p>"
                 f"{_form(token, target, 'undo', 'Undo', now)}")


_PATH = "/v/{token}/{mark}/{arxiv_id:path}"
routes = [Route(_PATH, show, methods=["GET"]), Route(_PATH, confirm, methods=["POST"])]
