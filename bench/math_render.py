"""Math rendering on real days: every LaTeX span of every title, abstract and comment, counted.

    .venv/bin/python bench/math_render.py [--days DIR ...] [--show improved|unchanged|damaged]

Reads arXiv day files (`*.jsonl.gz`, one paper a line) from ../shared/reference (the reference days
and the training days) or from tests/data/arxiv when the shared folder is not there. Prints spans
found, improved (converted), damaged (converted but lost a letter, digit or argument: a defect,
must be 0) and unchanged (nothing to do, or refused because converting would lose something).
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import sys
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from newsletter.render.math import convert_span, damaged, find_spans
from newsletter.render.text import one_line

ROOT = Path(__file__).resolve().parent.parent
# ../shared/reference beside the checkout (or a worktree's checkout one level further down).
SHARED = next((p / "shared/reference" for p in ROOT.parents if (p / "shared/reference").is_dir()), ROOT)
DEFAULT_DAYS = (SHARED / "arxiv" / "days", SHARED / "train" / "days")
FALLBACK_DAYS = (ROOT / "tests" / "data" / "arxiv",)
FIELDS = ("title", "summary", "comment")


def texts(folders: tuple[Path, ...]) -> Iterator[str]:
    """Each field of each distinct paper, as the view model sees it (one line)."""
    seen: set[str] = set()
    for folder in folders:
        for path in sorted(folder.glob("*.jsonl.gz")):
            with gzip.open(path, "rt", encoding="utf-8") as lines:
                for line in lines:
                    record = json.loads(line)
                    if record["id"] in seen:
                        continue
                    seen.add(record["id"])
                    for field in FIELDS:
                        if record.get(field):
                            yield one_line(record[field])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=Path, nargs="*", help="folders of *.jsonl.gz day files")
    parser.add_argument("--show", choices=("improved", "unchanged", "damaged"), help="list those spans")
    args = parser.parse_args()
    folders = tuple(args.days) if args.days else tuple(p for p in DEFAULT_DAYS if p.is_dir())
    folders = folders or FALLBACK_DAYS

    counts: collections.Counter[str] = collections.Counter()
    shown: list[str] = []
    fields = 0
    for text in texts(folders):
        fields += 1
        for match, kind in find_spans(text):
            span = match.group(0)
            out = convert_span(span, kind)
            verdict = "unchanged" if out == span else "damaged" if damaged(span, out) else "improved"
            counts[verdict] += 1
            counts[f"{kind} {verdict}"] += 1
            if verdict == args.show:
                shown.append(f"{span}  →  {out}")

    print(f"days from: {', '.join(str(f) for f in folders)}")
    print(f"fields read (titles, abstracts, comments of distinct papers): {fields}")
    total = counts["improved"] + counts["damaged"] + counts["unchanged"]
    print(f"spans found: {total}")
    for kind in ("math", "escape"):
        found = sum(counts[f"{kind} {v}"] for v in ("improved", "damaged", "unchanged"))
        line = ", ".join(f"{v} {counts[f'{kind} {v}']}" for v in ("improved", "damaged", "unchanged"))
        print(f"  {kind:6} spans: {found} ({line})")
    print(f"improved: {counts['improved']}")
    print(f"damaged: {counts['damaged']}")
    print(f"unchanged: {counts['unchanged']}")
    for row in shown:
        print(" ", row)
    return 1 if counts["damaged"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
