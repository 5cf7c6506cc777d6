"""Caps on paper text, so that the HTML part of a digest of any papers fits Gmail's ~102 KB.

A cap counts the bytes the HTML carries: the field's UTF-8 after HTML escaping (`&` is 5 bytes,
an emoji 4), so a title of ampersands cannot outgrow it. Real papers never reach the `SENSIBLE`
caps (the longest title in 7,485 real ones is 187 characters, LLM comments are cut to 300)
except for author lists of large collaborations, which end "… and 2,345 more"; both parts use
them (a 100 KB title is no more use in the text part). `COMPACT`, for the HTML only, is for a
day that still does not fit once abstracts are cut: its caps are what 30 papers of the worst
possible text need to stay under 90 KB (tests/render/test_hostile.py builds that digest).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import escape

from newsletter.models import Digest

from .text import one_line, shorten
from .view import EntryView, entry_views

_MORE = "… and {count:,} more"


@dataclass(frozen=True, slots=True)
class Caps:
    """The most escaped UTF-8 bytes each field may take in the HTML."""

    title: int
    authors: int  # the full list under the title
    authors_short: int  # "A and B" / "A et al." in the contents
    comment: int


SENSIBLE = Caps(title=600, authors=600, authors_short=120, comment=1_200)
COMPACT = Caps(title=100, authors=80, authors_short=30, comment=100)
COMPACT_ABSTRACT = 100  # bytes of each abstract a compacted digest shows, then "read more"


def html_size(text: str) -> int:
    """Bytes `text` takes in the HTML: escaped as Jinja's autoescape does, in UTF-8."""
    return len(str(escape(text)).encode("utf-8"))


def clip(text: str, max_bytes: int) -> str:
    """`text` shortened with an ellipsis (at a word boundary where it can) to ≤ `max_bytes`."""
    if html_size(text) <= max_bytes:
        return text
    low, high = 2, min(len(text), max_bytes)  # each character takes at least one byte
    while low < high:  # the longest cut that fits; shorten() only grows with its limit
        mid = (low + high + 1) // 2
        if html_size(shorten(text, mid)) <= max_bytes:
            low = mid
        else:
            high = mid - 1
    return shorten(text, low)


def author_list(names: Sequence[str], max_bytes: int) -> str:
    """The names joined by ", ": as many whole ones as fit, then "… and N more"."""
    full = ", ".join(names)
    if html_size(full) <= max_bytes:
        return full
    shown: list[str] = []
    for name in names[:-1]:
        more = _MORE.format(count=len(names) - len(shown) - 1)
        if html_size(", ".join([*shown, name, more])) > max_bytes:
            break
        shown.append(name)
    if not shown:  # the first name alone is too long
        return clip(full, max_bytes)
    return ", ".join([*shown, _MORE.format(count=len(names) - len(shown))])


def capped(view: EntryView, authors: Sequence[str], caps: Caps) -> EntryView:
    """`view` with every free-text field within `caps`; `authors` are the paper's names."""
    return dataclasses.replace(
        view,
        title=clip(view.title, caps.title),
        authors=view.authors
        if html_size(view.authors) <= caps.authors
        else author_list([one_line(a) for a in authors], caps.authors),
        authors_short=clip(view.authors_short, caps.authors_short),
        comment=clip(view.comment, caps.comment),
    )


def capped_views(digest: Digest, caps: Caps = SENSIBLE) -> tuple[EntryView, ...]:
    """The digest's entry views within `caps` (both parts use SENSIBLE ones)."""
    views = entry_views(digest)
    return tuple(capped(v, e.paper.authors, caps) for v, e in zip(views, digest.entries, strict=True))
