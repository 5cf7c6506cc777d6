"""The criteria "Preview" of the preferences page: what a digest would have held under a new text.

The web layer may not import the daily cycle, so `create_app` takes a `Previewer` built by the
service (newsletter/daily/preview.py). A preview never spends LLM money (a web page anyone with
the link can press is an abuse vector): the local ranker scores the day, learning from that text's
cached LLM judgements if it has any, and cached LLM scores of the text win where they exist. The
page says so, and says how many of the papers had an LLM score.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from dataclasses import dataclass
from typing import Protocol

from newsletter.models import DigestEntry, Subscriber


@dataclass(frozen=True, slots=True)
class PreviewResult:
    """`date` None: no announcement day of the reader's categories within the look-back (30 days,
    newsletter/daily/preview.py) is stored."""

    date: dt.date | None
    entries: tuple[DigestEntry, ...]
    considered: int  # the day's papers in the reader's categories


class Previewer(Protocol):
    def __call__(self, subscriber: Subscriber) -> PreviewResult:
        """The digest `subscriber` (with the criteria text to try) would have got for the latest
        stored announcement day; sent to no one, stored nowhere."""
        ...


def preview_html(result: PreviewResult) -> str:
    """The preview as a section of the page (every paper-supplied text escaped)."""
    if result.date is None:
        return ('<section class="preview" aria-label="Preview"><h2>Preview</h2>'
                # not "none is stored yet": older days, or days of other categories, may well be
                "<p>No announcement day of your categories from the last 30 days is stored, so there"
                " is nothing to preview.</p></section>")
    llm = sum(1 for e in result.entries if e.score.source == "llm")
    how = (f"{llm} of them with a stored LLM score for this text, the rest" if llm else "all")
    head = (f'<section class="preview" aria-label="Preview"><h2>Preview: {result.date:%A %d %B %Y}</h2>'
            f"<p>{len(result.entries)} of the day's {result.considered} papers in your categories would"
            f" have been in your digest; {how} ranked by the local ranker (no LLM is asked for a"
            " preview). Sent to no one: save the text to use it from your next digest.</p>")
    items = []
    for entry in result.entries:
        paper, score = entry.paper, entry.score
        title = html.escape(" ".join(paper.title.split()))
        authors = html.escape(", ".join(paper.authors[:6]) + (" et al." if len(paper.authors) > 6 else ""))
        label = {"llm": "LLM (cached)", "local": "local ranker", "author": "followed author"}[score.source]
        # the local ranker estimates relevance from word matches and judges no novelty: say so
        judged = (f"estimated relevance {score.relevance}" if score.source == "local"
                  else f"relevance {score.relevance}, novelty {score.novelty}")
        items.append(
            f'<li><a href="{html.escape(paper.abs_url)}">{title}</a><br><span class="muted">{authors}'
            f" · {judged} · {label}</span>"
            + (f'<br><span class="muted">{html.escape(score.comment)}</span>' if score.comment else "")
            + "</li>")
    body = f"<ol>{''.join(items)}</ol>" if items else "<p>No paper of that day would have been sent.</p>"
    return head + body + "</section>"


def too_many_previews(wait: dt.timedelta) -> tuple[str, int]:
    """The notice for a reader past the preview limit (newsletter/readers/preview_limit.py), and
    the seconds for `Retry-After`."""
    seconds = max(1, math.ceil(wait.total_seconds()))
    when = f"{seconds} seconds" if seconds < 120 else f"{math.ceil(seconds / 60)} minutes"
    return (f"You have asked for many previews in a short time: press Preview again in {when}."
            " Your text is below, not saved."), seconds
