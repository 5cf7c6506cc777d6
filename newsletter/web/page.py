"""The one page shell of every page a link in a mail opens (/unsubscribe, /v): plain HTML that
works without JavaScript and on a phone, with headers that keep the token in its URL private."""

from __future__ import annotations

import html

from starlette.responses import HTMLResponse

HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the URL holds the token: never pass it on
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
}

_SHELL = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{style}</style>
</head><body>
<h1>{title}</h1>
{body}
</body></html>
"""


def page(title: str, body: str, *, style: str, status: int = 200) -> HTMLResponse:
    """`body` is HTML the caller has escaped; `title` is text."""
    return HTMLResponse(_SHELL.format(title=html.escape(title), body=body, style=style),
                        status_code=status, headers=HEADERS)
