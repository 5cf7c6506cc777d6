"""Delivery at scale: N rendered digests through the real SendGrid transport and the sender pool.

    .venv/bin/python bench/deliver.py [--count 1000] [--latency 0.002] [--concurrency 4] [--papers 20]
                                      [--mode streamed|prepared|both]

Renders `count` real digests (papers of a real announcement day, a different window of them per
reader) and delivers them with `newsletter.daily.send.deliver_all` over `SendGridTransport` to the
loopback fake SendGrid (in its own process) answering after `latency` seconds, with a real SQLite
state database. Two ways to hand over the digests, each measured in a fresh process:
- streamed: a generator renders each digest when a sender is free (memory: a few digests);
- prepared: all rendered first and held in a list (memory: every digest at once).
Prints sends per second and the peak memory of the sending process, and checks with the fake that
every reader got exactly one message. Target: ≥ 200 sends/s and ≤ 200 MB.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newsletter.daily.send import ComposedDigest, deliver_all  # noqa: E402
from newsletter.db import Database, deliveries  # noqa: E402
from newsletter.mail.compose import compose  # noqa: E402
from newsletter.mail.sendgrid import SendGridTransport  # noqa: E402
from newsletter.models import Digest, DigestEntry, Paper, Score, Subscriber  # noqa: E402
from newsletter.render import render_digest  # noqa: E402
from newsletter.settings import load_settings  # noqa: E402
from tests.fakes.atom import load_day  # noqa: E402

DAY = dt.date(2025, 8, 28)
NOW = dt.datetime(2025, 8, 28, 11, 0, tzinfo=dt.UTC)
CRITERIA = (
    "Papers on 3D reconstruction, novel view synthesis and spatial intelligence of "
    "multimodal models.\n\nNot relevant: pure NLP benchmarks."
)


def peak_rss_mb() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_papers() -> list[Paper]:
    return [
        Paper(p.arxiv_id, p.title, p.authors, p.abstract, p.categories, comment=p.comment)
        for p in load_day(DAY)
    ]


def make_jobs(count: int, per_digest: int, settings_host: str, api_key: str) -> Iterator[ComposedDigest]:
    """Render and compose each reader's digest, one at a time (a generator)."""
    settings = load_settings(
        SENDGRID_API_KEY=api_key,
        sendgrid_host=settings_host,
        from_email="digest@lab.example",
        reply_domain="reply.lab.example",
        public_url="https://digest.lab.example",
    )
    papers = load_papers()
    for number in range(count):
        email = f"reader{number:05d}@example.org"
        subscriber = Subscriber(email=email, criteria=CRITERIA, criteria_path=Path("criteria.md"))
        start = (number * 7) % max(1, len(papers) - per_digest)
        chosen = papers[start : start + per_digest]
        entries = tuple(
            DigestEntry(
                p,
                Score(
                    p.arxiv_id,
                    relevance=10 - i % 5,
                    novelty=3 + i % 6,
                    comment="Matches the reader's interest in 3D reconstruction.",
                ),
            )
            for i, p in enumerate(chosen)
        )
        token = f"{number:032d}"
        rendered = render_digest(
            Digest(subscriber, DAY, entries),
            unsubscribe_url=f"{settings.public_url}/unsubscribe/{token}",
            reply_to=f"u-{token}@{settings.reply_domain}",
        )
        outgoing = compose(
            rendered,
            to=email,
            token=token,
            settings=settings,
            now=NOW,
            digest_id=deliveries.digest_id_for(email, DAY),
        )
        yield ComposedDigest(email=outgoing, digest_date=DAY, paper_ids=tuple(p.arxiv_id for p in chosen))


@contextlib.contextmanager
def fake_sendgrid(latency: float) -> Iterator[tuple[str, str]]:
    """The fake in its own process, so its bookkeeping does not count in our memory or GIL."""
    command = [sys.executable, "-m", "tests.fakes.sendgrid_server", "--latency", str(latency)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        info = json.loads(process.stdout.readline())
        yield info["url"], info["api_key"]
    finally:
        process.terminate()
        process.wait(timeout=10)


def run(args: argparse.Namespace) -> int:
    with fake_sendgrid(args.latency) as (url, api_key), tempfile.TemporaryDirectory() as folder:
        db = Database.open(Path(folder) / "state.db")
        transport = SendGridTransport(api_key, host=url, timeout=10)
        render_time = 0.0
        jobs: Iterable[ComposedDigest]
        if args.mode == "prepared":
            # What a caller that renders everything first holds: every digest at once.
            started = time.perf_counter()
            jobs = list(make_jobs(args.count, args.papers, url, api_key))
            render_time = time.perf_counter() - started
        else:
            jobs = make_jobs(args.count, args.papers, url, api_key)  # rendered as senders ask
        started = time.perf_counter()
        report = deliver_all(
            jobs, db=db, transport=transport, clock=lambda: NOW, concurrency=args.concurrency
        )
        elapsed = time.perf_counter() - started
        with urllib.request.urlopen(f"{url}/_fake/stats", timeout=10) as answer:
            stats = json.load(answer)
        statuses = {d.status for d in deliveries.for_date(db, DAY).values()}
        db.close()

    accepted = stats["accepted"]
    once = len(accepted) == args.count and set(accepted.values()) == {1}
    rate = len(report.sent) / elapsed if elapsed else float("inf")
    what = (
        f"delivery only; rendering took {render_time:.1f} s before"
        if args.mode == "prepared"
        else "rendering included"
    )
    print(
        f"[{args.mode}] {len(report.sent)}/{args.count} digests of {args.papers} papers sent in"
        f" {elapsed:.2f} s with {args.concurrency} senders at {args.latency * 1000:.0f} ms latency:"
        f" {rate:.0f} sends/s ({what}); at most {stats['max_in_flight']} requests in flight"
    )
    print(f"[{args.mode}] peak memory (max RSS of the sending process): {peak_rss_mb():.0f} MB")
    print(
        f"[{args.mode}] each reader exactly once: {once}; delivery states: {sorted(statuses)};"
        f" failed: {len(report.failed)}"
    )
    return 0 if once and not report.failed and statuses == {"sent"} else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.002)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--papers", type=int, default=20, help="papers per digest")
    parser.add_argument(
        "--mode",
        choices=["streamed", "prepared", "both"],
        default="both",
        help="streamed: render each digest when a sender is free; prepared: all first",
    )
    args = parser.parse_args()
    if args.mode != "both":
        return run(args)
    status = 0
    for mode in ("streamed", "prepared"):  # each in a fresh process: peak memory is per process
        argv = [a for a in sys.argv[1:] if not a.startswith("--mode")]
        status |= subprocess.run([sys.executable, __file__, *argv, "--mode", mode], check=False).returncode
    return status


if __name__ == "__main__":
    raise SystemExit(main())
