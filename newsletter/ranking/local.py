"""The local ranker: orders a day's papers for one criteria text with no network and no key.

How it scores (each step chosen by measuring on the reference days, see bench/ranking.py):
1. The criteria text is split into topics; each topic's "Relevant" part is a BM25 query (bm25s)
   against the day's titles and abstracts. A paper's match with a topic is its BM25 score divided
   by the topic's score against its own text, so it reads as "share of a perfect match" and is
   comparable across days and readers: a narrow reader's topics match few papers well, a broad
   reader's match many. The best topic names the paper's comment and, when the paper matches it
   at all, is its `Score.topic` (the HTML digest's section, the reader's max per topic).
2. With history (earlier LLM judgements of the same criteria text), a ridge regression on TF-IDF
   words and the topic matches learns the LLM's taste, and is blended with the criteria match.
3. Relevance 1–10 comes from the topic match (no history) or from where the blended score sits
   among the LLM's past relevance scores (history). Relevance 1 means "no sign of a match": the
   adaptive cut in front of the LLM (`llm_candidates`) sends everything above it. Where relevance
   1 starts adapts to the reader: with enough history, at the held-out score that all but 10% of
   past relevant papers reached, less one standard error (ranking/learn.py); without, a
   topic-match floor that is higher for a narrow reader (few papers of the day match any topic
   well) than for a broad one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from newsletter.models import Paper, Score
from newsletter.ranking.criteria import Criteria, parse_criteria
from newsletter.ranking.learn import LearnedTaste, fit_taste
from newsletter.ranking.match import topic_matches
from newsletter.ranking.votes import FULL_WEIGHT_VOTES, Vote, VoteTaste, fit_votes

log = logging.getLogger(__name__)

NEUTRAL_NOVELTY = 5
_MIN_LIKES = 5  # likes before they may lower the criteria-match scale (`_likes_shift`)
_LIKES_QUANTILE = 0.25


@dataclass(frozen=True, slots=True)
class LocalRanker:
    """Implements the `Ranker` protocol. `rank` returns scores sorted best first.

    `match_floor`/`match_full`: topic match (share of a perfect BM25 match) that maps to
    relevance 1 and 10 without history. `send_floor`: without a history-based cut, a paper whose
    match is below it gets relevance 1 and is not sent to the LLM; `narrow_send_floor` replaces
    it for a narrow reader (at most `narrow_share` of the day reaches a `good_match`).
    `history_weight`: weight of the learned taste against the criteria match, once there are
    at least `min_history` judged papers with at least `min_history_positives` of relevance ≥ 5
    (the newest `max_history` are used). `send_margin`: widens the history-based cut.
    `vote_weight`: weight of the reader's votes (ranking/votes.py) against all of that, reached
    at `FULL_WEIGHT_VOTES` votes. Votes reorder the papers but keep how many reach each relevance
    level, so they move papers across the cut and the digest's threshold without widening either;
    the one exception is a reader's likes without an LLM history (`_likes_shift`), which may lower
    the criteria-match scale to where the liked papers match.
    """

    match_floor: float = 0.05
    match_full: float = 0.45
    send_floor: float = 0.06
    narrow_send_floor: float = 0.10
    good_match: float = 0.20
    narrow_share: float = 0.05
    history_weight: float = 0.6  # 0.3 on 3 reference days; 0.6 with 30 days' history (bench/learning.py)
    send_margin: float = 0.0
    min_history: int = 40
    min_history_positives: int = 3
    max_history: int = 2000
    vote_weight: float = 0.7

    def rank(
        self,
        criteria: str,
        papers: Sequence[Paper],
        history: Sequence[tuple[Paper, int]] = (),
        votes: Sequence[Vote] = (),
    ) -> list[Score]:
        if not papers:
            return []
        parsed = parse_criteria(criteria)
        votes = list({paper.arxiv_id: (paper, vote) for paper, vote in votes}.values())  # readers may share
        usable = self._usable_history(history)
        judged = [paper for paper, _ in usable]
        queries = [t.query for t in parsed.topics]
        matches = topic_matches(queries, [*papers, *judged])
        today = matches[:, : len(papers)]
        judged_matches = matches[:, len(papers) : len(papers) + len(judged)]
        best_topic = today.argmax(axis=0)
        match = today.max(axis=0)
        taste = self._learn(usable, judged_matches, papers, today)
        if taste is not None:
            order_score, relevance = self._with_history(match, judged_matches.max(axis=0), taste)
        else:
            order_score = match
            relevance = self._from_match(match)
        # The voted papers are matched on their own: in today's index they would shift its word
        # statistics, and so the relevance levels a day gets without votes.
        vote_matches = topic_matches(queries, [p for p, _ in votes])
        liked = None if not votes else fit_votes(votes, papers, vote_matches, today)
        if taste is None and (shift := self._likes_shift(votes, vote_matches)) > 0:
            relevance = self._from_match(match + shift)
        notes: list[str | None] = [None] * len(papers)
        if liked is not None:
            before = _places(relevance, order_score)
            order_score, relevance = _with_votes(order_score, relevance, liked, self.vote_weight)
            notes = liked.liked_notes(_places(relevance, order_score) < before)
        scores = [
            Score(
                arxiv_id=paper.arxiv_id,
                relevance=int(relevance[i]),
                novelty=NEUTRAL_NOVELTY,
                comment=_comment(parsed, int(best_topic[i]), float(match[i]), notes[i]),
                source="local",
                topic=self._topic(parsed, int(best_topic[i]), float(match[i])),
            )
            for i, paper in enumerate(papers)
        ]
        return [scores[i] for i in np.argsort(_places(relevance, order_score), kind="stable")]

    def _topic(self, criteria: Criteria, topic_index: int, match: float) -> int | None:
        """The best topic's number, when the paper matches it at all (`match_floor`, where the
        relevance scale starts): a paper that matches nothing belongs to no topic's section."""
        return criteria.topics[topic_index].number if match >= self.match_floor else None

    def _usable_history(self, history: Sequence[tuple[Paper, int]]) -> list[tuple[Paper, int]]:
        # The cache returns newest first; the learner's folds then go by id, not by the order the
        # answers happened to be stored in (within a second, that is which batch landed first).
        recent = sorted(history[: self.max_history], key=lambda judged: judged[0].arxiv_id)
        positives = sum(1 for _, label in recent if label >= 5)
        if len(recent) < self.min_history or positives < self.min_history_positives:
            if recent:
                log.info(
                    "history too small to learn from (%d judged, %d of relevance ≥ 5)",
                    len(recent),
                    positives,
                )
            return []
        return recent

    def _learn(
        self,
        usable: list[tuple[Paper, int]],
        judged_matches: np.ndarray,
        papers: Sequence[Paper],
        today: np.ndarray,
    ) -> LearnedTaste | None:
        if not usable:
            return None
        labels = np.array([label for _, label in usable], dtype=float)
        try:
            return fit_taste([p for p, _ in usable], labels, judged_matches, list(papers), today)
        except ValueError as exc:  # e.g. texts with no word in common: rank on criteria alone
            log.warning("could not learn from %d judged papers: %s", len(usable), exc)
            return None

    def _from_match(self, match: np.ndarray) -> np.ndarray:
        span = self.match_full - self.match_floor
        strength = np.clip((match - self.match_floor) / span, 0.0, 1.0)
        relevance = np.clip(np.rint(1 + 9 * strength), 2, 10).astype(int)
        relevance[match < self._send_floor(match)] = 1
        return relevance

    def _likes_shift(self, votes: Sequence[Vote], vote_matches: np.ndarray) -> float:
        """How far the reader's likes lower the criteria-match scale, when there is no history.

        Estimated relevance 5 (the default `min_relevance`) starts at a fixed topic match; a broad
        reader's liked papers often match their criteria's words more loosely than that. Once
        there are `FULL_WEIGHT_VOTES` votes with `_MIN_LIKES` likes, level 5 starts no higher than
        the match that all but `_LIKES_QUANTILE` of the liked papers reach, so the digest holds
        more of the papers like them; a reader who likes nothing, or whose likes match well, keeps
        the scale. bench/learning.py, no LLM, last 10 days with feedback: the spatial reader's
        recall 0.37 → 0.47 at the same share ≥ cutoff (0.36), vision-language 0.46 → 0.48 (share
        0.46 → 0.45), the narrow reader unchanged (quantile 0.10 and 0.50 did no better).
        """
        if len(votes) < FULL_WEIGHT_VOTES:
            return 0.0
        likes = vote_matches.max(axis=0)[np.array([vote > 0 for _, vote in votes])]
        if len(likes) < _MIN_LIKES:
            return 0.0
        level_five = self.match_floor + 4 / 9 * (self.match_full - self.match_floor)
        return max(0.0, level_five - float(np.quantile(likes, _LIKES_QUANTILE)))

    def _send_floor(self, match: np.ndarray) -> float:
        """A narrow reader (few papers of the day match any topic well) can afford a higher bar."""
        narrow = float(np.mean(match >= self.good_match)) <= self.narrow_share
        return self.narrow_send_floor if narrow else self.send_floor

    def _blend(self, match: np.ndarray, learned: np.ndarray) -> np.ndarray:
        weight = self.history_weight
        return (1 - weight) * _standard(match) + weight * _standard(learned)

    def _with_history(
        self, match: np.ndarray, judged_match: np.ndarray, taste: LearnedTaste
    ) -> tuple[np.ndarray, np.ndarray]:
        blended = self._blend(match, taste.today)
        relevance = taste.relevance_by_quantile(blended)
        # The cut in front of the LLM: the same blend over the judged papers, with held-out
        # predictions, shows how low a relevant paper can score; below that, relevance 1.
        threshold = taste.send_threshold(self._blend(judged_match, taste.held_out))
        if threshold is None:  # too few relevant papers yet: the criteria match decides
            doubtful = match < self._send_floor(match)
        else:
            doubtful = blended < threshold - self.send_margin
        relevance = np.where(doubtful, 1, np.maximum(relevance, 2))
        return blended, relevance


