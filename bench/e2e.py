"""A whole daily cycle at scale: N subscribers over M = N/20 distinct criteria, fakes for everything.

    .venv/bin/python bench/e2e.py [--sizes 10,100,1000,10000] [--llm-latency 0.3]
                                  [--sendgrid-latency 0.005] [--day 2025-07-15] [--out bench/results/e2e]
                                  [--channels 200]

For each N, in a fresh pair of processes:
- a *fakes* process (`--serve-fakes`) runs the loopback fake arXiv replaying a real reference day,
  the fake OpenAI-compatible LLM (every answer delayed by `--llm-latency`) and the fake SendGrid
  (`--sendgrid-latency`), so their bookkeeping costs neither our memory nor our GIL;
- a *run* process (`--one N`) writes a roster of N readers over M criteria files (the three real
  criteria texts of ../shared/reference/criteria and variations of them: topics reordered, a subset
  of topics, another closing note), builds the real adapters with `build_adapters` from settings
  pointed at the fakes (litellm → fake LLM as `openai/gpt-4o-mini`, so litellm prices the tokens;
  the sendgrid package → fake SendGrid) and runs `run_daily` once for the day, on a fresh database.

Measured in the run process: wall time of `run_daily` (and of its stages, from its progress hook),
LLM calls and tokens (the run's own accounting, cross-checked with the requests the fake LLM saw),
emails sent (cross-checked: the fake SendGrid accepted exactly one per reader), and peak memory =
`ru_maxrss` of the run process (the whole process, interpreter and libraries included; the fakes
are in the other process and do not count). Prints a Markdown table and writes it to
`<out>.md` and `<out>.json`.

With `--channels K`, the run then posts the day to K chat channels (`channels.csv`, one in ten a
lab view `*`, the others on the readers' criteria texts and categories) through `run_channels`
and the real apprise, as json:// webhooks to the loopback fake chat server in the fakes process:
measured are the channels' wall time against the readers' run (the target: at most 5 % more) and
the LLM requests the fake saw beyond the readers' run (the target: none).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from newsletter.files import atomic_write_text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CRITERIA_DIR = ROOT / "tests" / "data" / "criteria"  # copies of ../shared/reference/criteria
CATEGORY_SETS = ("cs.CV", "cs.CV;cs.AI", "cs.CV;cs.CL", "cs.AI;cs.CL;cs.CV")
CLOSINGS = (
    "Please favour papers with released code and clear ablations.",
    "I read these on my phone in the morning: prefer papers with one clear idea.",
    "Surprising negative results are welcome too.",
    "Benchmarks matter less to me than new methods.",
    "Skip incremental dataset papers unless the data is truly new.",
    "I like theory, but only with experiments that back it up.",
    "Industrial-scale systems papers are interesting when they report what failed.",
    "Please include strong survey papers in these areas.",
)


# --- the workload ----------------------------------------------------------------------------


def _units(text: str) -> tuple[list[str], str]:
    """A criteria text as (topics, closing note): paragraphs, or lines when it is one list."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    closing = paragraphs.pop() if len(paragraphs) > 1 else ""
    if len(paragraphs) == 1:
        paragraphs = [line.strip() for line in paragraphs[0].splitlines() if line.strip()]
    if len(paragraphs) >= 4 and not re.match(r"^\d", paragraphs[0]):
        # "Title\n\nRelevant: …\n\nNot relevant: …" blocks: keep each topic's three parts together.
        grouped: list[str] = []
        current: list[str] = []
        for part in paragraphs:
            if current and not part.startswith(("Relevant", "Not relevant")):
                grouped.append("\n\n".join(current))
                current = []
            current.append(part)
        paragraphs = grouped + (["\n\n".join(current)] if current else [])
    return paragraphs, closing


