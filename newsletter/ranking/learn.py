"""Learns a reader's taste from the LLM's earlier judgements of the same criteria text.

Every day's LLM scores are free training data for tomorrow's ranking: a ridge regression on
TF-IDF words and bigrams of the judged papers (scikit-learn), plus their topic matches, predicts
the LLM's relevance for today's papers. Cross-validated predictions on the history tell how low a
relevant paper's prediction can fall, which sets the cut in front of the LLM.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from scipy import sparse  # type: ignore[import-untyped]
from sklearn.feature_extraction.text import TfidfVectorizer  # type: ignore[import-untyped]
from sklearn.linear_model import Ridge  # type: ignore[import-untyped]
from sklearn.model_selection import KFold, cross_val_predict  # type: ignore[import-untyped]

from newsletter.models import Paper
from newsletter.ranking.match import paper_text, tokens

_ALPHA = 1.0  # ridge penalty; 0.3–3 measured alike on the reference days
_MATCH_WEIGHT = 1.0  # scale of the topic-match columns next to the l2-normalised TF-IDF row
_FOLDS = 3
# Share of past relevant papers the cut may miss in cross-validation. bench/learning.py (30 real
# days, broad readers, last 10): 0.03 with two errors' margin sent 92% of the candidates and let
# 99–100% of the relevance-≥7 papers reach the LLM; 0.10 with one error's margin sends 73% and
# lets 95–96% reach it (98–99% with the reader's votes); 0.15 sends 68% and reaches 94–96%.
_MISSED_SHARE = 0.10
_MIN_RELEVANT_FOR_CUT = 10


@dataclass(frozen=True, slots=True)
class LearnedTaste:
    today: np.ndarray  # predicted LLM relevance of today's papers
    held_out: np.ndarray  # cross-validated predictions for the judged papers
    labels: np.ndarray  # the LLM's relevance of the judged papers
    shares: tuple[float, ...]  # shares[r - 2]: share of judged papers with relevance ≥ r, r=2..10

    def send_threshold(self, judged_score: np.ndarray) -> float | None:
        """The score above which nearly all past relevant papers lie (held out, so honest).

        `judged_score` is the ranker's final score for the judged papers, computed from
        `held_out`. Relevant means ≥ 7, or ≥ 5 for a reader with too few of those. None when
        there are too few relevant papers to tell (a narrow reader's first weeks).
        """
        relevant = self.labels >= 7
        if relevant.sum() < _MIN_RELEVANT_FOR_CUT:
            relevant = self.labels >= 5
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

    `*_matches` are (topics × papers) topic-match arrays from `topic_matches`.
    """
    train, test = taste_features(judged, judged_matches, today, today_matches)
    model = Ridge(alpha=_ALPHA).fit(train, labels)
    folds = KFold(n_splits=min(_FOLDS, len(labels)), shuffle=True, random_state=0)
    held_out = cross_val_predict(Ridge(alpha=_ALPHA), train, labels, cv=folds)
    return LearnedTaste(
        today=np.asarray(model.predict(test), dtype=float),
        held_out=np.asarray(held_out, dtype=float),
        labels=labels,
        shares=tuple(float(np.mean(labels >= level)) for level in range(2, 11)),
    )


def taste_features(
    judged: Sequence[Paper], judged_matches: np.ndarray, today: Sequence[Paper], today_matches: np.ndarray
) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    """(judged rows, today's rows): TF-IDF words and bigrams, fitted over both, beside each paper's
    topic matches."""
    vectorizer = TfidfVectorizer(sublinear_tf=True, min_df=2, analyzer=_words_and_bigrams)
    words = vectorizer.fit_transform([paper_text(p) for p in [*judged, *today]])
    matches = np.hstack([judged_matches, today_matches]).T * _MATCH_WEIGHT
    features = sparse.hstack([words, sparse.csr_matrix(matches)]).tocsr()
    return features[: len(judged)], features[len(judged) :]


def _words_and_bigrams(text: str) -> list[str]:
    words = tokens(text)
    return [*words, *(f"{a} {b}" for a, b in pairwise(words))]
