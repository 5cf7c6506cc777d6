"""The stages of one daily cycle: fetch the day, score it per criteria, and one reader's digest.

Each returns what it did. `newsletter.daily.run` wires them for every due subscriber, and
`score_ahead` there runs the first two ahead of the sends for the service.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from newsletter.daily.selection import in_categories, near_misses, select
from newsletter.daily.send import ComposedDigest
from newsletter.daily.summary import Progress
from newsletter.daily.wiring import Adapters
from newsletter.db import Database, delivery_transitions
from newsletter.db import deliveries as delivery_store
from newsletter.db import feed as feed_store
from newsletter.db import subscribers as subscriber_store
from newsletter.db import votes as vote_store
from newsletter.db.papers import load_day, save_day, stored_dates
from newsletter.files import atomic_write_text, private_folder
from newsletter.mail.compose import compose, feed_url, reply_address, unsubscribe_url
from newsletter.mail.outbox import safe_filename
from newsletter.models import AnnouncementDay, Digest, DigestEntry, Paper, Subscriber
from newsletter.ranking.audit import is_audit_day
from newsletter.ranking.llm_stage import UsageMeter
from newsletter.ranking.scoring import CriteriaScores, score_criteria
from newsletter.readers.preference_links import preferences_url
from newsletter.readers.votes import vote_urls
from newsletter.render import render_digest, render_empty
from newsletter.render.limits import capped_views, clip
from newsletter.render.text import one_line
from newsletter.settings import Settings

log = logging.getLogger(__name__)

# Criteria ranked at once: the judge's shared semaphore bounds LLM calls; more workers only cost memory.
SCORE_WORKERS = 8


def fetch_stage(
    *,
    now: dt.datetime,
    settings: Settings,
    db: Database,
    adapters: Adapters,
    digest_date: dt.date,
    categories: Sequence[str],
) -> AnnouncementDay:
    """The day from the database if it was fetched already, else from arXiv (stored once).

    Only a date a feed showed (one stored, for any categories) is rebuilt from the API once the
    feed has moved on: the holiday table alone does not prove a day existed."""
    stored = load_day(db, digest_date, categories)
    if stored is not None:
        return stored
    shown = stored_dates(db, digest_date - dt.timedelta(days=14))
    day = adapters.source.fetch_day(categories=tuple(sorted(categories)), want=digest_date, now=now,
                                    shown=shown)
    save_day(db, day, source=settings.arxiv_feed_url, now=now)
    log.info("fetched %d papers announced on %s for %s", len(day.papers), day.date, "+".join(day.categories))
    return day


def criteria_categories(
    subscribers: Sequence[Subscriber], peers: Sequence[Subscriber] = ()
) -> dict[str, set[str]]:
    """Each criteria text of `subscribers` → the categories of all its readers, `peers` included.

    The local ranker's scores depend on the set of papers ranked together, so a criteria text is
    always ranked over the categories of every active reader who shares it, not only of those in
    this run: a preview, a `--only` run and the service's per-reader ticks then give a reader the
    same digest.
    """
    by_criteria: dict[str, set[str]] = defaultdict(set)
    for subscriber in subscribers:
        by_criteria[subscriber.criteria].update(subscriber.categories)
    for peer in peers:
        if peer.criteria in by_criteria:
            by_criteria[peer.criteria].update(peer.categories)
    return dict(by_criteria)


def uncovered(subscribers: Sequence[Subscriber], day: AnnouncementDay) -> dict[str, str]:
    """The readers whose categories `day` does not hold → why they are not served (only a folder
    feed without a file for a category gives such a day; arXiv's feed serves every category).

    Not served rather than served from the categories there are: a digest is once per reader and
    day, so a partial one would keep the missing category's papers of that day from them for good.
    Without a delivery row a later run serves them, once the folder holds the category."""
    held = set(day.categories)
    lacking = {}
    for subscriber in subscribers:
        if missing := sorted(set(subscriber.categories) - held):
            lacking[subscriber.email] = (
                f"not served: the feed read for {day.date} ({'+'.join(day.categories)}) holds no"
                f" {', '.join(missing)} (NEWSLETTER_ARXIV_FEED_URL has no file with it); add that feed"
                " file or change the reader's categories, then run again")
    return lacking


Votes = Mapping[str, Sequence[tuple[Paper, int]]]  # criteria text → its readers' votes


def criteria_votes(db: Database, subscribers: Sequence[Subscriber]) -> dict[str, list[tuple[Paper, int]]]:
    """The votes and seed papers of each criteria text's readers, pooled (a criteria text is
    nearly always one reader's own; readers sharing one also share what it learns)."""
    readers: dict[str, list[str]] = defaultdict(list)
    for subscriber in subscribers:
        readers[subscriber.criteria].append(subscriber.email)
    return {criteria: vote_store.taught(db, emails) for criteria, emails in readers.items()}


def score_stage(
    day: AnnouncementDay,
    subscribers: Sequence[Subscriber],
    adapters: Adapters,
    progress: Progress,
    *,
    peers: Sequence[Subscriber] = (),
    workers: int = 1,
    audit_every: int = 0,
    on_usage: UsageMeter | None = None,
    votes: Votes | None = None,
) -> dict[str, CriteriaScores]:
    """Score once per distinct criteria text, over the union of its readers' categories (`peers`:
    the other active readers, see `criteria_categories`), learning from its readers' `votes`.

    With an LLM judge, several criteria texts are scored at once (`workers`): the judge's own
    semaphore still bounds the calls in flight, and its latency then overlaps across criteria.
    About one day in `audit_every` is an audit day for a criteria text (`newsletter.ranking.audit`).
    `on_usage` hears of every LLM call's cost as it is made (from several threads).
    """
    by_criteria = criteria_categories(subscribers, peers)
    advance = progress("Scoring", len(by_criteria))

    audited = {c for c in by_criteria if adapters.judge and is_audit_day(day.date, c, audit_every)}

    def one(item: tuple[str, set[str]]) -> tuple[str, CriteriaScores]:
        criteria, categories = item
        papers = [p for p in day.papers if in_categories(p, categories)]
        result = score_criteria(
            criteria,
            papers,
            ranker=adapters.ranker,
            judge=adapters.judge,
            cache=adapters.cache,
            cut=adapters.cut,
            audit_on=day.date if criteria in audited else None,
            on_usage=on_usage,
            votes=(votes or {}).get(criteria, ()),
        )
        advance()
        return criteria, result

    results: dict[str, CriteriaScores] = {}
    # Audits last: their extra LLM spend must never take the daily budget from a normal scoring.
    for audit in (False, True):
        items = [item for item in by_criteria.items() if (item[0] in audited) is audit]
        if adapters.judge is None or workers <= 1 or len(items) <= 1:
            results.update(map(one, items))
            continue
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="score") as pool:
            results.update(pool.map(one, items))
    return {criteria: results[criteria] for criteria in by_criteria}


