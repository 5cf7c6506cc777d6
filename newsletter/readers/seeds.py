"""Seed papers: a new reader's first likes, named by arXiv ids, arXiv URLs or a BibTeX export
(Zotero, Mendeley, Google Scholar). They are stored as `seed` votes (up) with the papers' text, so
the ranker that learns each reader starts from them; retention keeps both.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bibtexparser.entrypoint import parse_string

from newsletter.db import Database
from newsletter.db import votes as vote_store
from newsletter.db.papers import papers_by_id, save_papers
from newsletter.fetch.errors import EmptyResultError
from newsletter.fetch.source import ArxivSource
from newsletter.models import Paper
from newsletter.settings import Settings

_NEW = r"\d{4}\.\d{4,5}"
_OLD = r"[a-z][a-z-]*(?:\.[A-Z]{2})?/\d{7}"
_BARE = re.compile(rf"^(?:arxiv:\s*)?({_NEW}|{_OLD})(?:v\d+)?$", re.IGNORECASE)
# In free text (a URL, a DOI, Google Scholar's "arXiv preprint arXiv:…"), only an id said to be arXiv's.
_MARKED = re.compile(
    rf"(?:arxiv\.org/(?:abs|pdf)/|arxiv:\s*|10\.48550/arxiv\.)({_NEW}|{_OLD})(?:v\d+)?", re.IGNORECASE
)
_ID_FIELDS = ("eprint", "arxivid", "arxiv")  # fields whose whole value is the id
_TEXT_FIELDS = ("url", "doi", "journal", "note", "howpublished", "publisher")
MAX_SEEDS = 200


@dataclass(frozen=True, slots=True)
class SeedList:
    ids: tuple[str, ...]  # arXiv ids without version, in the order given, once each
    skipped: tuple[str, ...]  # what could not be read as an arXiv paper, said for the admin


def arxiv_id_in(text: str) -> str | None:
    """The arXiv id a bare id, `arXiv:…`, an arxiv.org URL or an arXiv DOI names."""
    text = text.strip().removesuffix(".pdf")
    match = _BARE.match(text) or _MARKED.search(text)
    return match.group(1) if match else None


def _from_bibtex(text: str) -> tuple[list[str], list[str]]:
    library = parse_string(text)
    ids, skipped = [], []
    for entry in library.entries:
        fields = {key.lower(): str(field.value) for key, field in entry.fields_dict.items()}
        named = [arxiv_id_in(fields[f]) for f in (*_ID_FIELDS, *_TEXT_FIELDS) if f in fields]
        found = next((i for i in named if i), None)
        if found:
            ids.append(found)
        else:
            title = " ".join(fields.get("title", "").split())[:80]
            skipped.append(f"BibTeX entry {entry.key}{f' ({title})' if title else ''}: no arXiv id")
    for block in library.failed_blocks:
        line = f" at line {block.start_line + 1}" if block.start_line is not None else ""
        skipped.append(f"BibTeX block{line}: not readable")
    return ids, skipped


def parse_seeds(values: Iterable[str]) -> SeedList:
    """Ids from `--like` values and file contents: a list of ids or URLs (commas, spaces or lines
    between them) or a BibTeX export."""
    ids: list[str] = []
    skipped: list[str] = []
    for value in values:
        if re.search(r"^\s*@\w+\s*[{(]", value, re.MULTILINE):
            found, missed = _from_bibtex(value)
            ids += found
            skipped += missed
            continue
        without_comments = re.sub(r"(^|\s)#.*$", "", value, flags=re.MULTILINE)
        for token in re.split(r"[\s,;]+", without_comments):
            if not token:
                continue
            arxiv_id = arxiv_id_in(token)
            if arxiv_id:
                ids.append(arxiv_id)
            else:
                skipped.append(f"{token[:80]!r}: not an arXiv id or URL")
    unique = tuple(dict.fromkeys(ids))
    if len(unique) > MAX_SEEDS:
        raise ValueError(f"{len(unique)} seed papers given; at most {MAX_SEEDS}")
    return SeedList(unique, tuple(skipped))


@dataclass(frozen=True, slots=True)
class Seeds:
    papers: tuple[Paper, ...]  # as stored or as the arXiv API gave them, in the order asked for
    skipped: tuple[str, ...]  # what could not be used, said for whoever named them


def fetch_seeds(settings: Settings, wanted: SeedList, db: Database | None = None) -> Seeds:
    """The papers `wanted` names: those the database holds already (any fetched day, earlier
    seeds) from it, only the others from the arXiv API; ids the API does not know are skipped and
    said. Raises FetchError when the API cannot be asked (nothing is stored)."""
    stored = papers_by_id(db, wanted.ids) if db is not None else {}
    found = stored | _from_api(settings, [i for i in wanted.ids if i not in stored])
    missing = tuple(f"{i}: the arXiv API does not know it" for i in wanted.ids if i not in found)
    return Seeds(tuple(found[i] for i in wanted.ids if i in found), wanted.skipped + missing)


def _from_api(settings: Settings, ids: Sequence[str]) -> dict[str, Paper]:
    if not ids:  # all stored (or none named): no request at all
        return {}
    try:
        source = ArxivSource(settings.arxiv_feed_url, settings.arxiv_api_url, timeout=settings.http_timeout)
        with source:
            return source.lookup(ids)
    except EmptyResultError:  # the API's answer for ids it knows none of
        return {}


def record_seeds(db: Database, email: str, papers: Iterable[Paper], now: dt.datetime) -> int:
    """Store the papers and like each for the reader; a paper the reader already voted on keeps
    that vote. Returns how many seeds are new."""
    papers = list(papers)
    save_papers(db, papers)
    added = 0
    for paper in papers:
        if vote_store.get(db, email, paper.arxiv_id) is None:
            vote_store.put(db, email, paper.arxiv_id, "up", source="seed", digest_date=None, now=now)
            added += 1
    return added