def criteria_variants(count: int, seed: int = 20250715) -> list[str]:
    """`count` distinct criteria texts: the three real ones first, then variations of them."""
    bases = [p.read_text(encoding="utf-8") for p in sorted(CRITERIA_DIR.glob("*.md"))]
    texts = list(bases[:count])
    seen = set(texts)
    rng = random.Random(seed)
    while len(texts) < count:
        topics, closing = _units(bases[len(texts) % len(bases)])
        keep = rng.randint(max(1, len(topics) - 2), len(topics))
        chosen = rng.sample(topics, keep)  # a subset, in a new order
        note = rng.choice((closing, *CLOSINGS)) if closing else rng.choice(CLOSINGS)
        text = "\n\n".join([*chosen, note]) + "\n"
        if text not in seen:
            seen.add(text)
            texts.append(text)
    return texts


def write_site(folder: Path, readers: int, distinct: int) -> Path:
    """A roster of `readers` rows over `distinct` criteria files; returns the CSV's path."""
    (folder / "criteria").mkdir(parents=True)
    for number, text in enumerate(criteria_variants(distinct)):
        (folder / "criteria" / f"c{number:04d}.md").write_text(text, encoding="utf-8")
    zones = ("Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC")
    rows = ["email,name,criteria,categories,timezone,send_at,authors"]
    for number in range(readers):
        # Readers of one criteria text share its categories, as a lab's readers would.
        criteria = number % distinct
        categories = CATEGORY_SETS[criteria % len(CATEGORY_SETS)]
        rows.append(
            f"reader{number:05d}@example.org,Reader {number},criteria/c{criteria:04d}.md,"
            f'"{categories}",{zones[number % len(zones)]},07:00,'
        )
    roster = folder / "subscribers.csv"
    roster.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return roster


# --- the fakes process ------------------------------------------------------------------------


def _count_in_flight(llm: Any) -> dict[str, int]:
    """Wrap the fake LLM's answer function to record the most requests it answered at once."""
    import threading

    counts = {"now": 0, "max": 0}
    lock = threading.Lock()
    answer = llm._answer

    def counted(body: dict[str, Any]) -> Any:
        with lock:
            counts["now"] += 1
            counts["max"] = max(counts["max"], counts["now"])
        try:
            return answer(body)
        finally:
            with lock:
                counts["now"] -= 1

    llm._answer = counted
    return counts


def serve_fakes(args: argparse.Namespace) -> int:
    """Run the three fakes; print their addresses; answer `stats` lines on stdin until EOF."""
    from tests.fakes.arxiv_server import FakeArxiv
    from tests.fakes.chat_server import FakeChat
    from tests.fakes.llm_server import FakeLLM
    from tests.fakes.sendgrid_server import FakeSendGrid

    day = dt.date.fromisoformat(args.day)
    with (
        FakeArxiv.running(day) as arxiv,
        FakeLLM() as llm,
        FakeSendGrid(latency=args.sendgrid_latency, keep_bodies=False) as sendgrid,
        FakeChat() as chat,
    ):
        llm.latency = args.llm_latency
        llm_in_flight = _count_in_flight(llm)
        print(
            json.dumps(
                {
                    "feed_url": arxiv.feed_url,
                    "api_url": arxiv.api_url,
                    "llm_api_base": llm.api_base,
                    "sendgrid_url": sendgrid.url,
                    "sendgrid_key": sendgrid.api_key,
                    "chat_url": chat.url,
                }
            ),
            flush=True,
        )
        for line in sys.stdin:
            if line.strip() == "stats":
                stats = sendgrid.stats()
                accepted = stats["accepted"]
                print(
                    json.dumps(
                        {
                            "llm_requests": len(llm.requests),
                            "llm_max_in_flight": llm_in_flight["max"],
                            "arxiv_requests": len(arxiv.requests),
                            "sendgrid_requests": stats["requests"],
                            "sendgrid_recipients": len(accepted),
                            "sendgrid_max_per_recipient": max(accepted.values(), default=0),
                            "sendgrid_max_in_flight": stats["max_in_flight"],
                            "chat_posts": len(chat.accepted),
                            "chat_channels": len({r.path for r in chat.accepted}),
                        }
                    ),
                    flush=True,
                )
    return 0


