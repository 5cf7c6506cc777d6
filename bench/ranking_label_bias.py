"""How much of the reference labels is the reference selector's author filter, not the criteria.

The reference selector only asked its LLM about papers with an author of h-index ≥ 15 (Semantic
Scholar; its config has `hcutoff = 15`), after a title-only pass, so a relevant paper by a young
team counts as irrelevant in bench/ranking.py. Our judge has no such filter, so the product does
not learn it; this script measures how much it weighs on the reference figures:
1. the share of candidates selected, by number of authors (a visible stand-in for the filter);
2. the ranking figures among large teams only, where the filter hides least;
3. a diagnostic ranker that sees team size: a logistic regression on two features, the local
   ranker's rank (no history) and log(1 + authors), fitted on the other reference days' labels
   (leave one day out). Whatever it gains over the local ranker is the filter, since team size
   says nothing about a paper's topic.

Run: .venv/bin/python bench/ranking_label_bias.py
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
from ranking import DEFAULT_REFERENCE, Case, bm25_whole, load_cases, metrics, order_by, tfidf_whole
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

from newsletter.ranking.local import LocalRanker

AUTHOR_BANDS = ((1, 3), (4, 5), (6, 8), (9, 10_000))


def _print_label_bias(cases: Sequence[Case]) -> None:
    """How the reference labels depend on team size, which no content ranker can see.

    The reference selector only asked its LLM about papers with an author of h-index ≥ 15
    (Semantic Scholar; its config has `hcutoff = 15`), after a title-only pass, so a relevant paper
    by a young team counts as irrelevant here. Team size is a visible stand-in for that filter.
    """
    print("\n=== reference labels by number of authors (share of candidates selected, any relevance)")
    for name in sorted({c.criteria_name for c in cases}):
        mine = [c for c in cases if c.criteria_name == name]
        cells = []
        for low, high in AUTHOR_BANDS:
            band = [(c, p) for c in mine for p in c.papers if low <= len(p.authors) <= high]
            picked = sum(1 for c, p in band if p.arxiv_id in c.labels)
            label = f"{low}-{high}" if high < 10_000 else f"{low}+"
            cells.append(f"{label} authors {picked / max(1, len(band)):.2f} (n={len(band)})")
        print(f"-- {name}: " + ", ".join(cells))


LARGE_TEAM = 6  # authors; from here on about half the candidates are labelled (see above)


def _print_large_teams(cases: Sequence[Case], ranker: LocalRanker) -> None:
    """The same measures on the papers of large teams only, where the h-index filter hides least.

    Within large teams the rankers do not separate much either: r33 stays at 0.41–0.51 for the
    broad readers (random: 0.33), so these labels are hard for a lexical ranker even there.
    """
    print(f"\n=== relevance ≥ 7 among papers with ≥ {LARGE_TEAM} authors: r33, keep95 (mean over days)")
    rankers: dict[str, Callable[[Case], list[str]]] = {
        "bm25 whole text": bm25_whole,
        "tfidf whole text": tfidf_whole,
        "local": lambda case: [s.arxiv_id for s in ranker.rank(case.criteria, case.papers)],
    }
    for name in sorted({c.criteria_name for c in cases}):
        cells = []
        for method, rank in rankers.items():
            runs = []
            for case in (c for c in cases if c.criteria_name == name):
                large = replace(case, papers=tuple(p for p in case.papers if len(p.authors) >= LARGE_TEAM))
                found = metrics(rank(large), large.labels, 7)
                if found is not None:
                    runs.append(found)
            if runs:
                r33, keep95 = (np.mean([r[key] for r in runs]) for key in ("r33", "keep95"))
                cells.append(f"{method} {r33:.2f} / {keep95:.2f}")
        print(f"-- {name}: " + ("; ".join(cells) or "no relevant paper"))


def _print_team_size_diagnostic(cases: Sequence[Case], ranker: LocalRanker) -> None:
    print("\n=== relevance ≥ 7: the local ranker alone, and with team size learned from the other days")
    features: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
    for case in cases:
        position = {s.arxiv_id: i for i, s in enumerate(ranker.rank(case.criteria, case.papers))}
        rows = [[1 - position[p.arxiv_id] / len(position), np.log1p(len(p.authors))] for p in case.papers]
        labels = np.array([case.labels.get(p.arxiv_id, 0) >= 7 for p in case.papers])
        features[(case.criteria_name, case.date)] = (np.array(rows), labels)
    for name in sorted({c.criteria_name for c in cases}):
        mine = [c for c in cases if c.criteria_name == name]
        runs: dict[str, list[dict[str, float]]] = {"local": [], "local + team size": []}
        for case in mine:
            rows, _ = features[(name, case.date)]
            others = [features[(name, o.date)] for o in mine if o.date != case.date]
            train_labels = np.concatenate([labels for _, labels in others])
            if train_labels.sum() < 2:  # a narrow reader: too few relevant papers to fit on
                continue
            model = LogisticRegression().fit(np.vstack([r for r, _ in others]), train_labels)
            both = (("local", rows[:, 0]), ("local + team size", model.decision_function(rows)))
            for method, score in both:
                found = metrics(order_by(case, score), case.labels, 7)
                if found is not None:
                    runs[method].append(found)
        for method, found in runs.items():
            if found:
                print(
                    f"-- {name[:30]:30s} {method:18s} r33 {np.mean([r['r33'] for r in found]):.2f}"
                    f"  keep95 {np.mean([r['keep95'] for r in found]):.2f}"
                    f"  top30 {sum(r['top30'] for r in found):.0f}"
                )


def main() -> None:
    cases = load_cases(DEFAULT_REFERENCE)
    ranker = LocalRanker()
    _print_label_bias(cases)
    _print_large_teams(cases, ranker)
    _print_team_size_diagnostic(cases, ranker)


if __name__ == "__main__":
    main()
