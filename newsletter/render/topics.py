"""Topic sections of the HTML digest: the papers grouped under the criteria topic each fits.

Only the HTML part is grouped; the Markdown part keeps the reference order and format. Each paper
keeps its number from the digest's best-first order, so a reply "+3" means the same paper in both
parts. Sections come in the order of their best paper (the first in digest order), so the day's
best paper still opens the digest and no section of weak papers sits above a strong one, as topic
number order would put it; papers with no topic (or one the criteria no longer have) close the
digest under "Other". A criteria text of one topic, or a day with no paper of a known topic, is
not grouped: one heading over every paper says nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from newsletter.ranking.criteria import parse_criteria

from .text import one_line

T = TypeVar("T")
OTHER = "Other"


@dataclass(frozen=True, slots=True)
class TopicGroup(Generic[T]):
    """One section: its heading ("" when the digest is not grouped), anchor, and items in order."""

    heading: str
    anchor: str
    items: tuple[T, ...]

    @property
    def count(self) -> int:
        return len(self.items)


def group_by_topic(
    items: Sequence[T], topic_of: Callable[[T], int | None], criteria: str
) -> list[TopicGroup[T]]:
    """`items` (best first) in sections, each section's items in their original order."""
    titles = {topic.number: topic.title for topic in parse_criteria(criteria).topics}
    known = [topic if (topic := topic_of(item)) in titles else None for item in items]
    if len(titles) < 2 or all(topic is None for topic in known):
        return [TopicGroup("", "", tuple(items))] if items else []
    sections: dict[int, list[T]] = {}
    other: list[T] = []
    for item, topic in zip(items, known, strict=True):
        (other if topic is None else sections.setdefault(topic, [])).append(item)
    groups = [
        TopicGroup(_heading(number, titles[number]), f"topic{number}", tuple(members))
        for number, members in sections.items()  # dicts keep insertion order: best paper first
    ]
    if other:
        groups.append(TopicGroup(OTHER, "topic-other", tuple(other)))
    return groups


def _heading(number: int, title: str) -> str:
    # "Topic 3", not "3.": paper numbers are written "3." in the same list. The title is the
    # reader's text: unprintables (bidi overrides, zero-width) go, as from everything shown.
    title = one_line(title)
    return f"Topic {number}: {title}" if title else f"Topic {number}"
