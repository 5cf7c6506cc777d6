"""Learns one reader's taste from their votes: "More like this" / "Less like this" and seed papers.

A logistic regression (scikit-learn) on the voted papers' TF-IDF words and bigrams, their authors
and their topic matches predicts how likely the reader is to want each of today's papers. With
likes only (a new reader's seed papers), the score is the similarity to the nearest liked paper.
The local ranker blends this with its criteria match, more as votes accumulate (`weight`).

Chosen by replaying 30 real days per reader with a simulated reader (bench/learning.py): authors
as features lifted the broad readers' recall; a reader who likes a group's papers gets more of
them, which is what "more like this" asks for.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from scipy import sparse  # type: ignore[import-untyped]
from sklearn.feature_extraction.text import TfidfVectorizer  # type: ignore[import-untyped]
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
from sklearn.preprocessing import normalize  # type: ignore[import-untyped]

from newsletter.models import Paper
from newsletter.ranking.match import paper_text, tokens

Vote = tuple[Paper, int]  # +1: more like this (or a seed paper), -1: less like this

FULL_WEIGHT_VOTES = 20  # votes at which the learned taste weighs its full `weight`
# A paper the votes lifted names its nearest liked paper when it is among the day's closest to
# one: the top tenth by cosine (absolute cosines of TF-IDF with bigrams run low, 0.03–0.12).
LIKE_NOTE_QUANTILE = 0.9
_C = 1.0  # logistic regression penalty; 1–10 measured alike
_NOT_NAME = re.compile(r"\W+")


@dataclass(frozen=True, slots=True)
class VoteTaste:
    """What the votes say about today's papers."""

    score: np.ndarray  # higher: more like the liked papers, less like the disliked ones
    nearest_like: tuple[int | None, ...]  # per paper: index into `likes` of the most similar one
    similarity: np.ndarray  # cosine to that liked paper (0 without one)
    likes: tuple[Paper, ...]
    votes: int

    def weight(self, full: float) -> float:
        """How much the taste counts against the criteria match: grows with the votes."""
        return full * min(1.0, self.votes / FULL_WEIGHT_VOTES)

    def liked_notes(self, lifted: np.ndarray) -> list[str | None]:
        """'like *T*, which you liked' for each `lifted` paper (one the votes moved up) that is
        among the day's closest to a liked paper; None for the others."""
        close = self.similarity >= np.quantile(self.similarity, LIKE_NOTE_QUANTILE)
        return [self._note(i) if lifted[i] and close[i] and self.similarity[i] > 0 else None
                for i in range(len(self.similarity))]

    def _note(self, index: int) -> str | None:
        nearest = self.nearest_like[index]
        if nearest is None:
            return None
        title = " ".join(self.likes[nearest].title.split())
        return f"like *{title}*, which you liked"


def _labels(votes: Sequence[Vote]) -> np.ndarray:
    return np.array([1 if v > 0 else 0 for _, v in votes])


def _vectorizer() -> TfidfVectorizer:
    return TfidfVectorizer(sublinear_tf=True, analyzer=_features)


def _model() -> LogisticRegression:
    return LogisticRegression(C=_C, class_weight="balanced", max_iter=1000)


def _features(text: str) -> list[str]:
    words = tokens(text)
    return [*words, *(f"{a} {b}" for a, b in pairwise(words))]


def _with_authors(paper: Paper) -> str:
    names = " ".join("au_" + _NOT_NAME.sub("", a).lower() for a in paper.authors[:20])
    return f"{paper_text(paper)} {names}"


def fit_votes(
    votes: Sequence[Vote], papers: Sequence[Paper], vote_matches: np.ndarray, today_matches: np.ndarray
) -> VoteTaste | None:
    """The taste of `votes` over `papers`; None without a single like.

    `*_matches` are (topics × papers) topic-match arrays from `topic_matches`; one vote per paper.
    """
    labels = _labels(votes)
    if not votes or labels.sum() == 0 or not papers:
        return None
    words = _vectorizer().fit_transform([_with_authors(p) for p in [*(p for p, _ in votes), *papers]])
    voted, today = words[: len(votes)], words[len(votes) :]
    liked = np.flatnonzero(labels == 1)
    similarity_all = (normalize(today) @ normalize(voted[liked]).T).toarray()
    # a paper is not "like itself" (a re-run of a voted day)
    liked_ids = [votes[int(i)][0].arxiv_id for i in liked]
    similarity_all[np.equal.outer([p.arxiv_id for p in papers], liked_ids)] = 0.0
    nearest = similarity_all.argmax(axis=1)
    similarity = similarity_all.max(axis=1)
    if labels.min() == 1:  # likes only: closeness to the nearest liked paper
        score = similarity
    else:
        features = sparse.hstack([words, sparse.csr_matrix(
            np.hstack([vote_matches, today_matches]).T)]).tocsr()
        model = _model().fit(features[: len(votes)], labels)
        score = np.asarray(model.decision_function(features[len(votes) :]), dtype=float)
    return VoteTaste(
        score=np.asarray(score, dtype=float),
        nearest_like=tuple(int(i) for i in nearest),
        similarity=np.asarray(similarity, dtype=float),
        likes=tuple(votes[int(i)][0] for i in liked),
        votes=len(votes),
    )


def weighing_terms(votes: Sequence[Vote], count: int = 8) -> tuple[list[str], list[str]]:
    """The words, word pairs and authors that weigh most for and against a paper, by what the
    votes taught (for `newsletter subscribers show`); with likes only, the liked papers' most
    distinctive terms and nothing against."""
    votes = list({paper.arxiv_id: (paper, v) for paper, v in votes}.values())
    labels = _labels(votes)
    if not votes or labels.sum() == 0:
        return [], []
    vectorizer = _vectorizer()
    words = vectorizer.fit_transform([_with_authors(p) for p, _ in votes])
    names = np.array([_readable_term(t) for t in vectorizer.get_feature_names_out()])
    if labels.min() == 1:
        weight = np.asarray(words.sum(axis=0)).ravel()
        return list(names[np.argsort(-weight, kind="stable")[:count]]), []
    model = _model().fit(words, labels)
    order = np.argsort(-model.coef_[0], kind="stable")
    return list(names[order[:count]]), list(names[order[::-1][:count]])


def _readable_term(term: str) -> str:
    return f"author {term[3:]}" if term.startswith("au_") else term
