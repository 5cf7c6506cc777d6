"""Replays the reference arXiv days against the reference criteria and measures the local ranker.

Labels: the reference selections (an LLM's relevance per paper); a candidate that is not in a
selection counts as irrelevant. Candidates: the day's papers whose primary category is one the
selection lists (the reference selector never picked a cross-list, so cross-lists were most
likely never shown to it and would only add false negatives).

History: for "local+history" each day is ranked with the other reference days' labels as history
(leave one day out: never trained on the day it is tested on). That is the history audit days give
(newsletter/ranking/audit.py: some days the LLM scores every candidate). "local+cut history" is
the history without audit days: only the papers the cut sent to the LLM on those days have labels.

Why the broad readers' figures stay low (the reference labels hide papers of young teams):
bench/ranking_label_bias.py.

Run: .venv/bin/python bench/ranking.py [--reference ../shared/reference] [--seeds 50]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import bm25s
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from newsletter.models import Paper
from newsletter.ranking.local import LocalRanker, llm_candidates
from newsletter.ranking.match import paper_text

# Beside the checkout; a git worktree elsewhere names it with NEWSLETTER_REFERENCE.
DEFAULT_REFERENCE = Path(
    os.environ.get("NEWSLETTER_REFERENCE") or Path(__file__).resolve().parents[2] / "shared" / "reference"
)
DIGEST_MAX, DIGEST_MIN_RELEVANCE = 30, 5
TARGET_RECALL = 0.95


@dataclass(frozen=True)
class Case:
    criteria_name: str
    criteria: str
    date: str
    papers: tuple[Paper, ...]
    labels: dict[str, int]  # arxiv_id → LLM relevance, only for selected papers


def load_cases(reference: Path) -> list[Case]:
    days: dict[str, list[Paper]] = {}
    for path in sorted((reference / "arxiv" / "days").glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            days[path.name[:10]] = [reference_paper(json.loads(line)) for line in lines if line.strip()]
    cases = []
    for path in sorted((reference / "selections").glob("*.json")):
        selection = json.loads(path.read_text(encoding="utf-8"))
        date = selection["digest_date"]
        name = Path(selection["subscriber_criteria_file"]).stem
        categories = {c.strip() for c in selection["categories"].split(",")}
        papers = tuple(p for p in days[date] if p.primary_category in categories)
        ids = {p.arxiv_id for p in papers}
        labels = {s["arxiv_id"]: int(s["relevance"]) for s in selection["selected"] if s["arxiv_id"] in ids}
        criteria = (reference / "criteria" / f"{name}.md").read_text(encoding="utf-8")
        cases.append(Case(name, criteria, date, papers, labels))
    return cases


def reference_paper(row: dict[str, object]) -> Paper:
    """A paper of a reference day's JSON lines (`id`, `title`, `authors`, `summary`, …)."""
    return Paper(
        arxiv_id=str(row["id"]),
        title=str(row["title"]),
        authors=tuple(row["authors"]),  # type: ignore[arg-type]
        abstract=str(row["summary"]),
        categories=tuple(row["categories"]),  # type: ignore[arg-type]
        comment=row.get("comment") or None,  # type: ignore[arg-type]
    )


def history_for(case: Case, cases: Sequence[Case], *, cut_only: bool = False) -> list[tuple[Paper, int]]:
    """The other days' candidates with their labels (1 = not selected: the LLM's lowest).

    `cut_only`: only the papers the cut (on the ranker without history) sent to the LLM that day.
    """
    history = []
    for other in cases:
        if other.criteria_name != case.criteria_name or other.date == case.date:
            continue
        sent = set(llm_candidates(LocalRanker().rank(other.criteria, other.papers))) if cut_only else None
        kept = [p for p in other.papers if sent is None or p.arxiv_id in sent]
        history += [(p, other.labels.get(p.arxiv_id, 1)) for p in kept]
    return history


# --- rankers: each returns candidate ids best first, and optionally the ranker's Scores ------


def bm25_whole(case: Case) -> list[str]:
    tokens = bm25s.tokenize(
        [paper_text(p) for p in case.papers], stopwords="en", show_progress=False, return_ids=False
    )
    retriever = bm25s.BM25()
    retriever.index([list(t) for t in tokens], show_progress=False)
    query = bm25s.tokenize([case.criteria], stopwords="en", show_progress=False, return_ids=False)[0]
    known = [t for t in query if t in retriever.vocab_dict]
    scores = retriever.get_scores(known)
    return [case.papers[i].arxiv_id for i in np.argsort(-scores, kind="stable")]


def tfidf_whole(case: Case) -> list[str]:
    vectorizer = TfidfVectorizer(sublinear_tf=True, stop_words="english")
    matrix = vectorizer.fit_transform([paper_text(p) for p in case.papers] + [case.criteria])
    scores = (matrix[:-1] @ matrix[-1].T).toarray().ravel()
    return [case.papers[i].arxiv_id for i in np.argsort(-scores, kind="stable")]


