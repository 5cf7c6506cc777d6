"""The HTML of the sign-up pages (web/signup.py): the form with its messages, and the answers.
Everything a visitor typed is escaped; the shell and its headers are web/page.py's."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

from starlette.responses import HTMLResponse

from newsletter.readers import signup as rules
from newsletter.web.page import page

STYLE = (
    "*{box-sizing:border-box}body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;"
    "padding:0 1rem;line-height:1.5;overflow-wrap:anywhere;color:#1f2328;background:#fff}\n"
    "label{display:block;font-weight:600;margin-top:1.2rem}input,textarea{display:block;width:100%;"
    "max-width:100%;font:inherit;padding:.55rem;margin-top:.3rem;border:1px solid #57606a;"
    "border-radius:4px}textarea{min-height:9rem}\n.hint{color:#57606a;font-size:.92rem;margin:.2rem 0 0}"
    ".error{color:#a40e26;font-weight:600;margin:.3rem 0 0}[aria-invalid=true]{border:2px solid #a40e26}"
    "\nbutton{font-size:1.05rem;padding:.7rem 1.4rem;min-height:44px;margin-top:1.4rem;cursor:pointer}"
    "\n.summary{border:2px solid #a40e26;padding:.6rem 1rem;border-radius:4px}"
    "\n:focus-visible{outline:3px solid #0969da;outline-offset:2px}"
    "\n.asked{white-space:pre-wrap;border-left:3px solid #d0d7de;margin:.5rem 0;padding:.2rem .9rem}"
)


def answer(title: str, body: str, status: int = 200) -> HTMLResponse:
    return page(title, body, style=STYLE, status=status)


def _field(name: str, label: str, hint: str, value: str, problems: Mapping[str, str], *,
           kind: str = "text", extra: str = "") -> str:
    ids = [f"{name}-hint"]
    error = ""
    if name in problems:
        ids.append(f"{name}-error")
        error = f'<p class="error" id="{name}-error">{html.escape(problems[name])}</p>'
    common = (f'id="{name}" name="{name}" aria-describedby="{" ".join(ids)}"'
              f'{" aria-invalid=true" if name in problems else ""} {extra}')
    if kind == "textarea":
        control = f"<textarea {common}>{html.escape(value)}</textarea>"
    else:
        control = f'<input type="{kind}" {common} value="{html.escape(value, quote=True)}">'
    return (f'<label for="{name}">{html.escape(label)}</label>'
            f'<p class="hint" id="{name}-hint">{hint}</p>{error}{control}')


def form_page(token: rules.FormToken, values: Mapping[str, str], problems: Mapping[str, str], *,
              default_categories: str, status: int = 200) -> HTMLResponse:
    """The sign-up form, filled with what was sent and each problem beside its field."""
    summary = ""
    if problems:
        items = "".join(f'<li><a href="#{n}">{html.escape(m)}</a></li>' for n, m in problems.items())
        summary = (f'<div class="summary" role="alert"><p>Nothing was sent: please fix'
                   f" {'this' if len(problems) == 1 else 'these'}.</p><ul>{items}</ul></div>")
    fields = [
        _field("email", "Your email address", "Where the digest goes. We mail a link to confirm it.",
               values.get("email", ""), problems, kind="email",
               extra='autocomplete="email" required maxlength="320"'),
        _field("categories", "arXiv categories",
               'Separated by commas, e.g. <code>cs.CV, cs.LG</code> (see <a href="https://arxiv.org/'
               'category_taxonomy">arXiv\'s list</a>).', values.get("categories", default_categories),
               problems, extra='required maxlength="400" autocapitalize="off" spellcheck="false"'),
        _field("criteria", "What you want to read",
               "In your own words: topics, methods, what is not interesting. Numbered topics work well."
               " Leave empty if you name papers below.", values.get("criteria", ""), problems,
               kind="textarea", extra=f'maxlength="{rules.CRITERIA_MAX_BYTES}"'),
        _field("seeds", "Papers you like (optional)",
               f"Up to {rules.MAX_SEEDS} arXiv ids or links, e.g. <code>2508.20020</code>. With no"
               " description above, their titles become it.", values.get("seeds", ""), problems,
               kind="textarea", extra='rows="3" autocapitalize="off" spellcheck="false"'),
    ]
    body = (f"{summary}<p>A digest of the new arXiv papers that fit your interests, each arXiv"
            " morning. You confirm by a link we mail you; nothing starts before.</p>"
            '<form method="post" action="" novalidate>'
            f'<input type="hidden" name="nonce" value="{html.escape(token.nonce)}">'
            f'<input type="hidden" name="csrf" value="{html.escape(token.csrf)}">'
            f'{"".join(fields)}<button type="submit">Sign up</button></form>')
    return answer("Sign up for the arXiv digest", body, status)


def check_inbox(address: str) -> HTMLResponse:
    """The one answer to every accepted form, whatever the address's state (and within its limit
    or not): it says what happens if the address can get our mail, never whether it did."""
    hours = int(rules.LINK_MAX_AGE.total_seconds() // 3600)
    return answer("Check your inbox", (
        f"<p>If <strong>{html.escape(address)}</strong> can receive our mail, a message with a"
        f" confirmation link is on its way to it. The link works for {hours} hours; nothing starts"
        " until you open it and press the button there.</p>"
        "<p>Nothing came? Look in the spam folder, check the address, or try again later.</p>"))


def too_many() -> HTMLResponse:
    return answer("Please try again later", (
        "<p>Many sign-ups came from your network in the last hour, so we are not taking more from it"
        " for now. Please try again in an hour.</p>"), 429)


def refused(title: str, text: str, status: int) -> HTMLResponse:
    return answer(title, f"<p>{html.escape(text)}</p>", status)


def request_summary(categories: Sequence[str], criteria: str, seeds: Sequence[str]) -> str:
    """What the button will start, as the form gave it: whoever filled in the form chose the text,
    so the address's owner sees it before agreeing to receive it (escaped, never a link)."""
    parts = [f"<p>Papers in {html.escape(', '.join(categories))}"
             + (" that fit this description:</p>" if criteria else ".</p>")]
    if criteria:
        parts.append(f'<blockquote class="asked">{html.escape(criteria)}</blockquote>')
    if seeds:
        parts.append(f"<p>Papers named as liked: {html.escape(', '.join(seeds))}.</p>")
    parts.append('<p class="hint">Not what you asked for? Do not press the button: nothing starts'
                 " without it.</p>")
    return "".join(parts)


def button(action: str, csrf: str, label: str) -> str:
    return (f'<form method="post" action="{html.escape(action)}">'
            f'<input type="hidden" name="csrf" value="{html.escape(csrf)}">'
            f'<button type="submit">{html.escape(label)}</button></form>')
