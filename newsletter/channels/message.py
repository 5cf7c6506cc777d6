"""The day's digest as a chat message: the count, then each paper as its linked title, first
authors, relevance (or, in the lab view, how many readers it reached) and the one-line comment.

Markdown, which Apprise turns into each service's own formatting. Paper text is escaped as in the
email's Markdown part. A message never exceeds the channel's limit: the papers are split over
several messages at paper boundaries, and a single paper too long for one message is trimmed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from newsletter.models import Paper
from newsletter.render.mdescape import free_text, link_text, url
from newsletter.render.text import one_line, plural, shorten

TITLE_MAX = 300
COMMENT_MAX = 300
MIN_LIMIT = 200  # no service allows less; below it a trimmed paper would say nothing


@dataclass(frozen=True, slots=True)
class ChannelItem:
    """One paper of a channel's message: scored (`relevance`) or, in the lab view, `readers`."""

    paper: Paper
    relevance: int | None = None
    comment: str = ""
    readers: int | None = None


def _authors(names: Sequence[str]) -> str:
    shown = ", ".join(one_line(n) for n in names[:3])
    return shown + (" et al." if len(names) > 3 else "")


def item_text(number: int, item: ChannelItem) -> str:
    paper = item.paper
    title = link_text(shorten(one_line(paper.title), TITLE_MAX))
    line = f"{number}. **[{title}]({url(paper.abs_url)})**"
    if paper.authors:
        line += f" — {free_text(_authors(paper.authors))}"
    facts = []
    if item.readers is not None:
        facts.append(f"reached {plural(item.readers, 'reader')}")
    if item.relevance is not None:
        facts.append(f"relevance {item.relevance}/10")
    if item.comment.strip():
        facts.append(free_text(shorten(one_line(item.comment), COMMENT_MAX)))
    return line + ("\n   " + " · ".join(facts) if facts else "")


def heading(name: str, digest_date: dt.date, count: int, lab: bool) -> str:
    what = "most read by the lab" if lab else "for this channel"
    return f"**arXiv digest {digest_date.isoformat()}**: {plural(count, 'paper')} {what}"


def messages(name: str, digest_date: dt.date, items: Sequence[ChannelItem], *, lab: bool,
             limit: int) -> list[str]:
    """The message(s) for one channel and day, each at most `limit` characters."""
    limit = max(limit, MIN_LIMIT)
    head = heading(name, digest_date, len(items), lab)
    parts: list[str] = []
    current = head
    for number, item in enumerate(items, 1):
        text = item_text(number, item)
        if len(current) + 2 + len(text) <= limit:
            current += "\n\n" + text
            continue
        parts.append(current)
        current = shorten(text, limit - 1)  # alone in its message, trimmed if even that is too long
    parts.append(current)
    if len(parts) > 1:  # "(2/3)" tells the reader more follows; room was not kept for it
        parts = [shorten(p, limit - 8) + f" ({n}/{len(parts)})" for n, p in enumerate(parts, 1)]
    return parts


def trial_message(name: str) -> str:
    return f"**arXiv digest**: a test message for the channel {name}; its daily digest will look like this."
