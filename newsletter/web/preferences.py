"""GET/POST /preferences/{token}/{mark} and GET …/archive: a reader's own settings and past digests.

The link in every digest's footer is the credential (readers/preference_links.py). GET shows the
page and changes nothing (mail scanners fetch every link). Each setting group is its own POST
form carrying its purpose, the reader's settings revision and a CSRF token; a form from another
site, an altered or stale token, or a replay (the revision moved on) changes nothing and says so.
Each change is confirmed at the top of the page with an Undo button. "Preview" ranks the latest
stored day under a new criteria text with no LLM call (web/preview.py) and stores nothing; a
reader past a few a minute gets a 429 page instead (readers/preview_limit.py).
NEWSLETTER_SELF_SERVICE=false refuses every route. Same headers as /unsubscribe and /v.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import logging
import sqlite3
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from newsletter.db import Database, DatabaseError
from newsletter.db import preferences as store
from newsletter.db import subscribers as subs
from newsletter.db.archive import sent_digests
from newsletter.models import Subscriber
from newsletter.readers import leave
from newsletter.readers import preference_links as links
from newsletter.readers import preferences as prefs
from newsletter.readers.preview_limit import admit_preview
from newsletter.settings import Settings
from newsletter.web.body import BodyTooLarge, read_capped
from newsletter.web.page import page
from newsletter.web.preferences_page import (
    STYLE,
    PageState,
    archive_body,
    hidden_fields,
    notice,
    settings_body,
    undo_form,
)
from newsletter.web.preview import Previewer, preview_html, too_many_previews
from newsletter.web.unsubscribe import mask_address

log = logging.getLogger(__name__)

MAX_FORM_BYTES = 128 * 1024  # 10,000 characters percent-encoded: up to 12 bytes each outside Latin
TITLE = "Your digest settings"
GROUPS: dict[str, tuple[str, ...]] = {
    "frequency": ("frequency", "weekday"),
    "time": ("timezone", "send_at"),
    "amount": ("max_papers", "min_relevance", "max_per_topic"),
    "authors": ("authors",),
}
PURPOSES = frozenset({*GROUPS, "pause", "criteria", "undo", "leave"})


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return page(title, body, style=STYLE, status=status)


def _refusal(text: str, status: int, title: str = "Nothing changed") -> HTMLResponse:
    return _page(title, f"<p>{text}</p>", status)


@dataclass(frozen=True, slots=True)
class Reader:
    token: str
    email: str
    subscriber: Subscriber
    revision: int
    today: dt.date  # in the reader's time zone


def _reader(request: Request, now: dt.datetime) -> Reader | HTMLResponse:
    """Whose page this is, or the page that refuses it. Reads only."""
    settings: Settings = request.app.state.settings
    db: Database = request.app.state.db
    if not settings.self_service:
        return _refusal("The admin has switched off this settings page: reply to a digest to ask for"
                        " a change.", 404, "Settings page switched off")
    token, mark = str(request.path_params["token"]), str(request.path_params["mark"])
    found = links.check_link(db, token, mark, now)
    if found in links.LINK_REFUSALS:  # an address is never one of these words
        log.info("preferences link refused: %s", found)
        refusal: links.LinkRefusal = found
        return _refusal(links.LINK_REFUSALS[refusal], 410 if found == "expired" else 404, "Link not valid")
    if subs.is_suppressed(db, found):
        return _refusal(f"{html.escape(mask_address(found))} has unsubscribed and gets no digests. Reply to"
                        " any digest"
                        " and the admin will add you back.", 410, "You are unsubscribed")
    subscriber = prefs.load_roster(settings.subscribers, settings, db).find(found)
    if subscriber is None:
        return _refusal(f"{html.escape(mask_address(found))} is no longer on this digest's list. Your"
                        " settings are"
                        " kept should the admin add you back.", 404, "Not on the list")
    today = now.astimezone(zoneinfo.ZoneInfo(subscriber.timezone)).date()
    return Reader(token, found, subscriber, store.revision(db, found), today)


def _state(request: Request, reader: Reader, now: dt.datetime, *, notice: str = "", draft: str | None = None,
           preview: str = "") -> PageState:
    def hidden(purpose: str) -> str:
        csrf = links.form_token(reader.token, purpose, reader.revision, now)
        return hidden_fields(purpose, reader.revision, csrf)

    # Relative links: right behind a proxy that serves the app under a path of NEWSLETTER_PUBLIC_URL.
    archive_url = str(request.path_params["mark"]) + "/archive"
    settings: Settings = request.app.state.settings
    if not notice:  # a later visit can still undo the last change
        notice = _last_change(request.app.state.db, reader.email, hidden)
    return PageState(reader.subscriber, reader.today, hidden, archive_url, notice=notice, draft=draft,
                     preview=preview, site_limits=(settings.max_papers, settings.min_relevance))


def _last_change(db: Database, email: str, hidden: Callable[[str], str]) -> str:
    last = store.last_change(db, email)
    if last is None:
        return ""
    said = "; ".join(prefs.describe(name, new) for name, (_old, new) in last.fields.items())
    return (f'<div class="last"><p class="muted">Your last change ({html.escape(last.at[:10])}):'
            f" {html.escape(said)}.</p>{undo_form(hidden)}</div>")


def _show(request: Request, now: dt.datetime) -> Response:
    reader = _reader(request, now)
    if isinstance(reader, HTMLResponse):
        return reader
    return _page(TITLE, settings_body(_state(request, reader, now)))


async def show(request: Request) -> Response:
    """The page: never changes anything."""
    return await _guarded(run_in_threadpool(_show, request, request.app.state.clock()))


def _archive(request: Request, now: dt.datetime) -> Response:
    reader = _reader(request, now)
    if isinstance(reader, HTMLResponse):
        return reader
    digests = sent_digests(request.app.state.db, reader.email)
    return _page("Your past digests", archive_body(digests, "../" + str(request.path_params["mark"])))


async def archive(request: Request) -> Response:
    return await _guarded(run_in_threadpool(_archive, request, request.app.state.clock()))


async def _guarded(work: object) -> Response:
    try:
        return await work  # type: ignore[misc,no-any-return]
    except (sqlite3.Error, DatabaseError) as exc:
        log.error("preferences page: database unavailable: %s", exc)
        return _page("Try again later", "<p>Something went wrong on our side; nothing changed.</p>", 503)


async def _fields(request: Request) -> dict[str, str] | None:
    """The form's fields; None for a body that is not a form; BodyTooLarge propagates."""
    try:
        body = await read_capped(request, MAX_FORM_BYTES)
        parsed = parse_qs(body.decode("utf-8"), max_num_fields=16, keep_blank_values=True)
    except (UnicodeDecodeError, ValueError):
        return None
    return {key: values[0] for key, values in parsed.items()}


