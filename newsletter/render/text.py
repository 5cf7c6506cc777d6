"""Small pure text helpers shared by the Markdown, HTML and subject renderers."""

from __future__ import annotations

import datetime as dt
import re

# Fixed English names: strftime's %a/%b follow the process locale, and a digest must not change
# language because the server's LANG did.
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


# Control characters (C0 but tab/newline, DEL, C1), lone surrogates and non-characters: not
# allowed in XML, so one of them (an LLM comment ending in an ANSI colour code, say) made MJML
# refuse the whole digest. They carry no meaning in a title, an abstract or a comment.
_CONTROL = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff"
# Invisible format characters: bidi embeddings, overrides, isolates and marks (U+202E turns
# "Report\u202efdp.exe" into "Reportexe.pdf" on screen), zero-width spaces and joiners, word
# joiner and invisible operators, BOM, interlinear annotations, and the tag characters (invisible
# ASCII look-alikes). In a paper's title they can only disguise what the text says.
_INVISIBLE = (
    "\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000e0000-\U000e007f"
)
_UNPRINTABLE = re.compile(f"[{_CONTROL}{_INVISIBLE}]")


def printable(text: str) -> str:
    """`text` without the characters no digest may carry (see `_UNPRINTABLE`).

    The one place: titles, authors, abstracts and comments (through `one_line`), the subject and
    the HTML footer's criteria all pass here.
    """
    return _UNPRINTABLE.sub("", text)


def one_line(text: str) -> str:
    """Collapse every run of whitespace (newlines included) into one space; drop unprintables.

    Paper fields arrive hard-wrapped from arXiv; joining them also means nothing inside a title or
    abstract can start a new Markdown line (a forged heading, separator or anchor).
    """
    return " ".join(printable(text).split())


def shorten(text: str, limit: int, ellipsis: str = "…") -> str:
    """`text` cut at a word boundary so that the result (ellipsis included) is ≤ limit chars."""
    if limit < len(ellipsis) + 1:
        raise ValueError(f"shorten: limit {limit} leaves no room for text")
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ellipsis) + 1]
    space = cut.rfind(" ")
    # A single very long word (a URL, a CJK run without spaces) is cut inside the word.
    cut = cut[:space] if space > limit // 2 else cut[: limit - len(ellipsis)]
    return cut.rstrip(" ,;:.-–—([{") + ellipsis


def us_date(day: dt.date) -> str:
    """08/28/2025: the header date of the reference digests."""
    return f"{day.month:02d}/{day.day:02d}/{day.year:04d}"


def short_date(day: dt.date) -> str:
    """Thu 28 Aug 2025."""
    return f"{_DAYS[day.weekday()][:3]} {day.day} {_MONTHS[day.month - 1][:3]} {day.year}"


def long_date(day: dt.date) -> str:
    """Thursday, 28 August 2025."""
    return f"{_DAYS[day.weekday()]}, {day.day} {_MONTHS[day.month - 1]} {day.year}"


def span_us(first: dt.date | None, last: dt.date) -> str:
    """The Markdown header's date: 08/28/2025, or 12/01/2026–12/05/2026 for a digest of several days."""
    return us_date(last) if first is None or first >= last else f"{us_date(first)}–{us_date(last)}"


def _span(first: dt.date, last: dt.date, months: tuple[str, ...]) -> str:
    """1–5 December 2026; 28 November – 4 December 2026; 29 December 2026 – 2 January 2027."""
    end = f"{last.day} {months[last.month - 1]} {last.year}"
    if first.year != last.year:
        return f"{first.day} {months[first.month - 1]} {first.year} – {end}"
    if first.month != last.month:
        return f"{first.day} {months[first.month - 1]} – {end}"
    return f"{first.day}–{end}"


def span_short(first: dt.date | None, last: dt.date) -> str:
    """The subject's date: Thu 28 Aug 2025, or 1–5 Dec 2026 for a digest of several days."""
    if first is None or first >= last:
        return short_date(last)
    return _span(first, last, tuple(m[:3] for m in _MONTHS))


def span_long(first: dt.date | None, last: dt.date) -> str:
    """The HTML headline's date: Thursday, 28 August 2025, or 1–5 December 2026."""
    return long_date(last) if first is None or first >= last else _span(first, last, _MONTHS)


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def criteria_lines(criteria: str) -> tuple[str, ...]:
    """The criteria text as lines for HTML (one `<br>` each), runs of blank lines cut to one."""
    lines: list[str] = []
    for line in printable(criteria).strip().splitlines():
        line = line.rstrip()
        if line or (lines and lines[-1]):
            lines.append(line)
    return tuple(lines)


_SCHEME = re.compile(r"^https?://[^\s\"'<>]+$", re.IGNORECASE)


def check_url(value: str, what: str) -> str:
    """`value` if it is an absolute http(s) URL without spaces or quotes, else a ValueError."""
    if not _SCHEME.match(value):
        # The value is not shown: it carries the reader's unsubscribe token, and this message
        # reaches the run's summary and the admin's alert.
        raise ValueError(f"{what} must be an absolute http(s) URL (see NEWSLETTER_PUBLIC_URL)")
    return value


def check_address(value: str, what: str) -> str:
    local, at, domain = value.partition("@")
    if not (at and local and domain) or any(c in value for c in " \t\r\n<>\"'"):
        raise ValueError(f"{what} must be an email address (see NEWSLETTER_REPLY_DOMAIN)")  # no token
    return value
