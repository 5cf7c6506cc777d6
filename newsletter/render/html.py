"""The HTML digest: Jinja2 (autoescaped) → MJML → email HTML via mjml-python, under a size budget."""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable, Mapping, Sequence

from markupsafe import Markup
from mjml import mjml2html

from newsletter.models import Digest, Subscriber

from .limits import COMPACT, COMPACT_ABSTRACT, SENSIBLE, capped, capped_views, clip, html_size
from .text import criteria_lines, plural, shorten, span_long
from .topics import TopicGroup, group_by_topic
from .view import EntryView, html_env

log = logging.getLogger(__name__)

# Gmail clips a message body above ~102 KB and hides the rest behind a link; stay well below.
HTML_BUDGET = 90_000
_MIN_ABSTRACT = 200  # never shorten an abstract in HTML below this many characters

PILL_STYLE = "padding:2px 8px;border-radius:10px;font-size:12px;font-weight:600;white-space:nowrap"
_PILL_COLOURS = {  # class → light-mode background, text; dark mode lives in the template's CSS
    "dg-hi": ("#e3f4e8", "#146c2e"),
    "dg-mid": ("#fdf2d6", "#7a5300"),
    "dg-lo": ("#eef0f3", "#4d5560"),
}


@functools.cache  # 30 papers × 2 scores per render, from a handful of distinct values
def pill(label: str, value: int) -> Markup:
    """A score at a glance: "Relevance 8/10", coloured by how high it is."""
    level = "dg-hi" if value >= 8 else "dg-mid" if value >= 5 else "dg-lo"
    background, colour = _PILL_COLOURS[level]
    return Markup(
        '<span class="{cls}" style="{style};background:{bg};color:{fg}">{label}&nbsp;{value}/10</span>'
    ).format(cls=level, style=PILL_STYLE, bg=background, fg=colour, label=label, value=value)


def _to_html(mjml: str) -> str:
    # fonts={}: MRML otherwise adds a Google Fonts <link> when a stack names one of its defaults.
    return str(mjml2html(mjml, disable_comments=True, fonts={}))


def _render(template: str, **context: object) -> str:
    mjml = html_env().get_template(template).render(
        pill=pill, pill_style=PILL_STYLE, plural=plural, **context
    )
    return _to_html(mjml)


Row = tuple[EntryView, str, bool]  # a paper, its abstract as shown, whether that was cut


def _papers(
    views: Sequence[EntryView], cut: Callable[[str], str] | None, criteria: str
) -> list[TopicGroup[Row]]:
    """The papers' rows in their topic sections (`topics`: one untitled section if not grouped)."""
    rows = []
    for view in views:
        text = view.abstract if cut is None else cut(view.abstract)
        rows.append((view, text, text != view.abstract))
    return group_by_topic(rows, lambda row: row[0].topic, criteria)


def _frame(
    subscriber: Subscriber, date: dt.date, unsubscribe_url: str, reply_to: str, feed_url: str | None,
    first: dt.date | None = None,
    settings_url: str | None = None,
) -> dict[str, object]:
    return {
        "feed_url": feed_url,
        "settings_url": settings_url,
        "date_long": span_long(first, date),
        "email": subscriber.email,
        "criteria_lines": criteria_lines(subscriber.criteria),
        "unsubscribe_url": unsubscribe_url,
        "reply_to": reply_to,
    }