def metrics(order: Sequence[str], labels: dict[str, int], level: int) -> dict[str, float] | None:
    relevant = np.array([labels.get(i, 0) >= level for i in order])
    if not relevant.any():
        return None
    n, found = len(order), np.cumsum(relevant) / relevant.sum()

    def recall_at(share: float) -> float:
        return float(found[max(1, int(np.ceil(share * n))) - 1])

    kept = int(np.argmax(found >= TARGET_RECALL - 1e-9)) + 1
    return {
        "r10": recall_at(0.10),
        "r20": recall_at(0.20),
        "r33": recall_at(0.33),
        "keep95": kept / n,
        "top30": float(relevant[:DIGEST_MAX].sum()),
        "relevant": float(relevant.sum()),
    }


def order_by(case: Case, score: np.ndarray) -> list[str]:
    """Candidate ids by a score over `case.papers`, best first."""
    return [case.papers[i].arxiv_id for i in np.argsort(-score, kind="stable")]


def as_score(case: Case, order: Sequence[str]) -> np.ndarray:
    """A ranking as a score (higher is better), so rankings can be fused or compared."""
    position = {arxiv_id: i for i, arxiv_id in enumerate(order)}
    return np.array([-position[p.arxiv_id] for p in case.papers], dtype=float)


def print_trial(cases: Sequence[Case], rankings: Callable[[Case], dict[str, np.ndarray]]) -> None:
    """The figures of a ranking trial (relevance ≥ 7), per criteria file and method."""
    found: dict[tuple[str, str], list[dict[str, float]]] = {}
    for case in cases:
        for method, score in rankings(case).items():
            result = metrics(order_by(case, score), case.labels, 7)
            if result is not None:
                found.setdefault((case.criteria_name, method), []).append(result)
    print("relevance ≥ 7: recall in the top 33%, share kept for 95% recall (mean / worst day), top 30")
    for name in sorted({criteria_name for criteria_name, _ in found}):
        print(f"-- {name}")
        for (criteria_name, method), runs in found.items():
            if criteria_name == name:
                print(
                    f"   {method:28s} r33 {np.mean([r['r33'] for r in runs]):.2f}  keep95"
                    f" {np.mean([r['keep95'] for r in runs]):.2f} / {max(r['keep95'] for r in runs):.2f}"
                    f"  top30 {sum(r['top30'] for r in runs):.0f}/{sum(r['relevant'] for r in runs):.0f}"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE)
    parser.add_argument("--seeds", type=int, default=50, help="random rankings to average")
    args = parser.parse_args()
    cases = load_cases(args.reference)
    ranker = LocalRanker()
    rows: dict[tuple[str, str, int], list[dict[str, float]]] = {}
    timings: list[float] = []

    def record(method: str, case: Case, order: Sequence[str]) -> None:
        for level in (7, 5):
            found = metrics(order, case.labels, level)
            if found is not None:
                rows.setdefault((method, case.criteria_name, level), []).append(found)

    for case in cases:
        for seed in range(args.seeds):
            shuffled = [p.arxiv_id for p in case.papers]
            np.random.default_rng(seed).shuffle(shuffled)
            record(f"random#{seed}", case, shuffled)
        record("bm25 whole text", case, bm25_whole(case))
        record("tfidf whole text", case, tfidf_whole(case))
        for method, history in (
            ("local", []),
            ("local+history", history_for(case, cases)),
            ("local+cut history", history_for(case, cases, cut_only=True)),
        ):
            start = time.perf_counter()
            scores = ranker.rank(case.criteria, case.papers, history)
            timings.append(time.perf_counter() - start)
            order = [s.arxiv_id for s in scores]
            record(method, case, order)
            _record_cut_and_digest(rows, method, case, scores)

    _merge_random(rows, args.seeds)
    _print(rows, cases)
    _print_targets(rows, sorted({c.criteria_name for c in cases}))
    print(
        f"\nrank() time per day × criteria: median {statistics.median(timings) * 1000:.0f} ms,"
        f" max {max(timings) * 1000:.0f} ms"
    )


def _record_cut_and_digest(
    rows: dict[tuple[str, str, int], list[dict[str, float]]],
    method: str,
    case: Case,
    scores: Sequence[object],
) -> None:
    from newsletter.models import Score

    typed = [s for s in scores if isinstance(s, Score)]
    sent = set(llm_candidates(typed))
    digest = [s.arxiv_id for s in typed if s.relevance >= DIGEST_MIN_RELEVANCE][:DIGEST_MAX]
    for level in (7, 5):
        relevant = {i for i, v in case.labels.items() if v >= level}
        entry = {
            "sent": len(sent) / len(typed),
            "digest": float(len(digest)),
            "digest_hits": float(len(relevant & set(digest))),
        }
        if relevant:
            entry["cut_recall"] = len(relevant & sent) / len(relevant)
        rows.setdefault((f"{method} cut", case.criteria_name, level), []).append(entry)


