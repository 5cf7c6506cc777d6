"""What the templates see: one flat, already-normalised view per paper, and the Jinja2 setup."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

import jinja2

from newsletter.models import Digest, DigestEntry, ScoreSource

from . import mdescape
from .math import render_math
from .text import one_line

TEMPLATE_PACKAGE = "newsletter.templates"


@dataclass(frozen=True, slots=True)
class EntryView:
    number: int  # 0-based, as in the reference digests
    arxiv_id: str
    category: str
    title: str
    authors: str
    authors_short: str  # "A and B", or "A et al." for three or more
    abstract: str
    comment: str
    relevance: int
    novelty: int
    source: ScoreSource
    topic: int | None  # the criteria topic it fits: its section in the HTML part
    author_match: bool
    # The local ranker's relevance is an estimate from word matches, not a judgement: the digest
    # says so beside it, and shows no novelty (the ranker does not judge it).
    estimated: bool
    abs_url: str
    pdf_url: str


def entry_views(digest: Digest) -> tuple[EntryView, ...]:
    return tuple(_view(i, entry) for i, entry in enumerate(digest.entries))


def _view(number: int, entry: DigestEntry) -> EntryView:
    paper, score = entry.paper, entry.score
    if score.arxiv_id != paper.arxiv_id:
        raise ValueError(
            f"digest entry {number}: score is for {score.arxiv_id!r} but the paper is {paper.arxiv_id!r}"
        )
    return EntryView(
        number=number,
        arxiv_id=paper.arxiv_id,
        category=paper.primary_category,
        title=_readable(paper.title),
        authors=", ".join(one_line(a) for a in paper.authors),
        authors_short=_short_authors([one_line(a) for a in paper.authors]),
        abstract=_readable(paper.abstract),
        comment=_readable(score.comment),
        relevance=score.relevance,
        novelty=score.novelty,
        source=score.source,
        topic=score.topic,
        author_match=entry.author_match,
        estimated=score.source == "local",
        abs_url=paper.abs_url,
        pdf_url=paper.pdf_url,
    )


def _readable(text: str) -> str:
    """One line, with its LaTeX as Unicode where that loses nothing (both the HTML and text parts)."""
    return render_math(one_line(text))


def _short_authors(names: list[str]) -> str:
    if len(names) > 2:
        return f"{names[0]} et al."
    return " and ".join(names)


def _load(name: str) -> str:
    # importlib.resources works the same from the checkout (editable install maps
    # newsletter.templates to ./templates) and from an installed wheel.
    try:
        return resources.files(TEMPLATE_PACKAGE).joinpath(name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise jinja2.TemplateNotFound(name) from None


@functools.cache
def markdown_env() -> jinja2.Environment:
    """Markdown out: no HTML escaping, but paper text goes through the `md_*` filters (see
    `mdescape`); whitespace control so the template reads like its output."""
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_load),
        autoescape=False,  # noqa: S701 - Markdown: escaped per place by the md_* filters instead
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(md_link=mdescape.link_text, md_text=mdescape.free_text, md_url=mdescape.url)
    return env


@functools.cache
def html_env() -> jinja2.Environment:
    """MJML out: autoescape on, so a `<` in a paper can neither inject markup nor break MJML."""
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(_load),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