def render_html(
    digest: Digest,
    *,
    subject: str,
    unsubscribe_url: str,
    reply_to: str,
    feed_url: str | None = None,
    vote_urls: Mapping[str, tuple[str, str]] | None = None,
    budget: int = HTML_BUDGET,
    settings_url: str | None = None,
) -> str:
    """The digest as email HTML, at most `budget` bytes whatever the papers say.

    Titles, author lists and comments are capped (`limits.SENSIBLE`, which real papers do not
    reach). Abstracts are shortened (with a "read more" link) only when the full ones would not
    fit, and then all to the same cap: the longest ones lose most, short ones stay whole. Only if
    that is not enough is every paper compacted (`limits.COMPACT`).
    """
    views = capped_views(digest, SENSIBLE)
    context = _frame(digest.subscriber, digest.date, unsubscribe_url, reply_to, feed_url, digest.first,
                     settings_url)
    when = "today" if digest.first is None or digest.first >= digest.date else "since your last digest"
    context.update(
        subject=subject,
        preview=_preview(views),
        lede=f"{plural(len(views), 'paper')} matched your criteria {when}, best first.",
        votes=dict(vote_urls or {}),
    )
    criteria = digest.subscriber.criteria
    html = _render("digest.mjml.j2", groups=_papers(views, None, criteria), **context)
    excess = len(html.encode("utf-8")) - budget
    if excess <= 0 or not views:
        return html
    limit = _abstract_limit(views, excess)
    groups = _papers(views, lambda text: shorten(text, limit), criteria)
    html = _render("digest.mjml.j2", groups=groups, **context)
    if len(html.encode("utf-8")) <= budget:
        log.info("digest HTML: abstracts cut to %d characters to stay under %d bytes", limit, budget)
        return html
    return _compacted(digest, views, budget, context)


def _compacted(digest: Digest, views: Sequence[EntryView], budget: int, context: dict[str, object]) -> str:
    """Absurdly long titles, author lists or comments (a hostile feed, say): COMPACT caps let even
    30 papers of the worst text fit; beyond that (a huge criteria text) the size is logged."""
    views = tuple(
        capped(view, entry.paper.authors, COMPACT) for view, entry in zip(views, digest.entries, strict=True)
    )
    groups = _papers(views, lambda text: clip(text, COMPACT_ABSTRACT), digest.subscriber.criteria)
    html = _render("digest.mjml.j2", groups=groups, **context)
    size = len(html.encode("utf-8"))
    if size > budget:
        log.warning("digest HTML is %d bytes, over the %d-byte budget even compacted", size, budget)
    else:
        log.warning("digest HTML: overlong titles, authors or comments compacted to fit %d bytes", budget)
    return html


def _abstract_limit(views: Sequence[EntryView], excess: int) -> int:
    """The largest abstract length cap that saves at least `excess` bytes of HTML.

    MJML copies the inside of an mj-text through unchanged, so the bytes an escaped abstract loses
    (less the "read more" link it gains) are exactly the bytes the HTML loses: one more MJML pass
    suffices. Binary search over the cap; the saving only grows as the cap falls.
    """
    full = [(view, html_size(view.abstract), len(_read_more(view))) for view in views]

    def saved(limit: int) -> int:
        total = 0
        for view, length, link in full:
            if len(view.abstract) > limit:
                total += length - html_size(shorten(view.abstract, limit)) - link
        return total

    low, high = _MIN_ABSTRACT, max(len(v.abstract) for v in views)
    if saved(low) < excess:
        return low
    while low < high:  # invariant: saved(low) >= excess
        mid = (low + high + 1) // 2
        if saved(mid) >= excess:
            low = mid
        else:
            high = mid - 1
    return low


def _read_more(view: EntryView) -> str:
    # Must match the "read more" markup in digest.mjml.j2 (a test checks the budget holds).
    return f' <a href="{view.abs_url}" style="color:#0b57d0">read&nbsp;more</a>'


def render_empty_html(
    subscriber: Subscriber,
    date: dt.date,
    *,
    subject: str,
    unsubscribe_url: str,
    reply_to: str,
    feed_url: str | None = None,
    first: dt.date | None = None,
    settings_url: str | None = None,
) -> str:
    context = _frame(subscriber, date, unsubscribe_url, reply_to, feed_url, first, settings_url)
    what = ("today's arXiv announcement" if first is None or first >= date
            else f"the arXiv announcements of {span_long(first, date)}")
    lede = f"Nothing in {what} matched your criteria closely enough to send."
    return _render("empty.mjml.j2", subject=subject, preview=lede, lede=lede, **context)


def _preview(views: Sequence[EntryView]) -> str:
    """The inbox preview line: the titles after the first (the subject already shows that one)."""
    titles = "; ".join(v.title for v in views[1:4])
    if not titles and views:
        titles = views[0].comment or views[0].authors
    return shorten(titles, 140) if titles else ""
