"""Render benchmark: median time of a real 30-paper digest (Markdown + HTML) and its HTML size.

    .venv/bin/python bench/render.py [--runs 200]

Targets (issue 5): ≤ 10 ms per digest, ≤ 90 KB of HTML (Gmail clips at ~102 KB).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.fakes.render_data

from newsletter.render import render_digest
from newsletter.render.html import render_html
from tests.fakes.render_data import REPLY_TO, UNSUBSCRIBE_URL, thirty_paper_digest, vote_links


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()

    digest = thirty_paper_digest()
    votes = vote_links(digest)  # every sent digest has its "more/less like this" links
    render_digest(digest, unsubscribe_url=UNSUBSCRIBE_URL, reply_to=REPLY_TO, vote_urls=votes)  # warm caches
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        rendered = render_digest(digest, unsubscribe_url=UNSUBSCRIBE_URL, reply_to=REPLY_TO, vote_urls=votes)
        times.append(time.perf_counter() - start)
    median_ms = statistics.median(times) * 1000
    size = len(rendered.html.encode("utf-8"))
    full = render_html(
        digest,
        subject=rendered.subject,
        unsubscribe_url=UNSUBSCRIBE_URL,
        reply_to=REPLY_TO,
        vote_urls=votes,
        budget=10**9,
    )
    cut = rendered.html.count("read&nbsp;more")
    print(f"papers: {len(digest.entries)}  runs: {args.runs}")
    print(f"median render (Markdown + HTML + subject): {median_ms:.2f} ms  (target ≤ 10 ms)")
    print(f"p90 render: {statistics.quantiles(times, n=10)[-1] * 1000:.2f} ms")
    print(f"HTML size: {size:,} bytes = {size / 1024:.1f} KiB  (target ≤ 90 KB; Gmail clips ~102 KB)")
    print(
        f"HTML with every abstract whole: {len(full.encode('utf-8')):,} bytes; "
        f"abstracts shortened to fit: {cut} of {len(digest.entries)}"
    )
    print(f"Markdown size: {len(rendered.markdown.encode('utf-8')):,} bytes (abstracts never shortened)")
    ok = median_ms <= 10 and size <= 90_000
    print("OK" if ok else "OVER TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
