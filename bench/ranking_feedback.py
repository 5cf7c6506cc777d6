"""Would pseudo-relevance feedback rank better? Query expansion from each topic's best papers.

The classic fix for short queries: take the papers a topic matches best today, assume they are
relevant, and widen the topic's query with their words. Two textbook forms, each on top of the
local ranker's topic matches (no history), over a small fixed grid:
- RM3-style: the `terms` words with the most TF-IDF weight in the topic's best `k` papers are
  added to its BM25 query; the match is the mean of the expanded and the original query's;
- Rocchio: the topic's TF-IDF vector plus `beta` times the mean of its best `k` papers, cosine
  against each paper, fused with the topic match (standardised, weight `w`).
It is not part of the product. What it shows on the three reference days: recall in the top
third rises for both broad readers under most settings (by 0.03-0.08), but the figures the
targets use barely move. The top 30 gains 0-3 papers of ~50, the share kept for 95% recall moves
either way, and the setting best on average (Rocchio k=10, beta=0.5, w=1.0) worsens the spatial
reader's worst day (0.87 -> 0.94) and only ties the baselines' top 30 (19 and 26). Gains of one
or two papers on three days cannot be told apart from noise, so the ranker stays as it is.

Run: .venv/bin/python bench/ranking_feedback.py
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
from ranking import DEFAULT_REFERENCE, Case, as_score, bm25_whole, load_cases, print_trial, tfidf_whole
from sklearn.feature_extraction.text import TfidfVectorizer

from newsletter.models import Paper
from newsletter.ranking.criteria import parse_criteria
from newsletter.ranking.local import _standard as standard  # the ranker's own blend scaling
from newsletter.ranking.match import paper_text, tokens, topic_matches

RM3_GRID = ((5, 10), (5, 40), (10, 10), (10, 40))  # (k best papers, terms added)
ROCCHIO_GRID = ((10, 0.5, 0.5), (10, 0.5, 1.0), (10, 1.0, 1.0))  # (k, beta, w)


def rm3_matches(queries: Sequence[str], papers: Sequence[Paper], k: int, terms: int) -> np.ndarray:
    original = topic_matches(queries, papers)
    words = [tokens(paper_text(p)) for p in papers]
    document_frequency = Counter(word for text in words for word in set(text))
    expanded = []
    for index, query in enumerate(queries):
        weight: Counter[str] = Counter()
        for best in np.argsort(-original[index], kind="stable")[:k]:
            for word, count in Counter(words[best]).items():
                idf = np.log(len(papers) / document_frequency[word])
                weight[word] += count / max(1, len(words[best])) * idf
        own = tokens(query)
        extra = [w for w, _ in weight.most_common(terms + len(own)) if w not in own][:terms]
        expanded.append(" ".join([*own, *extra]))
    return 0.5 * original + 0.5 * topic_matches(expanded, papers)


def rocchio_scores(queries: Sequence[str], papers: Sequence[Paper], k: int, beta: float) -> np.ndarray:
    original = topic_matches(queries, papers)
    vectorizer = TfidfVectorizer(sublinear_tf=True, analyzer=lambda text: list(tokens(text)))
    matrix = vectorizer.fit_transform([paper_text(p) for p in papers] + list(queries))
    documents, topics = matrix[: len(papers)], matrix[len(papers) :]
    rows = []
    for index in range(len(queries)):
        best = np.argsort(-original[index], kind="stable")[:k]
        query = topics[index].toarray().ravel() + beta * np.asarray(documents[best].mean(axis=0)).ravel()
        rows.append(documents @ (query / (np.linalg.norm(query) or 1.0)))
    return np.vstack(rows).max(axis=0)


def rankings(case: Case) -> dict[str, np.ndarray]:
    queries = [t.query for t in parse_criteria(case.criteria).topics]
    local = topic_matches(queries, case.papers).max(axis=0)
    found = {
        "bm25 whole text": as_score(case, bm25_whole(case)),
        "tfidf whole text": as_score(case, tfidf_whole(case)),
        "local": local,
    }
    for k, terms in RM3_GRID:
        found[f"rm3 k={k} terms={terms}"] = rm3_matches(queries, case.papers, k, terms).max(axis=0)
    for k, beta, w in ROCCHIO_GRID:
        rocchio = rocchio_scores(queries, case.papers, k, beta)
        found[f"rocchio k={k} beta={beta} w={w}"] = standard(local) + w * standard(rocchio)
    return found


def main() -> None:
    cases = [c for c in load_cases(DEFAULT_REFERENCE) if len(c.labels) >= 10]  # the broad readers
    print_trial(cases, rankings)


if __name__ == "__main__":
    main()
