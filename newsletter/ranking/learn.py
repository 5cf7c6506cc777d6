"""Learns a reader's taste from the LLM's earlier judgements of the same criteria text.

Every day's LLM scores are free training data for tomorrow's ranking: a logistic regression on
TF-IDF words and bigrams of the judged papers (scikit-learn), plus their topic matches, predicts how
likely the LLM is to call each of today's papers relevant (relevance ≥ 7). Cross-validated
predictions on the history tell how low a relevant paper's prediction can fall, which sets the cut
in front of the LLM.

Measured on 30 real days per reader (bench/learning.py, broad readers, last 10 days): the logistic
model on "relevant or not" separates better at the bottom of the ranking, where the cut lies, than
the ridge regression on the 1–10 score it replaced (same cut rule: 0.95–0.98 of the relevant papers
reach the LLM with 0.67–0.72 of the candidates sent, against 0.72–0.76). bench/frontier.py shows how
far any such text model can go.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from scipy import sparse  # type: ignore[import-untyped]
from sklearn.feature_extraction.text import TfidfVectorizer  # type: ignore[import-untyped]
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
from sklearn.model_selection import StratifiedKFold, cross_val_predict  # type: ignore[import-untyped]

from newsletter.models import Paper
from newsletter.ranking.match import paper_text, tokens

_C = 1.0  # logistic regression penalty
_MATCH_WEIGHT = 1.0  # scale of the topic-match columns next to the l2-normalised TF-IDF row
_FOLDS = 3
# Share of past relevant papers the cut may miss in cross-validation. bench/learning.py (30 real
# days, broad readers, last 10, with the reader's votes): 0.10 with one error's margin sends 72–74%
# of the candidates and lets 98–99% of the relevance-≥7 papers reach the LLM; 0.15 sends 67–72%
# and reaches 95–98%; 0.20 sends 61–64% and reaches 91–93% (the ridge model before it: 0.10 sent
# 72–76% and reached 97–98%).
_MISSED_SHARE = 0.15
_MIN_RELEVANT_FOR_CUT = 10


@dataclass(frozen=True, slots=True)
class LearnedTaste:
    today: np.ndarray  # log-odds that the LLM calls each of today's papers relevant
    held_out: np.ndarray  # cross-validated log-odds for the judged papers
    labels: np.ndarray  # the LLM's relevance of the judged papers
    shares: tuple[float, ...]  # shares[r - 2]: share of judged papers with relevance ≥ r, r=2..10

    def send_threshold(self, judged_score: np.ndarray) -> float | None:
        """The score above which nearly all past relevant papers lie (held out, so honest).

        `judged_score` is the ranker's final score for the judged papers, computed from
        `held_out`. Relevant means ≥ 7, or ≥ 5 for a reader with too few of those. None when
        there are too few relevant papers to tell (a narrow reader's first weeks).
        """
        relevant = _relevant(self.labels)
        if relevant.sum() < _MIN_RELEVANT_FOR_CUT:
            return None
        past = judged_score[relevant]
        # A low quantile of a few scores is itself uncertain (its error shrinks like 1/sqrt(n)):
        # lower the bar by one such error, so a reader with few relevant papers gets a wider cut.
        spread = past.std() / np.sqrt(len(past))
        return float(np.quantile(past, _MISSED_SHARE) - spread)

    def relevance_by_quantile(self, score: np.ndarray) -> np.ndarray:
        """1–10 so that today's share at or above each level is the LLM's past share."""
        n = len(score)
        order = np.argsort(-score, kind="stable")
        position = np.empty(n)
        position[order] = (np.arange(n) + 0.5) / max(n, 1)
        relevance = np.ones(n, dtype=int)
        for level, share in enumerate(self.shares, start=2):
            relevance[position < share] = level
        return relevance


def fit_taste(
    judged: Sequence[Paper],
    labels: np.ndarray,
    judged_matches: np.ndarray,
    today: Sequence[Paper],
    today_matches: np.ndarray,
) -> LearnedTaste:
    """Fits on (judged papers, LLM relevance 1–10) and predicts today's papers.

    `*_matches` are (topics × papers) topic-match arrays from `topic_matches`. Raises ValueError
    when too few judged papers are relevant, or not, to tell the two apart.
    """
    vectorizer = TfidfVectorizer(sublinear_tf=True, min_df=2, analyzer=_words_and_bigrams)
    words = vectorizer.fit_transform([paper_text(p) for p in [*judged, *today]])
    matches = np.hstack([judged_matches, today_matches]).T * _MATCH_WEIGHT
    features = sparse.hstack([words, sparse.csr_matrix(matches)]).tocsr()
    train, test = features[: len(judged)], features[len(judged) :]
    relevant = _relevant(labels).astype(int)
    if min(relevant.sum(), len(relevant) - relevant.sum()) < _FOLDS:
        raise ValueError(f"fewer than {_FOLDS} judged papers on one side of relevant")
    folds = StratifiedKFold(n_splits=_FOLDS, shuffle=True, random_state=0)
    held_out = cross_val_predict(_model(), train, relevant, cv=folds, method="decision_function")
    return LearnedTaste(
        today=np.asarray(_model().fit(train, relevant).decision_function(test), dtype=float),
        held_out=np.asarray(held_out, dtype=float),
        labels=labels,
        shares=tuple(float(np.mean(labels >= level)) for level in range(2, 11)),
    )


def _relevant(labels: np.ndarray) -> np.ndarray:
    """Relevance ≥ 7, or ≥ 5 while there are too few of those (a narrow reader's first weeks)."""
    relevant: np.ndarray = labels >= 7
    return relevant if relevant.sum() >= _MIN_RELEVANT_FOR_CUT else labels >= 5


def _model() -> LogisticRegression:
    # balanced: relevant papers are a small share of the judged ones, and the cut cares about them
    return LogisticRegression(C=_C, class_weight="balanced", max_iter=3000)


def _words_and_bigrams(text: str) -> list[str]:
    words = tokens(text)
    return [*words, *(f"{a} {b}" for a, b in pairwise(words))]
