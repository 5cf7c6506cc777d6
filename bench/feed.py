"""The private feed at its largest: a reader with a digest of `papers` papers on each of 30 days.

    PYTHONPATH=. .venv/bin/python bench/feed.py [--papers 30] [--readers 100] [--requests 200]

Stores 30 days of digests for `readers` readers (the real papers of the thirty-paper digest in
tests/fakes/render_data.py, as digest_stage stores them) in a real SQLite state database, then
GETs one reader's feed through the app (starlette's TestClient) `requests` times, half of them
conditional (answered 304). Prints the document's size, the median and 95th percentile of a full
answer and of a 304, and checks the document parses with every entry (feedparser).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

import feedparser
from starlette.testclient import TestClient

from newsletter.daily.stages import feed_entries
from newsletter.db import Database, delivery_transitions, subscribers
from newsletter.db import feed as feed_store
from newsletter.mail.compose import feed_url
from newsletter.models import Digest, DigestEntry
from newsletter.settings import load_settings
from newsletter.web.app import create_app
from tests.fakes.render_data import thirty_paper_digest

NOW = dt.datetime(2025, 8, 28, 12, tzinfo=dt.UTC)


def fill(db: Database, readers: int, papers: int) -> None:
    sample = thirty_paper_digest()  # real papers and scores
    pool, subscriber = sample.entries, sample.subscriber
    for age in range(30):
        day = NOW.date() - dt.timedelta(days=age)
        at = dt.datetime.combine(day, dt.time(7), tzinfo=dt.UTC)
        for n in range(readers):
            entries: tuple[DigestEntry, ...] = tuple(
                pool[(n * 7 + age * 13 + i) % len(pool)] for i in range(papers))
            email = f"r{n}@example.org"
            feed_store.record(db, email, day, feed_entries(Digest(subscriber, day, entries)))
            delivery_transitions.begin(db, email, day, paper_ids=tuple(e.paper.arxiv_id for e in entries),
                                       message_id="<m>", now=at)
            delivery_transitions.mark_sent(db, email, day, provider_id="p", now=at)


def timed(client: TestClient, path: str, headers: dict[str, str], status: int) -> float:
    start = time.perf_counter()
    response = client.get(path, headers=headers)
    elapsed = time.perf_counter() - start
    assert response.status_code == status, response.status_code
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--papers", type=int, default=30)
    parser.add_argument("--readers", type=int, default=100)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        settings = load_settings(public_url="https://digest.example.org", data_dir=Path(folder))
        db = Database.open(Path(folder) / "state.db")
        start = time.perf_counter()
        fill(db, args.readers, args.papers)
        print(f"stored {args.readers} readers x 30 digests x {args.papers} papers"
              f" in {time.perf_counter() - start:.1f} s")
        path = feed_url(subscribers.token_for(db, "r0@example.org", NOW), settings)
        path = path.removeprefix(settings.public_url)
        with TestClient(create_app(settings, db, clock=lambda: NOW)) as client:
            first = client.get(path)
            feed = feedparser.parse(first.content)
            assert not feed.bozo
            assert len(feed.entries) == 30 * args.papers, len(feed.entries)
            etag = first.headers["etag"]
            full = [timed(client, path, {}, 200) for _ in range(args.requests // 2)]
            cached = [timed(client, path, {"If-None-Match": etag}, 304) for _ in range(args.requests // 2)]
        db.close()
    for name, times in (("full 200", full), ("conditional 304", cached)):
        ms = sorted(t * 1000 for t in times)
        print(f"{name}: median {statistics.median(ms):.1f} ms, p95 {ms[int(len(ms) * 0.95) - 1]:.1f} ms")
    print(f"document: {len(first.content) / 1024:.0f} KiB, {len(feed.entries)} entries, parses cleanly")


if __name__ == "__main__":
    main()
