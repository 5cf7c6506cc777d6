"""Paper text in the Markdown part: inert wherever it sits, with no images and no stray links.

The text/plain part is Markdown, and some readers (and tools) render it. Paper text comes from
arXiv and from an LLM, so inside `[title](#link0)` a `]`, a `<script>` or a backtick would end or
swallow the link, and a `![x](http://evil/track.png)` in an abstract would load a tracker.
Escaping is CommonMark's backslash, which a renderer removes and a plain-text reader barely
notices; ordinary papers need none of it, so the reference digests stay byte for byte the same.
"""

from __future__ import annotations

import re
from urllib.parse import quote

# Inside link text: brackets (end or nest a link), `<` (raw HTML, autolinks), backticks (a code
# span reaching into the next line beats the link), and a backslash that would escape one of ours
# or our closing `]`. `*` and `_` are left alone: emphasis cannot leave the link, and LaTeX
# subscripts (`$x_1$`) would otherwise turn into `$x\_1$`.
_LINK_TEXT = re.compile(r"\\(?=[!-/:-@\[-`{-~]|$)|[\[\]<`]")

# An inline image, with its (possibly once-nested) parenthesised destination and optional title.
_IMAGE = re.compile(r"!\[((?:[^\[\]\\]|\\.)*)\]\((?:[^()]|\([^()]*\))*\)")
_IMG_TAG = re.compile(r"<img\b[^>]*>?", re.IGNORECASE)
# What an escaping backslash must precede, each with the backslashes already in front of it:
# the `<` of anything tag-like (raw HTML, comments, autolinks), the `[` of any leftover `![`, and
# the `]` of a link whose destination is not http(s) (javascript:, data:, relative).
_FREE_TEXT = re.compile(r"(\\*)(<(?=[A-Za-z/!?])|(?<=!)\[|\](?=\((?!\s*<?https?://)))", re.IGNORECASE)
_FREE_TEXT_MARKS = ("<", "![", "](")  # every match of the three patterns above holds one
# Characters a URL destination may hold as they are; anything else (a space, a parenthesis, `<`)
# is percent-encoded. Ordinary arXiv URLs are unchanged.
_URL_SAFE = "/:.-_~%#?=&+"


def link_text(text: str) -> str:
    """`text` escaped to sit inside `[...]`: it can neither close, nest nor hide the link."""
    return _LINK_TEXT.sub(lambda m: "\\" + m.group(), _without_images(text))


def free_text(text: str) -> str:
    """`text` for a Markdown line of its own (abstract, authors, comment): images become their
    alt text, raw HTML and non-http(s) links are escaped; everything else stays as written."""
    if not any(mark in text for mark in _FREE_TEXT_MARKS):
        return text  # nearly every abstract: no scanning character by character
    text = _without_images(text)
    # Raw HTML, comments and autolinks all end in `>`: a `<` after the last one (`$x<y$`) is kept.
    last_close = text.rfind(">")

    def escaped(match: re.Match[str]) -> str:
        if match.group(2) == "<" and match.start(2) > last_close:
            return match.group()
        # Doubling the backslashes in front keeps them visible and makes ours the one that escapes.
        return match.group(1) * 2 + "\\" + match.group(2)

    return _FREE_TEXT.sub(escaped, text)


def _without_images(text: str) -> str:
    """Inline images become their alt text and `<img>` tags go: nothing in a digest loads."""
    if "![" in text:
        text = _IMAGE.sub(lambda m: m.group(1), text)
    return _IMG_TAG.sub("", text) if "<" in text else text


def url(value: str) -> str:
    """`value` percent-encoded where it could end a `(destination)` early."""
    return quote(value, safe=_URL_SAFE)