async def change(request: Request) -> Response:
    """One form of the page: checks its tokens, then stores the change (or previews, or leaves)."""
    now: dt.datetime = request.app.state.clock()
    try:
        fields = await _fields(request)
    except BodyTooLarge:
        # a reader who pasted a whole paper deserves to know why, not to be told the post was forged
        log.info("preferences: refused a post over %d bytes", MAX_FORM_BYTES)
        return _refusal(f"That was too long: a criteria text may have up to {prefs.CRITERIA_MAX_CHARS:,}"
                        " characters. Go back, shorten it and save again.", 413)
    if request.headers.get("sec-fetch-site", "").lower() == "cross-site" or fields is None:
        log.info("preferences: refused a cross-site or malformed post")
        return _refusal("This request did not come from your settings page.", 403)
    return await _guarded(run_in_threadpool(_change, request, fields, now))


def _change(request: Request, fields: Mapping[str, str], now: dt.datetime) -> Response:
    reader = _reader(request, now)
    if isinstance(reader, HTMLResponse):
        return reader
    purpose = fields.get("form", "")
    checked = links.check_form(reader.token, purpose, fields.get("rev", ""), fields.get("csrf", ""), now)
    if purpose not in PURPOSES or checked == "forged":
        log.info("preferences: refused a post without a valid form token")
        return _refusal("This request did not come from your settings page.", 403)
    if checked == "expired":
        return _refusal("This page has expired: open the settings link in your digest again.", 403)
    if checked != reader.revision:
        return _stale(request, reader, now)
    if purpose == "leave":
        return _leave(request, reader, now)
    if purpose == "undo":
        return _store(request, reader, _undo_values(request.app.state.db, reader), now, undo=True)
    action = fields.get("action", "save")
    if purpose == "criteria" and action == "preview":
        return _preview(request, reader, fields.get("criteria", ""), now)
    try:
        values = _values(reader, purpose, action, fields)
    except prefs.PreferenceProblem as exc:
        draft = fields.get("criteria") if purpose == "criteria" else None
        said = notice(f"{exc}. Nothing changed.", error=True)
        state = _state(request, reader, now, notice=said, draft=draft)
        return _page(TITLE, settings_body(state), 400)
    return _store(request, reader, values, now)


