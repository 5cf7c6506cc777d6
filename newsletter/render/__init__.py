"""Rendering a digest: reference-exact Markdown (also the text/plain part), email HTML, subject.

from newsletter.render import render_digest, render_empty
rendered = render_digest(digest, unsubscribe_url=..., reply_to=..., feed_url=..., vote_urls=...)
rendered = render_empty(subscriber, date, unsubscribe_url=..., reply_to=..., feed_url=...)

`settings_url` (the reader's settings page, newsletter/web/preferences.py) adds a footer line.

`feed_url` (the reader's private Atom feed, newsletter/web/feed.py) and `vote_urls` (the "more
like this" / "less like this" links, newsletter/web/vote.py) are optional: without them the
Markdown is byte for byte the reference format.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from newsletter.models import Digest, RenderedDigest, Subscriber

from .html import HTML_BUDGET, render_empty_html, render_html
from .markdown import render_empty_markdown, render_markdown
from .subject import digest_subject, empty_subject
from .text import check_address, check_url

__all__ = [
    "HTML_BUDGET",
    "digest_subject",
    "empty_subject",
    "render_digest",
    "render_empty",
    "render_html",
    "render_markdown",
]


def render_digest(
    digest: Digest,
    *,
    unsubscribe_url: str,
    reply_to: str,
    feed_url: str | None = None,
    vote_urls: Mapping[str, tuple[str, str]] | None = None,
    html_budget: int = HTML_BUDGET,
    settings_url: str | None = None,
) -> RenderedDigest:
    """Subject, Markdown and HTML of one subscriber's digest. Raises ValueError on bad input.

    `vote_urls` maps each paper's arXiv id to its "more like this" and "less like this" links
    (both parts then show them). `settings_url`: the reader's settings page, a footer line in both."""
    _check_links(unsubscribe_url, reply_to, feed_url, settings_url)
    votes = _checked_votes(digest, vote_urls)
    subject = digest_subject(digest)
    return RenderedDigest(
        subject=subject,
        markdown=render_markdown(digest, unsubscribe_url=unsubscribe_url, feed_url=feed_url, vote_urls=votes,
                                 settings_url=settings_url),
        html=render_html(
            digest,
            subject=subject,
            unsubscribe_url=unsubscribe_url,
            reply_to=reply_to,
            feed_url=feed_url,
            vote_urls=votes,
            budget=html_budget,
            settings_url=settings_url,
        ),
    )


def render_empty(
    subscriber: Subscriber,
    date: dt.date,
    *,
    unsubscribe_url: str,
    reply_to: str,
    feed_url: str | None = None,
    settings_url: str | None = None,
    first: dt.date | None = None,
) -> RenderedDigest:
    """The short "nothing matched today" note (sent only when NEWSLETTER_SEND_EMPTY is on);
    `first`: the first day of a span of several, as in `Digest.first`."""
    _check_links(unsubscribe_url, reply_to, feed_url, settings_url)
    subject = empty_subject(date, first)
    return RenderedDigest(
        subject=subject,
        markdown=render_empty_markdown(
            subscriber, date, unsubscribe_url=unsubscribe_url, reply_to=reply_to, feed_url=feed_url,
            first=first, settings_url=settings_url,
        ),
        html=render_empty_html(
            subscriber, date, subject=subject, unsubscribe_url=unsubscribe_url, reply_to=reply_to,
            feed_url=feed_url, first=first, settings_url=settings_url,
        ),
    )


def _check_links(unsubscribe_url: str, reply_to: str, feed_url: str | None, settings_url: str | None) -> None:
    check_url(unsubscribe_url, "unsubscribe_url")
    check_address(reply_to, "reply_to")
    if feed_url is not None:
        check_url(feed_url, "feed_url")
    if settings_url is not None:
        check_url(settings_url, "settings_url")


def _checked_votes(
    digest: Digest, vote_urls: Mapping[str, tuple[str, str]] | None
) -> dict[str, tuple[str, str]]:
    if vote_urls is None:
        return {}
    checked = {}
    for entry in digest.entries:
        arxiv_id = entry.paper.arxiv_id
        if arxiv_id not in vote_urls:
            raise ValueError(f"vote_urls: no links for paper {arxiv_id!r}")
        up, down = vote_urls[arxiv_id]
        checked[arxiv_id] = (check_url(up, f"vote_urls[{arxiv_id!r}] up"),
                             check_url(down, f"vote_urls[{arxiv_id!r}] down"))
    return checked