def _merge_random(rows: dict[tuple[str, str, int], list[dict[str, float]]], seeds: int) -> None:
    for key in [k for k in rows if k[0] == "random#0"]:
        per_seed = [rows.pop((f"random#{s}", key[1], key[2])) for s in range(seeds)]
        rows[("random", key[1], key[2])] = [
            {m: float(np.mean([run[d][m] for run in per_seed])) for m in per_seed[0][d]}
            for d in range(len(per_seed[0]))
        ]


def _print(rows: dict[tuple[str, str, int], list[dict[str, float]]], cases: list[Case]) -> None:
    names = sorted({c.criteria_name for c in cases})
    rankers = ["random", "bm25 whole text", "tfidf whole text", "local", "local+history", "local+cut history"]
    for level in (7, 5):
        print(
            f"\n=== relevance ≥ {level}: recall within the top 10/20/33% of candidates, share kept"
            f" for 95% recall (mean over days / worst day), relevant in the top {DIGEST_MAX}"
        )
        for name in [*names, "AVERAGE"]:
            print(f"-- {name}")
            for method in rankers:
                runs = _runs(rows, method, name, level, names)
                if not runs:
                    continue
                mean = {m: float(np.mean([r[m] for r in runs])) for m in runs[0]}
                print(
                    f"   {method:21s} r10 {mean['r10']:.2f}  r20 {mean['r20']:.2f}  "
                    f"r33 {mean['r33']:.2f}  keep95 {mean['keep95']:.2f} /"
                    f" {max(r['keep95'] for r in runs):.2f}  top30 "
                    f"{sum(r['top30'] for r in runs):.0f}/{sum(r['relevant'] for r in runs):.0f}"
                )
            for method in ("local", "local+history", "local+cut history"):
                runs = _runs(rows, f"{method} cut", name, level, names)
                with_recall = [r for r in runs if "cut_recall" in r]
                if not with_recall:
                    continue
                print(
                    f"   {method + ' cut':21s} sent {np.mean([r['sent'] for r in runs]):.2f}"
                    f" (max {max(r['sent'] for r in runs):.2f})  recall mean "
                    f"{np.mean([r['cut_recall'] for r in with_recall]):.2f} worst day "
                    f"{min(r['cut_recall'] for r in with_recall):.2f}  |  no-LLM digest: "
                    f"{np.mean([r['digest'] for r in runs]):.1f} papers/day, holds "
                    f"{sum(r['digest_hits'] for r in runs):.0f} of the relevant"
                )


def _runs(
    rows: dict[tuple[str, str, int], list[dict[str, float]]],
    method: str,
    name: str,
    level: int,
    names: list[str],
) -> list[dict[str, float]]:
    if name != "AVERAGE":
        return rows.get((method, name, level), [])
    return [r for n in names for r in rows.get((method, n, level), [])]


BASELINES = ("bm25 whole text", "tfidf whole text")


def _print_targets(rows: dict[tuple[str, str, int], list[dict[str, float]]], names: list[str]) -> None:
    """Issue 4's three targets, per criteria file, for relevance ≥ 7 (and ≥ 5 where ≥ 7 is rare)."""
    print("\n=== targets (per criteria file; 'cut' = llm_candidates on the ranker's scores)")
    for level in (7, 5):
        for name in names:
            base = {b: rows.get((b, name, level), []) for b in BASELINES if rows.get((b, name, level))}
            if not base:
                continue
            best_keep = min(float(np.mean([r["keep95"] for r in runs])) for runs in base.values())
            best_top30 = max(sum(r["top30"] for r in runs) for runs in base.values())
            print(
                f"-- {name}, relevance ≥ {level}: best baseline keeps {best_keep:.2f} for 95%,"
                f" its top {DIGEST_MAX} hold {best_top30:.0f}"
            )
            for method in ("local", "local+history", "local+cut history"):
                cut = rows.get((f"{method} cut", name, level), [])
                recalls = [r["cut_recall"] for r in cut if "cut_recall" in r]
                sent = float(np.mean([r["sent"] for r in cut]))
                hits = sum(r["digest_hits"] for r in cut)
                print(
                    f"   {method:17s} [1] ≥95% every day: {'MET' if min(recalls) >= 0.95 else 'NOT MET'}"
                    f" (worst day {min(recalls):.3f})  [2] sent {sent:.2f} ≤ {best_keep - 0.10:.2f}:"
                    f" {'MET' if sent <= best_keep - 0.10 else 'NOT MET'}  [3] no-LLM digest holds"
                    f" {hits:.0f} > {best_top30:.0f}: {'MET' if hits > best_top30 else 'NOT MET'}"
                )


if __name__ == "__main__":
    main()
