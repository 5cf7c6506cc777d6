"""Write the bundled sample announcement: the real arXiv day 2025-08-28 as announcement feeds.

    python examples/make_sample_feed.py            # writes examples/arxiv/cs.AI+cs.CV and cs.CV
    NEWSLETTER_ARXIV_FEED_URL=examples/arxiv newsletter run --date 2025-08-28   # works offline

The day comes from arXiv's /new listings (tests/data/arxiv/2025-08-28.jsonl.gz), which lack the
announce type and primary category: the first category is taken as primary, and a paper is "new"
where its primary category was requested, a cross-list elsewhere. Every paper is version 1 and no
license is given (the listing has none). The Atom writer is the one the test fake uses.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes.atom import day_feed, load_day  # noqa: E402

DAY = dt.date(2025, 8, 28)
FEEDS = (("cs.AI", "cs.CV"), ("cs.CV",))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "examples" / "arxiv")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    papers = load_day(DAY)
    for categories in FEEDS:
        target = args.out / "+".join(categories)
        body = day_feed(categories, DAY, papers)
        partial = target.with_name(target.name + ".partial")
        partial.write_bytes(body)
        partial.replace(target)  # never leave a half-written feed behind
        print(f"wrote {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}"
              f" ({body.count(b'<entry>')} entries, {len(body) // 1024} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