def _write_preview(
    folder: Path, digest_date: dt.date, address: str, markdown: str, html: str
) -> tuple[Path, ...]:
    base = folder / digest_date.isoformat()
    name = safe_filename(address)
    paths = (base / f"{name}.md", base / f"{name}.html")
    private_folder(folder)  # a preview holds the reader's unsubscribe link: owner-only, like the outbox
    atomic_write_text(paths[0], markdown, private=True)
    atomic_write_text(paths[1], html, private=True)
    return paths


@dataclass(frozen=True, slots=True)
class NothingToSend:
    """An empty day for this reader, recorded as `empty` (no mail: NEWSLETTER_SEND_EMPTY is off)."""

    email: str


@dataclass(frozen=True, slots=True)
class Preview:
    """A dry run's digest: the files written (none when there is nothing to show), and the
    closest papers when none was selected (None when some were)."""

    email: str
    paths: tuple[Path, ...]
    near_misses: tuple[DigestEntry, ...] | None


PreparedDigest = ComposedDigest | NothingToSend | Preview


def known_papers(db: Database, email: str, digest_date: dt.date) -> set[str]:
    """The papers no digest of `digest_date` brings the reader as new: those other days' digests
    carried, and their seed papers. A day's own papers stay (a preview of a day already sent, or a
    digest the admin released with --resend-unknown, shows them again)."""
    return (delivery_store.delivered_paper_ids(db, email, other_than=digest_date)
            | vote_store.seed_ids(db, email))


