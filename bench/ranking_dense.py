"""Would a packaged embedding model rank better? WordLlama on the reference days, alone and fused.

WordLlama (MIT) ships its 256-dimension token embeddings and tokenizer inside its wheel, so it
runs with no network and no model download: the one "small embedding model that a package ships"
we found. This prints the same ranking figures as bench/ranking.py (relevance ≥ 7) for:
- dense alone: cosine of each paper with the whole criteria text, or with its best topic;
- fused with the local ranker: the sum of standardised scores (without history);
- with history: the local ranker's history order fused with a ridge model on the embeddings of
  the other days' judged papers (leave one day out, as in bench/ranking.py).
It is not part of the product. The gains are not consistent across the two broad readers (the
dense ridge helps one and hurts the other), and wired into LocalRanker (tried, then reverted) it
lowered the with-history cut's worst-day recall to 0.71-0.86 without sending fewer papers.

Run: .venv/bin/pip install -e ".[dense]" && .venv/bin/python bench/ranking_dense.py
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from ranking import (
    DEFAULT_REFERENCE,
    Case,
    as_score,
    bm25_whole,
    history_for,
    load_cases,
    print_trial,
    tfidf_whole,
)
from sklearn.linear_model import Ridge

from newsletter.ranking.criteria import parse_criteria
from newsletter.ranking.local import LocalRanker
from newsletter.ranking.local import _standard as standard  # the ranker's own blend scaling
from newsletter.ranking.match import paper_text, topic_matches


def load_wordllama() -> Callable[[list[str]], np.ndarray]:
    """The packaged model, opened directly (its own loader tries to download the tokenizer)."""
    import wordllama
    from safetensors import safe_open
    from tokenizers import Tokenizer
    from wordllama.inference import WordLlamaInference

    root = Path(wordllama.__file__).parent
    with safe_open(str(root / "weights" / "l2_supercat_256.safetensors"), framework="np") as weights:
        table = weights.get_tensor("embedding.weight")
    tokenizer = Tokenizer.from_file(str(root / "tokenizers" / "l2_supercat_tokenizer_config.json"))
    model = WordLlamaInference(table, tokenizer, binary=False)
    return lambda texts: np.asarray(model.embed(texts, norm=True), dtype=float)


def rankings(
    case: Case, cases: Sequence[Case], embed: Callable[[list[str]], np.ndarray]
) -> dict[str, np.ndarray]:
    topics = [t.query for t in parse_criteria(case.criteria).topics]
    papers = embed([paper_text(p) for p in case.papers])
    whole = papers @ embed([case.criteria])[0]
    best_topic = (papers @ embed(topics).T).max(axis=1)
    lexical = topic_matches(topics, case.papers).max(axis=0)
    ranker = LocalRanker()
    history = history_for(case, cases)
    with_history = as_score(case, [s.arxiv_id for s in ranker.rank(case.criteria, case.papers, history)])
    judged = embed([paper_text(p) for p, _ in history])
    learned = Ridge(alpha=1.0).fit(judged, [label for _, label in history]).predict(papers)
    return {
        "bm25 whole text": as_score(case, bm25_whole(case)),
        "tfidf whole text": as_score(case, tfidf_whole(case)),
        "dense whole criteria": whole,
        "dense best topic": best_topic,
        "local": lexical,
        "local + dense": standard(lexical) + 0.5 * standard(best_topic),
        "local+history": with_history,
        "local+history + dense ridge": standard(with_history) + standard(learned),
    }


def main() -> None:
    embed = load_wordllama()
    logging.getLogger().handlers.clear()  # importing wordllama sets up root logging; keep the table clean
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    cases = load_cases(DEFAULT_REFERENCE)
    print_trial(cases, lambda case: rankings(case, cases, embed))


if __name__ == "__main__":
    main()
