"""Fetch + parse + store a 2,000-entry announcement feed from the local fake arXiv.

    .venv/bin/python bench/fetch.py [--entries 2000] [--repeat 5]

The feed is built from the three real reference days (cycled, with fresh ids, to reach the size),
served over loopback HTTP by tests/fakes/arxiv_server.py, fetched through ArxivSource (real
requests + lxml) and stored with newsletter.db.papers.save_day in a fresh SQLite database.
Prints the median wall time of the whole step and, from a separate traced run, the peak Python
heap (tracemalloc) and the process's peak RSS. Target: ≤ 1 s and ≤ 100 MB.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newsletter.db import Database  # noqa: E402
from newsletter.db.papers import load_day as load_stored_day  # noqa: E402
from newsletter.db.papers import save_day  # noqa: E402
from newsletter.fetch import ArxivSource  # noqa: E402
from tests.fakes.arxiv_server import FakeArxiv, Reply  # noqa: E402
from tests.fakes.atom import REFERENCE_DAYS, RefPaper, day_feed, load_day  # noqa: E402

DAY = dt.date(2025, 8, 28)
NOW = dt.datetime(2025, 8, 28, 12, 0, tzinfo=dt.UTC)
CATEGORIES = ("cs.AI", "cs.CL", "cs.CV", "cs.GR", "cs.LG", "cs.RO")


def big_day(entries: int) -> list[RefPaper]:
    pool = [p for day in REFERENCE_DAYS for p in load_day(day)]
    return [
        dataclasses.replace(
            pool[i % len(pool)],
            arxiv_id=f"2508.{10000 + i:05d}",
            license="http://creativecommons.org/licenses/by/4.0/",
        )
        for i in range(entries)
    ]


def one_run(fake: FakeArxiv, body: bytes, folder: Path, n: int) -> tuple[float, float, int]:
    fake.script("feed", Reply.xml(body))
    db = Database.open(folder / f"state-{n}.db")
    try:
        started = time.perf_counter()
        with ArxivSource(fake.feed_url, fake.api_url, timeout=30) as source:
            day = source.fetch_day(CATEGORIES, want=DAY, now=NOW)
        fetched = time.perf_counter() - started
        save_day(db, day, source="feed", now=NOW)
        elapsed = time.perf_counter() - started
        stored = load_stored_day(db, DAY, CATEGORIES)
        if stored is None or len(stored.papers) != len(day.papers):
            raise SystemExit(f"stored day does not match the fetched one (run {n})")
        return elapsed, fetched, len(day.papers)
    finally:
        db.close()


def main() -> int:
    parser = argparse.ArgumentParser(description="fetch + parse + store benchmark")
    parser.add_argument("--entries", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    body = day_feed(CATEGORIES, DAY, big_day(args.entries))
    with FakeArxiv.running() as fake, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        one_run(fake, body, folder, 0)  # warm-up: imports, first connection
        times, fetch_times = [], []
        for n in range(1, args.repeat + 1):
            elapsed, fetched, papers = one_run(fake, body, folder, n)
            times.append(elapsed)
            fetch_times.append(fetched)
        tracemalloc.start()
        one_run(fake, body, folder, 99)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"feed: {args.entries} entries, {len(body) / 1e6:.1f} MB; kept {papers} papers")
    print(
        f"fetch+parse+store: median {statistics.median(times):.3f} s,"
        f" min {min(times):.3f} s, max {max(times):.3f} s over {args.repeat} runs"
        f" (of which fetch+parse: median {statistics.median(fetch_times):.3f} s)"
    )
    print(f"peak Python heap during one run (tracemalloc): {peak / 1e6:.1f} MB")
    print(f"peak RSS of the whole process (fake server included): {rss_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
