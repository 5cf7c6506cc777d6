"""Writers of arXiv's two Atom formats, and the reference days they are built from.

Used by the loopback fake (tests/fakes/arxiv_server.py), bench/fetch.py and
examples/make_sample_feed.py, so all three speak exactly the same format, modelled on the real
samples (rss.arxiv.org/atom/cs.AI of 2025-08-20 and export.arxiv.org/api/query answers).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from lxml import etree

ATOM = "http://www.w3.org/2005/Atom"
ARXIV = "http://arxiv.org/schemas/atom"
DC = "http://purl.org/dc/elements/1.1/"
OPENSEARCH = "http://a9.com/-/spec/opensearch/1.1/"
EASTERN = ZoneInfo("America/New_York")
DATA = Path(__file__).resolve().parent.parent / "data" / "arxiv"
REFERENCE_DAYS = (dt.date(2025, 6, 19), dt.date(2025, 7, 15), dt.date(2025, 8, 28))


@dataclass(frozen=True, slots=True)
class RefPaper:
    """One paper of a reference day (arXiv's /new listing: no version, license or announce type)."""

    arxiv_id: str
    title: str
    authors: tuple[str, ...]
    abstract: str
    categories: tuple[str, ...]  # the first one is taken as the primary
    comment: str | None = None
    version: int = 1
    license: str | None = None


@cache
def load_day(day: dt.date, folder: Path = DATA) -> tuple[RefPaper, ...]:
    """The reference day `day` from `<folder>/<day>.jsonl.gz` (read once, shared)."""
    papers = []
    with gzip.open(folder / f"{day.isoformat()}.jsonl.gz", "rt", encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            papers.append(
                RefPaper(
                    arxiv_id=row["id"],
                    title=row["title"],
                    authors=tuple(row["authors"]),
                    abstract=row["summary"],
                    categories=tuple(row["categories"]),
                    comment=row.get("comment"),
                )
            )
    return tuple(papers)


def announce_type(paper: RefPaper, categories: Iterable[str]) -> str:
    """'new' in the listing of the paper's primary category, 'cross' in the others."""
    return "new" if paper.categories[0] in set(categories) else "cross"


def listed_in(paper: RefPaper, categories: Iterable[str]) -> bool:
    return bool(set(paper.categories) & set(categories))


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element


def announcement_feed(
    categories: Sequence[str],
    day: dt.date,
    entries: Sequence[tuple[RefPaper, str]],
    *,
    updated: dt.datetime | None = None,
) -> bytes:
    """rss.arxiv.org/atom/<cats> for the announcement dated `day`: entries are (paper, type)."""
    joined = "+".join(categories)
    midnight = dt.datetime.combine(day, dt.time(0, 0), tzinfo=EASTERN)
    stamp = (updated or midnight.astimezone(dt.UTC) + dt.timedelta(seconds=19)).isoformat()
    root = etree.Element(f"{{{ATOM}}}feed", nsmap={"arxiv": ARXIV, "dc": DC, None: ATOM})
    root.set("{http://www.w3.org/XML/1998/namespace}lang", "en-us")
    _sub(root, f"{{{ATOM}}}id", f"http://rss.arxiv.org/atom/{joined}")
    _sub(root, f"{{{ATOM}}}title", f"{joined} updates on arXiv.org")
    _sub(root, f"{{{ATOM}}}updated", stamp)
    _sub(root, f"{{{ATOM}}}link", href=f"http://rss.arxiv.org/atom/{joined}", rel="self",
         type="application/atom+xml")
    _sub(root, f"{{{ATOM}}}subtitle", f"{joined} updates on the arXiv.org e-print archive.")
    for paper, kind in entries:
        entry = _sub(root, f"{{{ATOM}}}entry")
        versioned = f"{paper.arxiv_id}v{paper.version}"
        _sub(entry, f"{{{ATOM}}}id", f"oai:arXiv.org:{versioned}")
        _sub(entry, f"{{{ATOM}}}title", paper.title)
        _sub(entry, f"{{{ATOM}}}updated", stamp)
        _sub(entry, f"{{{ATOM}}}link", href=f"https://arxiv.org/abs/{paper.arxiv_id}",
             rel="alternate", type="text/html")
        _sub(entry, f"{{{ATOM}}}summary",
             f"arXiv:{versioned} Announce Type: {kind} \nAbstract: {paper.abstract}")
        for category in paper.categories:
            _sub(entry, f"{{{ATOM}}}category", term=category)
        _sub(entry, f"{{{ATOM}}}published", midnight.isoformat())
        _sub(entry, f"{{{ARXIV}}}announce_type", kind)
        if paper.license:
            _sub(entry, f"{{{DC}}}rights", paper.license)
        _sub(entry, f"{{{DC}}}creator", ", ".join(paper.authors))
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def day_feed(categories: Sequence[str], day: dt.date, papers: Iterable[RefPaper]) -> bytes:
    """The feed of `day` for `categories`, built the way arXiv lists a day: new, then cross."""
    listed = [(p, announce_type(p, categories)) for p in papers if listed_in(p, categories)]
    listed.sort(key=lambda item: item[1] != "new")
    return announcement_feed(categories, day, listed)


@dataclass(frozen=True, slots=True)
class ApiEntry:
    paper: RefPaper
    published: dt.datetime  # first submission (v1)
    updated: dt.datetime


def _api_stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def api_feed(entries: Sequence[ApiEntry], *, query: str, total: int, start: int) -> bytes:
    """export.arxiv.org/api/query's answer: one page of results."""
    root = etree.Element(f"{{{ATOM}}}feed",
                         nsmap={"opensearch": OPENSEARCH, "arxiv": ARXIV, None: ATOM})
    _sub(root, f"{{{ATOM}}}id", "https://arxiv.org/api/fake")
    _sub(root, f"{{{ATOM}}}title", f"arXiv Query: {query}")
    _sub(root, f"{{{ATOM}}}updated", _api_stamp(dt.datetime.now(dt.UTC)))
    _sub(root, f"{{{OPENSEARCH}}}itemsPerPage", str(len(entries)))
    _sub(root, f"{{{OPENSEARCH}}}totalResults", str(total))
    _sub(root, f"{{{OPENSEARCH}}}startIndex", str(start))
    for item in entries:
        paper = item.paper
        versioned = f"{paper.arxiv_id}v{paper.version}"
        entry = _sub(root, f"{{{ATOM}}}entry")
        _sub(entry, f"{{{ATOM}}}id", f"http://arxiv.org/abs/{versioned}")
        _sub(entry, f"{{{ATOM}}}title", paper.title)
        _sub(entry, f"{{{ATOM}}}updated", _api_stamp(item.updated))
        _sub(entry, f"{{{ATOM}}}link", href=f"https://arxiv.org/abs/{versioned}",
             rel="alternate", type="text/html")
        _sub(entry, f"{{{ATOM}}}link", href=f"https://arxiv.org/pdf/{versioned}", rel="related",
             type="application/pdf", title="pdf")
        _sub(entry, f"{{{ATOM}}}summary", paper.abstract)
        for category in paper.categories:
            _sub(entry, f"{{{ATOM}}}category", term=category, scheme="http://arxiv.org/schemas/atom")
        _sub(entry, f"{{{ATOM}}}published", _api_stamp(item.published))
        if paper.comment:
            _sub(entry, f"{{{ARXIV}}}comment", paper.comment)
        _sub(entry, f"{{{ARXIV}}}primary_category", term=paper.categories[0])
        for name in paper.authors:
            author = _sub(entry, f"{{{ATOM}}}author")
            _sub(author, f"{{{ATOM}}}name", name)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def api_error_feed(message: str, *, dated: bool = False) -> bytes:
    """arXiv's error answer: an Atom feed with one entry whose id points at /api/errors.

    arXiv's error entries carry no <published>, so the `arxiv` package drops them and reports
    zero results; `dated=True` adds one, to exercise the other path.
    """
    root = etree.Element(f"{{{ATOM}}}feed", nsmap={"opensearch": OPENSEARCH, None: ATOM})
    _sub(root, f"{{{ATOM}}}id", "http://arxiv.org/api/errors")
    _sub(root, f"{{{ATOM}}}title", "arXiv Query Error")
    _sub(root, f"{{{OPENSEARCH}}}totalResults", "1")
    _sub(root, f"{{{OPENSEARCH}}}startIndex", "0")
    _sub(root, f"{{{OPENSEARCH}}}itemsPerPage", "1")
    entry = _sub(root, f"{{{ATOM}}}entry")
    _sub(entry, f"{{{ATOM}}}id", "http://arxiv.org/api/errors#malformed_query")
    _sub(entry, f"{{{ATOM}}}title", "Error")
    _sub(entry, f"{{{ATOM}}}summary", message)
    _sub(entry, f"{{{ATOM}}}updated", _api_stamp(dt.datetime.now(dt.UTC)))
    if dated:
        _sub(entry, f"{{{ATOM}}}published", _api_stamp(dt.datetime.now(dt.UTC)))
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
