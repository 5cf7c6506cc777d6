"""Is a day's LLM judging plausible? A judge that rates most papers 10, or every paper alike, is
not ranking: a small model asked for JSON often fills in the top of the scale. The digest still
keeps the reader's max; this only says so, with the figures, so the admin can change the model.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from newsletter.models import Score

MIN_JUDGED = 8  # fewer judged papers say too little about the judge
TOP_SHARE = 0.5  # more than this share at the top of the scale: not a ranking
TOP = 9  # the top of the scale: a small model that "likes" a day gives 9s as readily as 10s


def distribution(scores: Iterable[Score]) -> dict[int, int]:
    """How many papers got each relevance, highest first."""
    counts = Counter(s.relevance for s in scores)
    return dict(sorted(counts.items(), reverse=True))


def describe(counts: dict[int, int]) -> str:
    return ", ".join(f"{relevance}: {n}" for relevance, n in counts.items())


def degenerate(scores: Iterable[Score], *, top: int = TOP) -> str | None:
    """Why the LLM's relevance scores of one day look degenerate, or None when they look sane."""
    judged = [s for s in scores if s.source == "llm"]
    if len(judged) < MIN_JUDGED:
        return None
    counts = distribution(judged)
    at_top = sum(n for relevance, n in counts.items() if relevance >= top)
    if len(counts) == 1:
        why = f"all {len(judged)} judged papers got relevance {next(iter(counts))}"
    elif at_top > TOP_SHARE * len(judged):
        why = f"{at_top} of {len(judged)} judged papers got relevance {top} or more"
    else:
        return None
    return f"{why} (relevance: count = {describe(counts)})"
