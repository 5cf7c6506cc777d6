"""Subject lines: date, count and the top paper's title, short enough for a phone's inbox."""

from __future__ import annotations

import datetime as dt

from newsletter.models import Digest

from .math import render_math
from .text import one_line, plural, shorten, span_short

SUBJECT_MAX = 78  # RFC 5322's recommended line length; also about what a desktop inbox shows
_SEP = " · "
_MIN_TITLE = 12  # below this a title fragment says nothing; leave it out instead


def digest_subject(digest: Digest, max_length: int = SUBJECT_MAX) -> str:
    """E.g. "arXiv digest · Thu 28 Aug 2025 · 2 papers · GS: Generative Segmentation via…"; a
    digest of several days names them: "arXiv digest · 1–5 Dec 2026 · 7 papers · …"."""
    when = span_short(digest.first, digest.date)
    head = _SEP.join(("arXiv digest", when, plural(len(digest.entries), "paper")))
    if not digest.entries:
        return head
    title = render_math(one_line(digest.entries[0].paper.title))  # one line: no header folding tricks
    room = max_length - len(head) - len(_SEP)
    if room < _MIN_TITLE:
        return head
    return head + _SEP + shorten(title, room)


def empty_subject(date: dt.date, first: dt.date | None = None) -> str:
    if first is None or first >= date:
        return _SEP.join(("arXiv digest", span_short(None, date), "nothing matched today"))
    return _SEP.join(("arXiv digest", span_short(first, date), "nothing matched"))
