"""Retention: the state a year of announcement days leaves, and what a prune gives back.

    .venv/bin/python bench/retention.py [--papers 400] [--readers 10] [--criteria 3] [--keep 90]

In a temporary folder, simulates every arXiv announcement day of 2025 through the real storage
code: `papers` papers a day (the reference days' real titles, authors and abstracts, under new
ids), the LLM scores of a fifth of them per criteria text (with a real-length comment), two runs
a day with their per-reader summary, and each reader's digest of 20 papers (the delivery row, its
`delivered_papers`, and an outbox file of 160 KB, written sparse: apparent size only). Then:
1. the year unpruned: state.db size and outbox size;
2. `newsletter.db.retention.prune` keeping `keep` days (the rows, in batches of days) and the
   dated outbox folders: its time, the file size after it (SQLite keeps the freed pages) and
   how much of the file is free pages;
3. VACUUM: its time and the file size after it;
4. the same year again with the service's daily prune (no VACUUM): the size it settles at.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newsletter.db import Database, delivery_transitions, retention  # noqa: E402
from newsletter.db import runs as run_log  # noqa: E402
from newsletter.db.papers import save_day  # noqa: E402
from newsletter.db.scores import DatabaseScoreCache  # noqa: E402
from newsletter.fetch.calendar import is_announcement_date  # noqa: E402
from newsletter.files import remove_dated_folders  # noqa: E402
from newsletter.models import AnnouncementDay, Paper, Score  # noqa: E402
from tests.fakes.atom import REFERENCE_DAYS, load_day  # noqa: E402

YEAR = 2025
COMMENT = ("Directly on topic 2 (open-vocabulary segmentation): a new decoder that transfers to"
           " unseen classes, with strong results on ADE20K; the novelty is moderate, as the"
           " architecture follows Mask2Former closely.")
DIGEST_PAPERS = 20
OUTBOX_BYTES = 160 * 1024


def reference_papers() -> list[Paper]:
    return [Paper(p.arxiv_id, p.title, p.authors, p.abstract, p.categories, comment=p.comment)
            for day in REFERENCE_DAYS for p in load_day(day)]


def announcement_days() -> list[dt.date]:
    first = dt.date(YEAR, 1, 1)
    days = (first + dt.timedelta(days=n) for n in range(366))
    return [d for d in days if d.year == YEAR and is_announcement_date(d)]


def simulate_day(db: Database, folder: Path, day: dt.date, number: int, args: argparse.Namespace,
                 pool: list[Paper]) -> None:
    at = dt.datetime.combine(day, dt.time(6), tzinfo=dt.UTC)
    papers = tuple(replace(pool[(number * args.papers + n) % len(pool)],
                           arxiv_id=f"{day:%y%m}.{day:%d}{n:03d}") for n in range(args.papers))
    save_day(db, AnnouncementDay(day, ("cs.AI", "cs.CV"), papers), source="bench", now=at)
    cache = DatabaseScoreCache(db)
    judged = papers[: args.papers // 5]
    for c in range(args.criteria):
        cache.put_many("openai/gpt-4o-mini|v3", f"criteria {c}", judged,
                       {p.arxiv_id: Score(p.arxiv_id, 6, 5, COMMENT, "llm") for p in judged})
    summary = {"readers": {f"reader{r:03d}@example.org": {"papers": DIGEST_PAPERS, "cost_usd": 0.0012}
                           for r in range(args.readers)},
               "criteria": {f"criteria {c}": {"calls": 8, "cost_usd": 0.004} for c in range(args.criteria)}}
    kinds: tuple[run_log.RunKind, ...] = ("prepare", "run")
    for kind in kinds:
        record = run_log.start_run(db, run_log.RunRecord(kind=kind, started_at=at, digest_date=day))
        run_log.finish_run(db, replace(record, status="ok", summary=summary), at)
    for r in range(args.readers):
        email = f"reader{r:03d}@example.org"
        ids = tuple(p.arxiv_id for p in papers[r : r + DIGEST_PAPERS])
        delivery_transitions.begin(db, email, day, paper_ids=ids, message_id=f"<{day}.{r}@bench>", now=at)
        delivery_transitions.mark_sent(db, email, day, provider_id=None, now=at)
        eml = folder / "outbox" / day.isoformat() / f"{email}.eml"
        eml.parent.mkdir(parents=True, exist_ok=True)
        with eml.open("wb") as handle:
            handle.truncate(OUTBOX_BYTES)  # sparse: the apparent size of a digest, no disk used


def megabytes(path: Path) -> float:
    return path.stat().st_size / 1e6


def outbox_megabytes(folder: Path) -> float:
    return sum(p.stat().st_size for p in (folder / "outbox").rglob("*.eml")) / 1e6


def free_megabytes(db: Database) -> float:
    return retention.free_bytes(db) / 1e6


def run(args: argparse.Namespace, folder: Path, *, daily_prune: bool) -> Database:
    db = Database.open(folder / "state.db")
    pool = reference_papers()
    for number, day in enumerate(announcement_days()):
        simulate_day(db, folder, day, number, args, pool)
        if daily_prune:
            before = day - dt.timedelta(days=args.keep)
            retention.prune(db, before)
            remove_dated_folders(folder / "outbox", before)
    retention.checkpoint(db)
    return db


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--papers", type=int, default=400, help="papers per announcement day")
    parser.add_argument("--readers", type=int, default=10)
    parser.add_argument("--criteria", type=int, default=3, help="distinct criteria texts")
    parser.add_argument("--keep", type=int, default=90, help="retention in days")
    args = parser.parse_args()
    days = announcement_days()
    print(f"{len(days)} announcement days of {YEAR}, {args.papers} papers a day, {args.readers} readers,"
          f" {args.criteria} criteria texts; keeping {args.keep} days")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "year"
        started = time.perf_counter()
        db = run(args, folder, daily_prune=False)
        path = folder / "state.db"
        print(f"a year, nothing pruned:  state.db {megabytes(path):7.1f} MB,"
              f" outbox {outbox_megabytes(folder):7.1f} MB"
              f"  (simulated in {time.perf_counter() - started:.0f} s)")
        before = days[-1] - dt.timedelta(days=args.keep)
        started = time.perf_counter()
        counts = retention.prune(db, before)
        folders = remove_dated_folders(folder / "outbox", before)
        took = time.perf_counter() - started
        retention.checkpoint(db)
        print(f"prune before {before}: {counts.days} days, {counts.papers} papers, {counts.scores} scores,"
              f" {counts.runs} runs, {len(folders)} outbox folders in {took:.2f} s")
        print(f"after the prune:         state.db {megabytes(path):7.1f} MB"
              f" ({free_megabytes(db):.1f} MB of it free pages), outbox {outbox_megabytes(folder):7.1f} MB")
        started = time.perf_counter()
        retention.vacuum(db)
        print(f"after VACUUM:            state.db {megabytes(path):7.1f} MB  (VACUUM took"
              f" {time.perf_counter() - started:.2f} s)")
        db.close()
        steady = Path(tmp) / "steady"
        db = run(args, steady, daily_prune=True)
        print(f"a year, pruned daily:    state.db {megabytes(steady / 'state.db'):7.1f} MB"
              f" ({free_megabytes(db):.1f} MB of it free pages), outbox {outbox_megabytes(steady):7.1f} MB"
              "  (the service's way: no VACUUM)")
        db.close()


if __name__ == "__main__":
    main()