# --- the run process --------------------------------------------------------------------------


def run_one(args: argparse.Namespace) -> int:
    """One daily cycle for `args.one` readers against the fakes in `args.fakes`; prints JSON."""
    fakes = json.loads(args.fakes)
    readers = args.one
    distinct = args.criteria or max(1, readers // 20)
    day = dt.date.fromisoformat(args.day)
    now = dt.datetime.combine(day, dt.time(11, 0), tzinfo=dt.UTC)  # that morning, feed is up
    with tempfile.TemporaryDirectory(prefix="e2e-") as tmp:
        folder = Path(tmp)
        roster = write_site(folder, readers, distinct)
        os.environ.update(
            {
                "NEWSLETTER_SUBSCRIBERS": str(roster),
                "NEWSLETTER_DATA_DIR": str(folder / "var"),
                "NEWSLETTER_ARXIV_FEED_URL": fakes["feed_url"],
                "NEWSLETTER_ARXIV_API_URL": fakes["api_url"],
                "NEWSLETTER_LLM_MODEL": "openai/gpt-4o-mini",
                "NEWSLETTER_LLM_API_BASE": fakes["llm_api_base"],
                "NEWSLETTER_LLM_API_KEY": "sk-bench-dummy",
                "SENDGRID_API_KEY": fakes["sendgrid_key"],
                "NEWSLETTER_SENDGRID_HOST": fakes["sendgrid_url"],
                "NEWSLETTER_FROM_EMAIL": "digest@lab.example",
                "NEWSLETTER_REPLY_DOMAIN": "reply.lab.example",
                "NEWSLETTER_PUBLIC_URL": "https://digest.lab.example",
                # Every reader gets one email: a short note on a day when nothing matched.
                "NEWSLETTER_SEND_EMPTY": "true",
            }
        )
        if args.llm_concurrency:
            os.environ["NEWSLETTER_LLM_CONCURRENCY"] = str(args.llm_concurrency)
        import litellm  # noqa: F401  (imported before the clock starts: ~2 s, once per process)

        from newsletter.daily.run import run_daily
        from newsletter.daily.wiring import build_adapters
        from newsletter.db import Database
        from newsletter.settings import load_settings

        settings = load_settings()
        db = Database.open(settings.db_path)
        stages: dict[str, float] = {}
        before = resource.getrusage(resource.RUSAGE_SELF)
        cpu_before = before.ru_utime + before.ru_stime
        started = time.perf_counter()

        def progress(stage: str, total: int) -> Any:
            stages[stage] = time.perf_counter() - started
            return lambda: None

        adapters = build_adapters(settings, db, day)
        summary = run_daily(now=now, settings=settings, db=db, adapters=adapters, date=day, progress=progress)
        wall = time.perf_counter() - started
        channels = post_channels(args.channels, folder, distinct, fakes["chat_url"], settings, db, adapters,
                                 now, day) if args.channels else {}
        usage_after = resource.getrusage(resource.RUSAGE_SELF)
        peak_mb = usage_after.ru_maxrss / 1024  # KiB on Linux
        cpu = usage_after.ru_utime + usage_after.ru_stime - cpu_before
        db.close()
    usage = summary.usage
    llm_scored = sum(c["llm_scored"] for c in summary.usage_by_criteria.values())
    local = sum(c["locally_ranked"] for c in summary.usage_by_criteria.values())
    print(
        json.dumps(
            {
                "subscribers": readers,
                "criteria": distinct,
                "papers": summary.papers,
                "wall_s": round(wall, 2),
                "cpu_s": round(cpu, 2),
                "stage_start_s": {k: round(v, 2) for k, v in stages.items()},
                "llm_calls": usage.calls,
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "cost_usd": round(usage.cost_usd, 4),
                "llm_scored": llm_scored,
                "locally_ranked": local,
                "sent": len(summary.sent),
                "empty": len(summary.empty),
                "failed": len(summary.failed),
                "exit_code": summary.exit_code,
                "reason": summary.reason,
                "peak_rss_mb": round(peak_mb, 1),
                **channels,
            }
        ),
        flush=True,
    )
    return 0


def post_channels(count: int, folder: Path, distinct: int, chat_url: str, settings: Any, db: Any,
                  adapters: Any, now: dt.datetime, day: dt.date) -> dict[str, Any]:
    """`count` channels posted the day after the readers' run; their wall time and outcome."""
    from newsletter.channels.file import channels_path, load_channels
    from newsletter.daily.channels import run_channels
    from newsletter.readers.roster import load_roster

    hook = chat_url.replace("http://", "json://")
    rows = ["name,url,criteria,categories,timezone,send_at,max_papers"]
    for number in range(count):
        criteria = number % distinct
        target = "*" if number % 10 == 9 else f"criteria/c{criteria:04d}.md"
        categories = CATEGORY_SETS[criteria % len(CATEGORY_SETS)]  # the readers' of that text
        rows.append(f'ch{number:04d},{hook}/ch{number:04d},{target},"{categories}",UTC,07:00,10')
    atomic_write_text(channels_path(settings), "\n".join(rows) + "\n")
    started = time.perf_counter()
    found = load_channels(channels_path(settings), settings)
    peers = load_roster(settings.subscribers, settings).subscribers
    report = run_channels(found.channels, now=now, settings=settings, db=db, adapters=adapters,
                          digest_date=day, peers=peers)
    return {"channels": count, "channel_problems": len(found.problems),
            "channel_wall_s": round(time.perf_counter() - started, 2), "channels_posted": len(report.sent),
            "channels_empty": len(report.empty), "channels_failed": len(report.problems)}


def measure(readers: int, args: argparse.Namespace) -> dict[str, Any]:
    fakes_cmd = [
        sys.executable,
        __file__,
        "--serve-fakes",
        "--day",
        args.day,
        "--llm-latency",
        str(args.llm_latency),
        "--sendgrid-latency",
        str(args.sendgrid_latency),
    ]
    fakes = subprocess.Popen(fakes_cmd, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert fakes.stdin is not None
    assert fakes.stdout is not None
    try:
        addresses = fakes.stdout.readline()
        run_cmd = [
            sys.executable,
            __file__,
            "--one",
            str(readers),
            "--day",
            args.day,
            "--llm-concurrency",
            str(args.llm_concurrency),
            "--criteria",
            str(args.criteria),
            "--channels",
            str(args.channels),
            "--fakes",
            addresses,
        ]
        run = subprocess.run(run_cmd, cwd=ROOT, capture_output=True, text=True, check=False)
        if run.returncode != 0:
            raise SystemExit(f"the run for N={readers} failed:\n{run.stderr[-3000:]}")
        result: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
        fakes.stdin.write("stats\n")
        fakes.stdin.flush()
        result["fakes"] = json.loads(fakes.stdout.readline())
    finally:
        fakes.stdin.close()
        fakes.wait(timeout=30)
    return result


def table(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        f"Day {args.day} replayed by the fake arXiv; fake LLM latency {args.llm_latency * 1000:.0f} ms;"
        f" fake SendGrid latency {args.sendgrid_latency * 1000:.0f} ms;"
        f" NEWSLETTER_LLM_CONCURRENCY={args.llm_concurrency or 'default (8)'};"
        f" {os.cpu_count()} CPUs, Python {platform.python_version()}.",
        "",
        "| subscribers | distinct criteria | papers | wall (s) | CPU (s) | LLM calls | calls per criteria |"
        " LLM calls in flight (max) | prompt tokens | completion tokens |"
        " est. cost (USD, gpt-4o-mini prices) | emails sent | once each | peak RSS (MB) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|---:|",
    ]
    for r in results:
        f = r["fakes"]
        once = (
            f["sendgrid_recipients"] == r["sent"]
            and f["sendgrid_max_per_recipient"] <= 1
            and f["llm_requests"] >= r["llm_calls"]
        )
        lines.append(
            f"| {r['subscribers']:,} | {r['criteria']:,} | {r['papers']} | {r['wall_s']:.1f}"
            f" | {r['cpu_s']:.1f} |"
            f" {r['llm_calls']:,} | {r['llm_calls'] / r['criteria']:.1f} | {f['llm_max_in_flight']} |"
            f" {r['prompt_tokens']:,} | {r['completion_tokens']:,} |"
            f" {r['cost_usd']:.3f} | {r['sent']:,} | {'yes' if once else 'NO'} | {r['peak_rss_mb']:.0f} |"
        )
    if any("channels" in r for r in results):
        lines += ["", "| subscribers | channels | posted | empty | failed | channel posts seen |"
                  " readers' run (s) | channels (s) | channels / readers' run |"
                  " LLM requests beyond the readers' run |",
                  "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in results:
            if "channels" in r:
                extra = r["fakes"]["llm_requests"] - r["llm_calls"]
                share = 100 * r["channel_wall_s"] / r["wall_s"]
                lines.append(
                    f"| {r['subscribers']:,} | {r['channels']} | {r['channels_posted']} |"
                    f" {r['channels_empty']} | {r['channels_failed']} | {r['fakes']['chat_posts']} |"
                    f" {r['wall_s']:.1f} | {r['channel_wall_s']:.2f} | {share:.1f} % | {extra} |")
    stages = ("; ".join(f"{k} {v}" for k, v in r["stage_start_s"].items()) for r in results)
    lines += [
        "",
        "Stage start times within each run (s): "
        + " | ".join(f"N={r['subscribers']:,}: {s}" for r, s in zip(results, stages, strict=True)),
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000,10000")
    parser.add_argument("--day", default="2025-07-15", help="reference day the fake arXiv replays")
    parser.add_argument("--llm-latency", type=float, default=0.3)
    parser.add_argument("--sendgrid-latency", type=float, default=0.005)
    parser.add_argument(
        "--llm-concurrency",
        type=int,
        default=0,
        help="NEWSLETTER_LLM_CONCURRENCY for the runs (0: the setting's default)",
    )
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "e2e"))
    parser.add_argument(
        "--criteria", type=int, default=0, help="distinct criteria for every size (0: N/20, at least 1)"
    )
    parser.add_argument("--channels", type=int, default=0, help="chat channels posted after the run")
    parser.add_argument(
        "--render", action="store_true", help="only rewrite <out>.md from the results already in <out>.json"
    )
    parser.add_argument("--serve-fakes", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--fakes", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fakes:
        return serve_fakes(args)
    if args.one is not None:
        return run_one(args)
    out = Path(args.out)
    if args.render:
        saved = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
        atomic_write_text(out.with_suffix(".md"), table(saved["results"], args))
        return 0
    results = []
    for readers in (int(s) for s in args.sizes.split(",")):
        result = measure(readers, args)
        results.append(result)
        print(json.dumps(result), flush=True)
    text = table(results, args)
    print(text)
    # The results files are kept in the repository: never leave one half-written.
    atomic_write_text(out.with_suffix(".md"), text)
    atomic_write_text(
        out.with_suffix(".json"),
        json.dumps(
            {
                "command": "python bench/e2e.py " + " ".join(sys.argv[1:]),
                "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "results": results,
            },
            indent=2,
        )
        + "\n",
    )
    ok = all(r["exit_code"] == 0 and r["fakes"]["sendgrid_max_per_recipient"] <= 1 for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
