"""The arXiv export API through the `arxiv` package: rebuild a past announcement, look up ids.

`arxiv.Client` gets our PoliteSession (timeout, ≥ 3 s pacing, backoff honouring Retry-After) and
no retries of its own. Its parser turns error feeds, HTML and empty pages into zero results
without an exception, so zero where papers were expected is raised here as EmptyResultError.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Iterator, Sequence
from urllib.parse import urlencode

import arxiv

from newsletter.fetch.errors import EmptyResultError, FetchError
from newsletter.fetch.feed import normalise
from newsletter.fetch.http import PoliteSession
from newsletter.models import Paper, split_arxiv_id

log = logging.getLogger(__name__)

ID_BATCH = 100  # ids per id_list request: keeps the URL well under any server's limit


def make_client(session: PoliteSession, api_url: str, page_size: int) -> arxiv.Client:
    """An arxiv.Client that sends every request through `session` to `api_url`."""
    client = arxiv.Client(page_size=page_size, delay_seconds=0.0, num_retries=0)
    # arxiv 4.x has no public hook for the session; ours adds the timeout, pacing and backoff.
    client._session = session
    client.query_url_format = api_url.rstrip("?") + "?{}"
    return client


def _stamp(moment: dt.datetime) -> str:
    # The API wants exactly 12 digits, GMT: YYYYMMDDHHMM.
    return moment.astimezone(dt.UTC).strftime("%Y%m%d%H%M")


def window_query(categories: Sequence[str], start: dt.datetime, end: dt.datetime) -> str:
    cats = " OR ".join(f"cat:{category}" for category in categories)
    return f"({cats}) AND submittedDate:[{_stamp(start)} TO {_stamp(end)}]"


def to_paper(result: arxiv.Result, requested: Iterable[str]) -> Paper:
    arxiv_id, version = split_arxiv_id(result.get_short_id())
    categories = dict.fromkeys([result.primary_category, *result.categories])
    categories.pop("", None)
    ordered = tuple(categories)
    primary = ordered[0] if ordered else ""
    return Paper(
        arxiv_id=arxiv_id,
        version=version,
        title=normalise(result.title),
        authors=tuple(normalise(author.name) for author in result.authors),
        abstract=normalise(result.summary),
        categories=ordered,
        # The API does not say how a paper was announced; a paper is "new" in the listing of its
        # primary category and a cross-list in the others.
        announce_type="new" if primary in set(requested) else "cross",
        comment=normalise(result.comment) or None,
    )


def _results(client: arxiv.Client, search: arxiv.Search, url: str) -> Iterator[arxiv.Result]:
    try:
        for result in client.results(search):
            if "/api/errors" in result.entry_id:  # arXiv's HTTP-200 error feed
                raise FetchError(f"{url}: the API answered an error: {normalise(result.summary)}",
                                 url=url)
            yield result
    except arxiv.UnexpectedEmptyPageError as exc:
        raise FetchError(f"{exc.url}: the API answered an empty page mid-way", url=exc.url) from exc
    except arxiv.HTTPError as exc:
        raise FetchError(f"{exc.url} answered HTTP {exc.status}", url=exc.url,
                         status=exc.status) from exc


def fetch_window(
    client: arxiv.Client,
    categories: Sequence[str],
    start: dt.datetime,
    end: dt.datetime,
    *,
    overlap: dt.timedelta,
) -> tuple[Paper, ...]:
    """Papers first submitted in [start, end) in any of `categories`, oldest first.

    The query is widened by `overlap` on both sides (so a server-side rounding or time-zone slip
    cannot lose a paper at the edge) and the answer trimmed back to the window by each paper's
    own submission time, deduplicated by id.
    """
    query = window_query(categories, start - overlap, end + overlap)
    search = arxiv.Search(
        query=query,
        max_results=None,
        sort_by=arxiv.SortCriterion.SubmittedDate,
        sort_order=arxiv.SortOrder.Ascending,
    )
    url = client.query_url_format.format(urlencode({"search_query": query}))
    papers: dict[str, Paper] = {}
    answered = 0
    for result in _results(client, search, url):
        answered += 1
        if start <= result.published < end:
            paper = to_paper(result, categories)
            papers.setdefault(paper.arxiv_id, paper)
    if answered == 0:
        raise EmptyResultError(
            f"{url}: the API answered no papers for {query!r}; arXiv announces papers every"
            " announcement day, so this is an error feed, an outage or a wrong URL",
            url=url,
        )
    log.info("API window %s – %s: %d answered, %d kept", start, end, answered, len(papers))
    # The feed's order: new papers first, then cross-lists (each in submission order).
    return tuple(sorted(papers.values(), key=lambda paper: paper.announce_type != "new"))


def lookup_ids(
    client: arxiv.Client, ids: Sequence[str], requested: Iterable[str] = ()
) -> dict[str, Paper]:
    """Look papers up by id (with or without version); returns {id without version: Paper}."""
    wanted = list(dict.fromkeys(split_arxiv_id(i)[0] for i in ids))
    found: dict[str, Paper] = {}
    for first in range(0, len(wanted), ID_BATCH):
        batch = wanted[first : first + ID_BATCH]
        url = client.query_url_format.format(urlencode({"id_list": ",".join(batch)}))
        search = arxiv.Search(id_list=batch, max_results=len(batch))
        for result in _results(client, search, url):
            paper = to_paper(result, requested)
            found[paper.arxiv_id] = paper
    if wanted and not found:
        raise EmptyResultError(
            f"{client.query_url_format.format('')}: the API found none of {len(wanted)} ids"
        )
    return found