def llm_candidates(scores: Sequence[Score], *, min_count: int = 10, min_share: float = 0.05) -> list[str]:
    """Ids to send to the LLM judge: every paper the local ranker gave relevance ≥ 2.

    How many that is adapts to the criteria through the ranker's scores (a narrow reader's day
    has few papers with any match, a broad reader's many). The best `min_count` papers (or
    `min_share` of the day, if more) always go, so a day with no clear match still gets judged.
    Order: best local score first.
    """
    ranked = sorted(range(len(scores)), key=lambda i: (-scores[i].relevance, i))
    floor = max(min_count, int(np.ceil(min_share * len(scores))))
    return [
        scores[i].arxiv_id
        for position, i in enumerate(ranked)
        if position < floor or scores[i].relevance >= 2
    ]


def _standard(values: np.ndarray) -> np.ndarray:
    spread = float(values.std())
    centred: np.ndarray = (values - values.mean()) / (spread if spread > 0 else 1.0)
    return centred


def _places(relevance: np.ndarray, order_score: np.ndarray) -> np.ndarray:
    """Each paper's place in the ranking (0 = first): relevance, then score, then input order."""
    order = sorted(range(len(relevance)), key=lambda i: (-relevance[i], -order_score[i], i))
    places = np.empty(len(order), dtype=int)
    places[order] = np.arange(len(order))
    return places


def _with_votes(
    order_score: np.ndarray, relevance: np.ndarray, liked: VoteTaste, full_weight: float
) -> tuple[np.ndarray, np.ndarray]:
    """The score blended with the votes' taste; the same relevance levels, handed out in the new
    order (as many papers at each level as before, so the cut and the digest keep their size)."""
    weight = liked.weight(full_weight)
    blended = (1 - weight) * _standard(order_score) + weight * _standard(liked.score)
    order = np.argsort(-blended, kind="stable")
    reassigned = np.empty_like(relevance)
    reassigned[order] = np.sort(relevance)[::-1]
    return blended, reassigned


def _comment(criteria: Criteria, topic_index: int, match: float, liked: str | None = None) -> str:
    topic = criteria.topics[topic_index]
    label = f"topic {topic.number}: {topic.title}" if topic.title else f"topic {topic.number}"
    # BM25 can score a paper above the topic's own text; "113% of a full match" reads as a bug
    closest = f"closest to {label} (ranked locally, {min(match, 1.0):.0%} of a full match)"
    return f"Shown as {liked}; {closest}" if liked else closest[0].upper() + closest[1:]