def digest_stage(
    subscriber: Subscriber,
    day: AnnouncementDay,
    scored: CriteriaScores,
    *,
    now: dt.datetime,
    settings: Settings,
    db: Database,
    dry_run: bool,
    first: dt.date | None = None,
) -> PreparedDigest:
    """One reader's digest: select, render, compose. A dry run writes a preview instead; an empty
    day with nothing to send is recorded as `empty` (unless a dry run). `first`: the first date of
    a digest of several days (`day` then holds all their papers, see `newsletter.daily.span`)."""
    already = known_papers(db, subscriber.email, day.date)
    entries = select(
        subscriber,
        day.papers,
        scored.scores,
        min_relevance=settings.min_relevance,
        min_novelty=settings.min_novelty,
        max_papers=settings.max_papers,
        already_sent=already,
    )
    token = subscriber_store.token_for(db, subscriber.email, now)
    leave_url, reply_to, feed = (unsubscribe_url(token, settings), reply_address(token, settings),
                                 feed_url(token, settings))
    own = preferences_url(settings.public_url, token, now) if settings.self_service else None
    digest = Digest(subscriber, day.date, entries, first=first)
    if entries:
        links = vote_urls(settings.public_url, token, tuple(e.paper.arxiv_id for e in entries))
        rendered = render_digest(digest, unsubscribe_url=leave_url, reply_to=reply_to, feed_url=feed,
                                 vote_urls=links, settings_url=own)
    elif settings.send_empty:
        rendered = render_empty(subscriber, day.date, unsubscribe_url=leave_url, reply_to=reply_to,
                                feed_url=feed, first=first, settings_url=own)
    else:
        rendered = None
    if dry_run:
        misses = None if entries else near_misses(subscriber, day.papers, scored.scores, already_sent=already)
        paths = () if rendered is None else _write_preview(
            settings.preview_dir, day.date, subscriber.email, rendered.markdown, rendered.html
        )
        return Preview(subscriber.email, paths, misses)
    if rendered is None:
        delivery_transitions.begin(
            db, subscriber.email, day.date, paper_ids=(), message_id="", now=now, status="empty"
        )
        return NothingToSend(subscriber.email)
    email = compose(
        rendered, to=subscriber.email, token=token, settings=settings, now=now,
        digest_id=delivery_store.digest_id_for(subscriber.email, day.date), to_name=subscriber.name,
    )
    # The feed lists these once the delivery is `sent` (db/feed.py joins them to it).
    feed_store.record(db, subscriber.email, day.date, feed_entries(digest))
    paper_ids = tuple(e.paper.arxiv_id for e in entries)
    return ComposedDigest(email=email, digest_date=day.date, paper_ids=paper_ids)


_AUTHOR_BYTES = 200  # one name; real ones are far shorter


def feed_entries(digest: Digest) -> tuple[feed_store.FeedEntry, ...]:
    """The digest's papers as the digest shows them (capped text), for the reader's feed."""
    return tuple(
        feed_store.FeedEntry(
            arxiv_id=view.arxiv_id, category=view.category, title=view.title,
            authors=tuple(clip(one_line(name), _AUTHOR_BYTES) for name in entry.paper.authors),
            relevance=view.relevance, novelty=view.novelty, comment=view.comment, source=view.source,
        )
        for view, entry in zip(capped_views(digest), digest.entries, strict=True)
    )
