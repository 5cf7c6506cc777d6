"""Select: from a day's scored papers, the ones one reader gets, best first."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace

from newsletter.models import DigestEntry, Paper, Score, Subscriber

AUTHOR_MATCH = "Author match"


def _name_parts(name: str) -> list[str]:
    plain = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in plain if not unicodedata.combining(c)).lower()
    return [part for part in re.split(r"[\s.\-,']+", plain) if part]


def same_author(followed: str, author: str) -> bool:
    """'A. Müller' matches 'Anna Muller' and 'anna müller'; 'Anna Muller' does not match 'Bea Muller'."""
    a, b = _name_parts(followed), _name_parts(author)
    if not a or not b or a[-1] != b[-1]:
        return False
    first_a, first_b = a[:-1], b[:-1]
    if not first_a or not first_b:
        return True  # a bare surname matches any first name
    if first_a[0][0] != first_b[0][0]:
        return False
    if len(first_a[0]) > 1 and len(first_b[0]) > 1:
        return first_a[0] == first_b[0]
    return True


def in_categories(paper: Paper, categories: Collection[str]) -> bool:
    return any(c in categories for c in paper.categories)


def select(
    subscriber: Subscriber,
    papers: Sequence[Paper],
    scores: Mapping[str, Score],
    *,
    min_relevance: int,
    min_novelty: int,
    max_papers: int,
    already_sent: Collection[str] = (),
) -> tuple[DigestEntry, ...]:
    """Papers of the reader's categories they have not had, followed authors first, then by score.

    Per-reader overrides in the roster win over the defaults passed in. `max_per_topic` (the
    reader's own setting) caps the papers of each criteria topic; papers with no topic are not
    capped. Followed authors' papers are always sent, and count towards both caps.
    """
    min_rel = subscriber.min_relevance or min_relevance
    min_nov = subscriber.min_novelty or min_novelty
    cap = subscriber.max_papers or max_papers
    followed: list[DigestEntry] = []
    ranked: list[DigestEntry] = []
    seen: set[str] = set(already_sent)
    for paper in papers:
        if paper.arxiv_id in seen or not in_categories(paper, subscriber.categories):
            continue
        score = scores.get(paper.arxiv_id)
        if subscriber.authors and any(same_author(f, a) for f in subscriber.authors for a in paper.authors):
            base = score or Score(paper.arxiv_id, 10, 5, "", "local")
            followed.append(DigestEntry(paper, replace(base, comment=AUTHOR_MATCH, source="author")))
        elif score is not None and score.relevance >= min_rel and score.novelty >= min_nov:
            ranked.append(DigestEntry(paper, score))
        else:
            continue
        seen.add(paper.arxiv_id)
    # Among equal scores the local ranker's order (`scores` comes in it) decides: the reader's
    # votes reorder papers the LLM scored alike, and order the whole digest without an LLM.
    place = {arxiv_id: i for i, arxiv_id in enumerate(scores)}
    ranked.sort(key=lambda e: (-e.score.relevance, -e.score.novelty, place[e.paper.arxiv_id]))
    ranked = per_topic(ranked, subscriber.max_per_topic, followed)
    return (*followed, *ranked[: max(0, cap - len(followed))])


def per_topic(
    ranked: Sequence[DigestEntry], limit: int | None, taken: Sequence[DigestEntry] = ()
) -> list[DigestEntry]:
    """`ranked` (best first) without the papers beyond `limit` of their topic, order kept.
    `taken`: papers already in the digest whatever the cap; they use up their topic's room."""
    if limit is None:
        return list(ranked)
    counts = Counter(e.score.topic for e in taken if e.score.topic is not None)
    kept = []
    for entry in ranked:
        topic = entry.score.topic
        if topic is not None:
            if counts[topic] >= limit:
                continue
            counts[topic] += 1
        kept.append(entry)
    return kept


def near_misses(
    subscriber: Subscriber,
    papers: Sequence[Paper],
    scores: Mapping[str, Score],
    count: int = 3,
    *,
    already_sent: Collection[str] = (),
) -> tuple[DigestEntry, ...]:
    """The reader's best-scored papers of the day, whatever the threshold: what a preview shows
    when nothing was selected, so the admin can tell a quiet day from criteria or a threshold
    that nothing can meet. Papers the reader already had are not near misses: no digest would
    carry them."""
    ranked = [
        DigestEntry(paper, scores[paper.arxiv_id])
        for paper in papers
        if paper.arxiv_id in scores
        and paper.arxiv_id not in already_sent
        and in_categories(paper, subscriber.categories)
    ]
    ranked.sort(key=lambda e: (-e.score.relevance, -e.score.novelty))
    return tuple(ranked[:count])
