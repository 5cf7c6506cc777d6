"""Parse arXiv's announcement feed (rss.arxiv.org/atom/<cats>, Atom form) into Papers.

Parsed with lxml with entity resolution, network access and DTDs off: the body is untrusted input.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from lxml import etree

from newsletter.fetch.calendar import EASTERN
from newsletter.fetch.errors import FeedFormatError
from newsletter.models import AnnounceType, Paper, split_arxiv_id

log = logging.getLogger(__name__)

ATOM = "http://www.w3.org/2005/Atom"
NS = {"atom": ATOM, "arxiv": "http://arxiv.org/schemas/atom", "dc": "http://purl.org/dc/elements/1.1/"}
ANNOUNCE_TYPES: frozenset[str] = frozenset({"new", "cross", "replace", "replace-cross"})
DEFAULT_TYPES: frozenset[str] = frozenset({"new", "cross"})

_PREFIX = re.compile(
    r"^\s*arXiv:(?P<id>\S+)\s+Announce Type:\s*(?P<type>[\w-]+)\s*(?:Abstract:)?\s*", re.IGNORECASE
)
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class FeedPage:
    """One fetched announcement feed: its announcement date and its entries in feed order."""

    url: str
    date: dt.date
    papers: tuple[Paper, ...]
    skipped: int = 0  # entries left out (replacements, unknown types, entries without an id)


def normalise(text: str | None) -> str:
    """Collapse runs of whitespace (arXiv hard-wraps abstracts) and trim."""
    return _SPACE.sub(" ", text or "").strip()


def strip_announce_prefix(summary: str) -> tuple[str, str | None]:
    """'arXiv:2508.1v1 Announce Type: new Abstract: Text' → ('Text', 'new')."""
    match = _PREFIX.match(summary)
    if match is None:
        return normalise(summary), None
    return normalise(summary[match.end() :]), match.group("type").lower()


def split_authors(creator: str | None) -> tuple[str, ...]:
    """The feed's dc:creator is one comma-separated string ('A, B, and C' also occurs)."""
    names = []
    for part in normalise(creator).split(","):
        name = part.strip()
        if name.lower().startswith("and "):
            name = name[4:].strip()
        if name:
            names.append(name)
    return tuple(names)


_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_pis=True
)


def parse_xml(content: bytes, url: str) -> Any:
    """Parse untrusted XML; FeedFormatError naming `url` for anything that is not plain XML."""
    if not content.strip():
        raise FeedFormatError(f"{url} answered an empty body instead of an Atom feed", url=url)
    try:
        root = etree.fromstring(content, parser=_PARSER)
    except etree.XMLSyntaxError as exc:
        raise FeedFormatError(f"{url} answered malformed XML: {exc}", url=url) from exc
    if root is None:
        raise FeedFormatError(f"{url} answered an empty XML document", url=url)
    if root.getroottree().docinfo.internalDTD is not None:
        # Atom never needs a DTD; one in the body can only mean entity tricks.
        tag = etree.QName(root).localname
        raise FeedFormatError(
            f"{url} answered a <{tag}> document with a DTD: not an Atom feed, refused", url=url
        )
    return root


def _text(element: Any, path: str) -> str | None:
    found = element.find(path, NS)
    return cast(str | None, found.text) if found is not None else None


def _parse_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def _categories(entry: Any) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    primary = entry.find("arxiv:primary_category", NS)
    if primary is not None and primary.get("term"):
        seen[primary.get("term")] = None
    for element in entry.iterfind("atom:category", NS):
        term = (element.get("term") or "").strip()
        if term:
            seen.setdefault(term, None)
    return tuple(seen)


def parse_entry(entry: Any) -> Paper | None:
    """One <entry> → Paper, or None when it has no arXiv id (logged)."""
    raw_id = _text(entry, "atom:id") or ""
    summary, prefix_type = strip_announce_prefix(_text(entry, "atom:summary") or "")
    # 'oai:arXiv.org:2508.13167v1'; old-style ids keep their slash ('math/0601001v2').
    short = raw_id.strip().rsplit(":", 1)[-1] if raw_id.strip() else ""
    if not short:
        log.warning("feed entry without an id skipped (title %r)", _text(entry, "atom:title"))
        return None
    arxiv_id, version = split_arxiv_id(short)
    announce = (_text(entry, "arxiv:announce_type") or prefix_type or "new").strip().lower()
    if announce not in ANNOUNCE_TYPES:
        log.warning("entry %s has unknown announce type %r; skipped", arxiv_id, announce)
        return None
    return Paper(
        arxiv_id=arxiv_id,
        version=version,
        title=normalise(_text(entry, "atom:title")),
        authors=split_authors(_text(entry, "dc:creator")),
        abstract=summary,
        categories=_categories(entry),
        announce_type=cast(AnnounceType, announce),
        license=normalise(_text(entry, "dc:rights")) or None,
    )


def feed_date(root: Any, url: str) -> dt.date:
    """The announcement date: the entries' publication date, else the feed's update time (ET)."""
    for entry in root.iterfind("atom:entry", NS):
        published = _parse_time(_text(entry, "atom:published"))
        if published is not None:
            return published.astimezone(EASTERN).date()
    updated = _parse_time(_text(root, "atom:updated"))
    if updated is None:
        raise FeedFormatError(f"{url}: the feed carries no announcement date", url=url)
    return updated.astimezone(EASTERN).date()


def parse_feed(
    content: bytes, url: str, *, keep: Iterable[str] = DEFAULT_TYPES
) -> FeedPage:
    """Parse an announcement feed; keep entries whose announce type is in `keep`, one per paper."""
    root = parse_xml(content, url)
    if etree.QName(root).text != f"{{{ATOM}}}feed":
        tag = etree.QName(root).localname
        raise FeedFormatError(f"{url} answered a <{tag}> document, not an Atom feed", url=url)
    wanted = frozenset(keep)
    papers: dict[str, Paper] = {}
    skipped = 0
    for entry in root.iterfind("atom:entry", NS):
        paper = parse_entry(entry)
        if paper is None or paper.announce_type not in wanted:
            skipped += 1
            continue
        known = papers.get(paper.arxiv_id)
        # A paper listed twice (e.g. as new and as a cross-list) is one paper; "new" wins.
        if known is None or (known.announce_type != "new" and paper.announce_type == "new"):
            papers[paper.arxiv_id] = paper
        else:
            skipped += 1
    return FeedPage(url=url, date=feed_date(root, url), papers=tuple(papers.values()), skipped=skipped)
