"""The HTML of the preferences page and the archive (routes: newsletter/web/preferences.py).

Plain forms, one per setting group, each a POST with its CSRF fields; labels on every input, no
scripts, one column that fits a 375 px phone. Everything from the reader or a paper is escaped.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable
from dataclasses import dataclass

from newsletter.db.archive import ArchivedDigest
from newsletter.models import Subscriber
from newsletter.readers.preferences import CRITERIA_MAX_CHARS, LABELS, WEEKDAYS

STYLE = (
    "*{box-sizing:border-box}body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;"
    "padding:0 1rem;line-height:1.5;overflow-wrap:anywhere;color:#1f2328}"
    "h1{font-size:1.6rem}h2{font-size:1.15rem;margin:0 0 .5rem}"
    "section{border-top:1px solid #d0d7de;padding:1rem 0}"
    "label{display:block;margin:.4rem 0 .1rem;font-weight:600}"
    "fieldset{border:0;padding:0;margin:0}legend{font-weight:600;padding:0}"
    ".choice{display:inline-block;font-weight:400;margin-right:1rem}"
    "input[type=text],input[type=date],input[type=time],input[type=number],select,textarea"
    "{width:100%;max-width:100%;font:inherit;padding:.45rem;border:1px solid #8c959f;border-radius:4px}"
    "textarea{min-height:8rem}"
    "button{font:inherit;padding:.55rem 1.1rem;min-height:44px;margin:.5rem .5rem 0 0;"
    "cursor:pointer}.muted{color:#57606a;font-size:.9rem}.yours{color:#0a6b2e;font-size:.85rem;"
    "font-weight:400}.notice{border-left:4px solid #0a6b2e;background:#eef8f0;padding:.6rem .9rem}"
    ".error{border-left:4px solid #b31b1b;background:#fdf0f0;padding:.6rem .9rem}"
    ".preview{background:#f6f8fa;padding:.8rem;border-radius:6px}a{color:#0b57d0}"
    ":focus-visible{outline:3px solid #0b57d0;outline-offset:2px}"
)

Hidden = Callable[[str], str]  # a form's purpose -> its hidden fields (purpose, revision, CSRF)


@dataclass(frozen=True, slots=True)
class PageState:
    subscriber: Subscriber
    today: dt.date
    hidden: Hidden
    archive_url: str
    notice: str = ""  # HTML, already escaped
    draft: str | None = None  # a criteria text being previewed or refused, kept in its box
    preview: str = ""  # HTML of the preview section
    site_limits: tuple[int, int] = (30, 5)  # NEWSLETTER_MAX_PAPERS, NEWSLETTER_MIN_RELEVANCE


def hidden_fields(purpose: str, revision: int, csrf: str) -> str:
    return (f'<input type="hidden" name="form" value="{html.escape(purpose)}">'
            f'<input type="hidden" name="rev" value="{revision}">'
            f'<input type="hidden" name="csrf" value="{html.escape(csrf)}">')


def notice(text: str, *, error: bool = False, undo: str = "") -> str:
    role, css = ("alert", "error") if error else ("status", "notice")
    return f'<div class="{css}" role="{role}"><p>{html.escape(text)}</p>{undo}</div>'


def undo_form(hidden: Hidden) -> str:
    return f'<form method="post" action="">{hidden("undo")}<button type="submit">Undo</button></form>'


def _yours(sub: Subscriber, *names: str) -> str:
    return ' <span class="yours">(set by you)</span>' if any(n in sub.from_reader for n in names) else ""


def _section(heading: str, inner: str) -> str:
    return f"<section><h2>{heading}</h2>{inner}</section>"


def _form(state: PageState, purpose: str, inner: str, button: str = "Save") -> str:
    return (f'<form method="post" action="">{state.hidden(purpose)}{inner}'
            f'<button type="submit" name="action" value="save">{html.escape(button)}</button></form>')


def _summary(state: PageState) -> str:
    sub = state.subscriber
    when = "every day" if sub.frequency == "daily" else f"every {WEEKDAYS[sub.weekday]}"
    paused = (f" <strong>Paused until {sub.paused_until:%A %d %B %Y}.</strong>"
              if sub.paused_until and sub.paused_until > state.today else "")
    return (f"<p>Your digest comes {when} at {sub.send_at:%H:%M} ({html.escape(sub.timezone)}).{paused}</p>"
            '<p class="muted">Values marked “set by you” are yours; the rest are the admin\'s. A change'
            " counts from your next digest.</p>")


def _pause(state: PageState) -> str:
    sub, today = state.subscriber, state.today
    paused = sub.paused_until is not None and sub.paused_until > today
    resume = (f'<form method="post" action="">{state.hidden("pause")}<p>Paused until'
              f" {sub.paused_until:%d %B %Y}.</p>"
              '<button type="submit" name="action" value="resume">Resume now</button></form>'
              if paused else "")
    value = sub.paused_until.isoformat() if paused and sub.paused_until else ""
    field = (f'<label for="paused_until">Pause until (no digest before this day)</label>'
             f'<input type="date" id="paused_until" name="paused_until" value="{value}"'
             f' min="{today + dt.timedelta(days=1)}">')
    pause = (f'<form method="post" action="">{state.hidden("pause")}{field}'
             '<button type="submit" name="action" value="pause">Pause</button></form>')
    return f"<section><h2>Pause{_yours(sub, 'paused_until')}</h2>{resume}{pause}</section>"


def _frequency(state: PageState) -> str:
    sub = state.subscriber
    radios = "".join(
        f'<label class="choice"><input type="radio" name="frequency" value="{v}"'
        f'{" checked" if sub.frequency == v else ""}> {label}</label>'
        for v, label in (("daily", "Daily"), ("weekly", "Weekly")))
    days = "".join(f'<option value="{i}"{" selected" if sub.weekday == i else ""}>{d}</option>'
                   for i, d in enumerate(WEEKDAYS))
    inner = (f"<fieldset><legend>How often</legend>{radios}</fieldset>"
             '<label for="weekday">Day of the weekly digest</label>'
             f'<select id="weekday" name="weekday">{days}</select>')
    return _section(f"Frequency{_yours(sub, 'frequency', 'weekday')}", _form(state, "frequency", inner))


def _time(state: PageState) -> str:
    sub = state.subscriber
    inner = (f'<label for="timezone">Time zone (e.g. Europe/Berlin)</label><input type="text" id="timezone"'
             f' name="timezone" value="{html.escape(sub.timezone)}" autocomplete="off">'
             f'<label for="send_at">Send time</label><input type="time" id="send_at" name="send_at"'
             f' value="{sub.send_at:%H:%M}">')
    return _section(f"Time{_yours(sub, 'timezone', 'send_at')}", _form(state, "time", inner))


def _number(name: str, label: str, value: int | None, low: int, high: int, usual: str) -> str:
    shown = "" if value is None else str(value)
    return (f'<label for="{name}">{html.escape(label)}</label><input type="number" id="{name}" name="{name}"'
            f' value="{shown}" min="{low}" max="{high}" inputmode="numeric" placeholder="{usual}">')


def _amount(state: PageState) -> str:
    sub = state.subscriber
    most, least = state.site_limits
    inner = (_number("max_papers", "Max papers per digest (empty: the admin's)", sub.max_papers, 1, 500,
                     f"{most} (the admin's)")
             + _number("min_relevance", "Min relevance, 1–10 (empty: the admin's)", sub.min_relevance, 1, 10,
                       f"{least} (the admin's)")
             + _number("max_per_topic", "Max papers per topic (empty: no limit)", sub.max_per_topic, 1, 100,
                       "no limit"))
    names = ("max_papers", "min_relevance", "max_per_topic")
    return f"<section><h2>Amount{_yours(sub, *names)}</h2>{_form(state, 'amount', inner)}</section>"


def _authors(state: PageState) -> str:
    sub = state.subscriber
    inner = ('<label for="authors">Followed authors, one per line (their papers always come first)</label>'
             f'<textarea id="authors" name="authors" rows="4">{html.escape(chr(10).join(sub.authors))}'
             "</textarea>")
    return f"<section><h2>Authors{_yours(sub, 'authors')}</h2>{_form(state, 'authors', inner)}</section>"


def _criteria(state: PageState) -> str:
    sub = state.subscriber
    text = state.draft if state.draft is not None else sub.criteria
    reset = ('<button type="submit" name="action" value="reset">Back to the admin\'s text</button>'
             if "criteria" in sub.from_reader else "")
    return (f"<section><h2>Criteria{_yours(sub, 'criteria')}</h2>"
            f'<form method="post" action="">{state.hidden("criteria")}'
            '<label for="criteria">What you want to read: numbered topics, each with what is relevant and'
            f" what is not (up to {CRITERIA_MAX_CHARS:,} characters)</label>"
            f'<textarea id="criteria" name="criteria" rows="12" maxlength="{CRITERIA_MAX_CHARS}">'
            f"{html.escape(text)}</textarea>"
            '<button type="submit" name="action" value="preview">Preview</button>'
            f'<button type="submit" name="action" value="save">Save text</button>{reset}</form>'
            f"{state.preview}</section>")


def settings_body(state: PageState) -> str:
    leave = (f'<section><h2>Leave</h2><form method="post" action="">{state.hidden("leave")}'
             "<p>Stop all digests to this address (the same as the unsubscribe link).</p>"
             '<button type="submit" name="action" value="leave">Unsubscribe</button></form></section>')
    archive = (f'<section><h2>Archive</h2><p><a href="{html.escape(state.archive_url)}">Your past digests'
               "</a>, newest first.</p></section>")
    return (state.notice + _summary(state) + _pause(state) + _frequency(state) + _time(state) + _amount(state)
            + _authors(state) + _criteria(state) + archive + leave)


def archive_body(digests: list[ArchivedDigest], back_url: str) -> str:
    back = f'<p><a href="{html.escape(back_url)}">Back to your settings</a></p>'
    if not digests:
        return back + "<p>No digest has been sent to you yet.</p>"
    parts = [back]
    for digest in digests:
        count = len(digest.papers)
        items = "".join(
            f'<li><a href="https://arxiv.org/abs/{html.escape(p.arxiv_id)}">'
            f"{html.escape(p.title or 'arXiv:' + p.arxiv_id)}</a>"
            + (f' <span class="muted">relevance {p.relevance}</span>' if p.relevance is not None else "")
            + "</li>"
            for p in digest.papers)
        parts.append(f"<section><h2>{digest.digest_date:%A %d %B %Y}</h2>"
                     f'<p class="muted">{count} paper{"s" if count != 1 else ""}</p>'
                     f'<ol start="0">{items}</ol></section>')  # numbered from 0, as the digest is
    return "".join(parts)


def label(name: str) -> str:
    return LABELS.get(name, name)
