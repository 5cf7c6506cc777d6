"""A reader's digests as an Atom 1.0 document (RFC 4287), built with `feedgen`.

feedgen writes through lxml, so every text (a title of `<`, `&` and quotes included) is escaped
by the XML library and the document is well-formed whatever the papers say; it also refuses a
document that misses what Atom requires (feed and entry id, title, updated). The characters XML
cannot carry at all (C0 controls, lone surrogates) never reach it: they are dropped as in the
digests (`render.text.printable`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from feedgen.feed import FeedGenerator

from newsletter.db.feed import SentEntry
from newsletter.render.text import printable


@dataclass(frozen=True, slots=True)
class FeedInfo:
    """What the feed says about itself: its URL, whose it is, who publishes it."""

    self_url: str
    public_url: str
    email: str
    publisher: str  # NEWSLETTER_FROM_NAME
    updated: dt.datetime  # the newest entry's send, or when the reader's token was made


def parse_time(value: str) -> dt.datetime:
    """A stored ISO time; a naive one is UTC (how the service writes its times)."""
    moment = dt.datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _tag(public_url: str, specific: str) -> str:
    """A tag URI (RFC 4151): a permanent id that names this service and never needs resolving."""
    host = urlsplit(public_url).hostname or "localhost"
    return f"tag:{host},2025:{specific}"


def _summary(sent: SentEntry) -> str:
    entry = sent.entry
    why = "An author you follow. " if entry.source == "author" else ""
    scores = (f"Relevance {entry.relevance}/10, estimated locally (no LLM judged it)"
              if entry.source == "local" else f"Relevance {entry.relevance}/10 · Novelty {entry.novelty}/10")
    comment = f" — {entry.comment}" if entry.comment else ""
    return printable(f"{why}{scores}{comment} (digest of {sent.digest_date:%d %b %Y})")


def _add_entry(fg: FeedGenerator, info: FeedInfo, sent: SentEntry) -> None:
    entry = sent.entry
    abs_url = f"https://arxiv.org/abs/{entry.arxiv_id}"
    fe = fg.add_entry(order="append")  # the rows come newest digest first, best paper first
    fe.id(_tag(info.public_url, f"digest/{sent.digest_id}/{entry.arxiv_id}"))
    fe.title(printable(entry.title) or entry.arxiv_id)
    # One link only: feedgen 1.0 drops an entry link's rel and type when writing (its open issue
    # lkiesow/python-feedgen#135), so a second (the PDF) would be a second rel="alternate" of the
    # same type, which RFC 4287 forbids. The one link is the alternate either way.
    fe.link(href=abs_url, rel="alternate", type="text/html")
    for name in entry.authors:
        if clean := printable(name):
            fe.author(name=clean)
    sent_at = parse_time(sent.sent_at)
    fe.updated(sent_at)
    fe.published(sent_at)
    fe.summary(_summary(sent), type="text")
    if entry.category:
        fe.category(term=printable(entry.category), scheme="https://arxiv.org/category_taxonomy")


def atom_document(info: FeedInfo, entries: Sequence[SentEntry]) -> bytes:
    """The feed as UTF-8 XML: newest digest first, each digest's papers best first."""
    fg = FeedGenerator()
    owner = hashlib.sha256(info.email.strip().lower().encode("utf-8")).hexdigest()[:16]
    fg.id(_tag(info.public_url, f"feed/{owner}"))
    fg.title(f"{printable(info.publisher) or 'arXiv Digest'}: your papers")
    fg.subtitle("The papers of your arXiv digests of the last 30 days. This link is yours alone.")
    fg.author(name=printable(info.publisher) or "arXiv Digest")
    fg.link(href=info.self_url, rel="self", type="application/atom+xml")
    fg.link(href="https://arxiv.org/", rel="alternate", type="text/html")
    fg.generator("arXiv Digest")
    fg.language("en")
    fg.updated(info.updated)
    for sent in entries:
        _add_entry(fg, info, sent)
    return bytes(fg.atom_str(pretty=True))
