"""How far can a ranker over paper text go on issue 23's targets, knowing every earlier label?

bench/learning.py measures the product as it runs: the LLM history holds only the papers the cut
sent, and a simulated reader votes on a third of the digest. This asks the upper bound instead.
For each of the last 10 of the 30 real days per reader (`../shared/reference/train`), the product's
own `LocalRanker` ranks the day with every earlier candidate as history, each labelled with its
recorded relevance (1 where the reference did not select it): more than the cut or the votes can
ever know. From that ranking, per day, then averaged:
- recall@30: the day's relevance-≥7 papers among the ranking's first 30 (issue 23's no-LLM target:
  ≥ 0.55 with feedback);
- hindsight send share: the smallest share of the day's candidates, taken from the top of the
  ranking, that holds 95% of its relevance-≥7 papers. A cut can only match it by knowing the day's
  answers; issue 23's LLM target asks ≤ 0.60 at 95%. Prompt tokens per candidate follow from it
  (`--tokens-per-paper`, what one sent paper costs; 277 on the replayed days, bench/learning.md's
  audit days, which send every candidate);
- the product's own cut on that ranking (relevance ≥ 2): share sent and share of ≥7 reaching it.

Models: `criteria` (topic match, no history), `ridge` (the product's history model,
ranking/learn.py: a ridge regression on the 1–10 relevance) and `logistic` (tried: a balanced
logistic regression on "relevance ≥ 7 or not", same features, same blend and cut rule).

Measured (last 10 days; recall@30, hindsight send share for 95%, its prompt tokens per candidate):
  spatial-intelligence-embodied  criteria 0.37 0.84 234 · ridge 0.55 0.67 186 · logistic 0.56 0.62 173
  vision-language-seven-topics   criteria 0.39 0.82 227 · ridge 0.52 0.70 194 · logistic 0.55 0.68 190
Every target of issue 23 on these readers is at or past this bound: no LLM, recall ≥ 0.55 with the
reader's votes on a third of each digest, where every label of every earlier day gives 0.55-0.56;
with an LLM, ≤ 0.60 sent at 95% reach and ≤ 150 prompt tokens per candidate, where even a cut that
knew each day's answers needs 0.62-0.70 of the candidates (173-194 tokens). The logistic model is a
little better in hindsight but not through the product's cut: in bench/learning.py its cut at the
15% quantile sent 0.71 / 0.67 of the broad readers' candidates with 0.98 / 0.95 reaching the LLM
(vision-language just under 0.95 without feedback, and the narrow reader sent 0.40 instead of 0.35);
at 12% it sent 0.76 / 0.72 with 0.99 / 0.96, where the ridge at 10% sends 0.76 / 0.72 with 0.98 /
0.97. So the product keeps the ridge.

    .venv/bin/python bench/frontier.py                 # the two broad readers, three models
    .venv/bin/python bench/frontier.py --reader vision-language-seven-topics --model logistic

Deterministic. Time: ~1.5 s a day for each history model on 2 CPUs (the cross-validated fit over 2,000
judged papers).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from unittest import mock

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]  # noqa: E402
from sklearn.model_selection import StratifiedKFold, cross_val_predict  # type: ignore[import-untyped]  # noqa: E402
from train_days import BROAD, DEFAULT_TRAIN, load_reader  # noqa: E402

from newsletter.daily.selection import in_categories  # noqa: E402
from newsletter.models import Paper  # noqa: E402
from newsletter.ranking import learn, local  # noqa: E402
from newsletter.ranking.local import LocalRanker  # noqa: E402

MODELS = ("criteria", "ridge", "logistic")
RELEVANT_AT = 7
REACH = 0.95
TOP = 30
MEASURED_DAYS = 10
TOKENS_PER_SENT_PAPER = 277


def logistic_taste(judged: Sequence[Paper], labels: np.ndarray, judged_matches: np.ndarray,
                   today: Sequence[Paper], today_matches: np.ndarray) -> learn.LearnedTaste:
    """The alternative measured here: log-odds of "relevance ≥ 7" (≥ 5 while there are fewer than
    ten of those), a class-balanced logistic regression on the history model's own features."""
    train, test = learn.taste_features(judged, judged_matches, today, today_matches)
    relevant = (labels >= 7) if (labels >= 7).sum() >= 10 else (labels >= 5)
    model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=3000)
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    return learn.LearnedTaste(
        today=np.asarray(model.fit(train, relevant).decision_function(test), dtype=float),
        held_out=np.asarray(cross_val_predict(model, train, relevant, cv=folds, method="decision_function"),
                            dtype=float),
        labels=labels,
        shares=tuple(float(np.mean(labels >= level)) for level in range(2, 11)),
    )


def day_figures(ranked: Sequence[tuple[str, int]],
                labels: dict[str, int]) -> tuple[float, float, float, float]:
    """(recall@30, hindsight send share, cut's send share, cut's reach) of one ranked day;
    `ranked` is (arxiv id, local relevance) best first."""
    relevant = np.array([labels.get(i, 1) >= RELEVANT_AT for i, _ in ranked])
    sent = np.array([relevance >= 2 for _, relevance in ranked])
    found = np.cumsum(relevant)
    needed = int(np.searchsorted(found, np.ceil(REACH * relevant.sum()))) + 1
    return (float(relevant[:TOP].sum() / relevant.sum()), needed / len(ranked),
            float(sent.mean()), float((sent & relevant).sum() / relevant.sum()))


def reader_figures(name: str, model: str, train: Path) -> np.ndarray:
    reader = load_reader(name, train)
    days = [(tuple(p for p in d.papers if in_categories(p, reader.categories)),
             {i: j.relevance for i, j in d.judged.items()}) for d in reader.days]
    rows = []
    for index in range(len(days) - MEASURED_DAYS, len(days)):
        papers, labels = days[index]
        if not any(labels.get(p.arxiv_id, 1) >= RELEVANT_AT for p in papers):
            continue
        history = [(p, seen.get(p.arxiv_id, 1)) for earlier, seen in reversed(days[:index]) for p in earlier]
        scores = LocalRanker().rank(reader.criteria, papers, history if model != "criteria" else ())
        rows.append(day_figures([(s.arxiv_id, s.relevance) for s in scores], labels))
    return np.array(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reader", action="append", help="a MANIFEST reader (default: the broad ones)")
    parser.add_argument("--model", action="append", choices=MODELS, help="default: all three")
    parser.add_argument("--tokens-per-paper", type=float, default=TOKENS_PER_SENT_PAPER)
    parser.add_argument("--train", type=Path, default=DEFAULT_TRAIN)
    args = parser.parse_args()
    print(f"Last {MEASURED_DAYS} days; history = every earlier candidate with its recorded label.")
    print("| reader | model | recall@30 | hindsight send for 95% | → tokens / candidate"
          " | cut: sent | cut: reach |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name in args.reader or sorted(BROAD):
        for model in args.model or MODELS:
            fit: Callable[..., learn.LearnedTaste] = (
                logistic_taste if model == "logistic" else learn.fit_taste)
            with mock.patch.object(local, "fit_taste", fit):
                figures = reader_figures(name, model, args.train).mean(axis=0)
            recall, hindsight, sent, reach = figures
            tokens = hindsight * args.tokens_per_paper
            print(f"| {name} | {model} | {recall:.2f} | {hindsight:.2f} | {tokens:.0f}"
                  f" | {sent:.2f} | {reach:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