def _values(reader: Reader, purpose: str, action: str, fields: Mapping[str, str]) -> dict[str, str | None]:
    """The overrides a form asks for, checked; only those that differ from the current values."""
    sub = reader.subscriber
    if purpose == "pause":
        if action == "resume":
            return {"paused_until": prefs.resume_value(reader.today)}
        wanted = prefs.validate({"paused_until": fields.get("paused_until", "")}, today=reader.today)
    elif purpose == "criteria":
        if action == "reset":
            return {"criteria": None} if "criteria" in sub.from_reader else {}
        wanted = prefs.validate({"criteria": fields.get("criteria", "")}, today=reader.today)
    else:
        wanted = prefs.validate({n: fields.get(n, "") for n in GROUPS[purpose]}, today=reader.today)
    return {n: v for n, v in wanted.items()
            if v != prefs.canonical(sub, n) and (v is not None or n in sub.from_reader)}


def _store(request: Request, reader: Reader, values: dict[str, str | None], now: dt.datetime,
           *, undo: bool = False) -> Response:
    db: Database = request.app.state.db
    if not values:
        text = "Nothing to undo." if undo else "Nothing changed: those are your settings already."
        state = _state(request, reader, now, notice=notice(text))
        return _page(TITLE, settings_body(state))
    revision = store.change(db, reader.email, values, now=now, expected_revision=reader.revision)
    if revision is None:
        return _stale(request, reader, now)
    fresh = _reader(request, now)
    if isinstance(fresh, HTMLResponse):  # pragma: no cover - the reader was there a moment ago
        return fresh
    said = "; ".join(prefs.describe(n, v) for n, v in values.items())
    log.info("%s changed their settings: %s", reader.email, ", ".join(values))
    state = _state(request, fresh, now)
    text = f"{'Undone' if undo else 'Saved'}. {said}. This counts from your next digest."
    state = dataclasses.replace(state, notice=notice(text, undo=undo_form(state.hidden)))
    return _page(TITLE, settings_body(state))


def _stale(request: Request, reader: Reader, now: dt.datetime) -> Response:
    log.info("preferences: refused a replayed or stale form of %s", reader.email)
    text = ("This form was already sent, or your settings changed since the page was shown: nothing"
            " changed. Here are your settings as they are now.")
    return _page(TITLE, settings_body(_state(request, reader, now, notice=notice(text, error=True))), 409)


def _preview(request: Request, reader: Reader, text: str, now: dt.datetime) -> Response:
    previewer: Previewer | None = getattr(request.app.state, "previewer", None)
    try:
        clean = prefs.validate({"criteria": text}, today=reader.today)["criteria"] or ""
    except prefs.PreferenceProblem as exc:
        state = _state(request, reader, now, notice=notice(f"{exc}.", error=True), draft=text)
        return _page(TITLE, settings_body(state), 400)
    if previewer is None:
        section = '<p class="preview">Preview is not available on this server.</p>'
    elif (wait := admit_preview(request.app.state.db, reader.email, now)) is not None:
        said, seconds = too_many_previews(wait)
        # named, as the other lines of this page are: a link pressed this often may have leaked
        log.info("preferences: %s is past the preview limit; the next in %d s", reader.email, seconds)
        response = _page(TITLE, settings_body(_state(request, reader, now, notice=notice(said, error=True),
                                                     draft=text)), 429)
        response.headers["Retry-After"] = str(seconds)
        return response
    else:
        section = preview_html(previewer(dataclasses.replace(reader.subscriber, criteria=clean)))
    return _page(TITLE, settings_body(_state(request, reader, now, draft=text, preview=section)))


def _leave(request: Request, reader: Reader, now: dt.datetime) -> Response:
    state = request.app.state
    leave.unsubscribe(state.db, reader.email, "one-click", now)
    masked = html.escape(mask_address(reader.email))
    response = _page("You are unsubscribed", f"<p>{masked} will get no more digests."
                     " Changed your mind? Reply to any digest and the admin will add you back.</p>")
    if getattr(state, "transport", None) is not None:
        response.background = BackgroundTask(leave.send_confirmation, state.db, reader.email, now,
                                             settings=state.settings, transport=state.transport)
    return response


def _undo_values(db: Database, reader: Reader) -> dict[str, str | None]:
    last = store.last_change(db, reader.email)
    return {} if last is None else {name: old for name, (old, _new) in last.fields.items()}


_PATH = "/preferences/{token}/{mark}"
routes = [Route(_PATH, show, methods=["GET"]), Route(_PATH, change, methods=["POST"]),
          Route(_PATH + "/archive", archive, methods=["GET"])]
