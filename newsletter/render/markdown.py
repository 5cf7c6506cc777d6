"""The Markdown digest: byte for byte the format of the reference digests; also the text/plain part."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from newsletter.models import Digest, Subscriber

from . import mdescape
from .limits import capped_views
from .text import span_long, span_us
from .view import markdown_env


def _cadence(subscriber: Subscriber) -> str:
    # The reference header says "Daily"; a weekly reader's digest says what it is.
    return "Weekly" if subscriber.frequency == "weekly" else "Daily"


def _criteria_block(criteria: str) -> str:
    # The reference digests end with the criteria text and one newline. The text may be a reader's
    # (settings page) or a sign-up form's, so it is made inert like paper text; ordinary criteria
    # need no escaping and stay byte for byte the same.
    return mdescape.free_text(criteria.rstrip()) + "\n"


def render_markdown(
    digest: Digest,
    *,
    unsubscribe_url: str | None = None,
    feed_url: str | None = None,
    vote_urls: Mapping[str, tuple[str, str]] | None = None,
    settings_url: str | None = None,
) -> str:
    """The whole digest as Markdown: every abstract whole and the full criteria; only titles,
    author lists and comments beyond all reason are capped (`limits.SENSIBLE`). With
    `unsubscribe_url` and `feed_url`, a line each before the criteria: how to leave (the text part
    must say it too) and the reader's private feed; with `settings_url`, a line with the reader's
    settings page (newsletter/web/preferences.py). With `vote_urls` (arXiv id →
    more, less links) each section gets a line of feedback links."""
    template = markdown_env().get_template("digest.md.j2")
    return template.render(
        date_us=span_us(digest.first, digest.date),
        cadence=_cadence(digest.subscriber),
        entries=capped_views(digest),
        criteria=_criteria_block(digest.subscriber.criteria),
        unsubscribe_url=unsubscribe_url,
        feed_url=feed_url,
        votes=dict(vote_urls or {}),
        settings_url=settings_url,
    )


def render_empty_markdown(
    subscriber: Subscriber,
    date: dt.date,
    *,
    unsubscribe_url: str,
    reply_to: str,
    feed_url: str | None = None,
    settings_url: str | None = None,
    first: dt.date | None = None,
) -> str:
    """The short "nothing matched today" note, in the same frame as a digest (`first`: the first
    day of a span of several, as in `Digest.first`)."""
    template = markdown_env().get_template("empty.md.j2")
    return template.render(
        date_us=span_us(first, date),
        cadence=_cadence(subscriber),
        span=None if first is None or first >= date else span_long(first, date),
        criteria=_criteria_block(subscriber.criteria),
        unsubscribe_url=unsubscribe_url,
        reply_to=reply_to,
        feed_url=feed_url,
        settings_url=settings_url,
    )
