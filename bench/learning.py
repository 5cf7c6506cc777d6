"""Does the digest learn its reader? 30 real days per reader through the real daily cycle, with a
simulated reader who seeds and votes, with and without that feedback, side by side (issue 23).

    .venv/bin/python bench/learning.py                      # 3 readers × {local, llm} × {with, without}
    .venv/bin/python bench/learning.py --mode local --reader spatial-intelligence-embodied --days 8
    .venv/bin/python bench/learning.py --vote-share 0.3 --seed 0 --json /tmp/learning.json

Data: `../shared/reference/train` (bench/train_days.py): for three readers, 30 consecutive real
announcement days, each with every candidate and the reader's recorded LLM judgements (relevance,
novelty, comment of the papers the reader's LLM selected).

Per reader, mode and feedback setting, on a fresh state folder (tmp), each day in order: the day is
stored as the service's fetch job stores it, then `run_daily` runs it (the function behind
`newsletter run --date`, adapters from `build_adapters` as the CLI builds them, outbox transport,
the clock fixed at noon UTC of that day), and the digest the reader was sent is read back from the
deliveries. The simulated reader (with feedback only):
- seeds: before the first day, the three best-scored papers of that day (recorded relevance, then
  novelty) are stored as the reader's seed likes by `record_seeds` (what `subscribers add --like`
  stores); the first day is then left out of every figure;
- votes: after each delivery the reader votes on a share `--vote-share` of the digest's papers
  (a seeded random choice, `--seed`): up where the recorded relevance is ≥ 7, down where it is ≤ 3
  or the paper was not selected, no vote otherwise; stored by `record_vote` (what a click and
  `newsletter feedback add` store).
Whatever the product learns from the votes table then shows in these figures unchanged.

Modes: `local` (no LLM: the local ranker orders and selects the 30-paper digest) and `llm` (the
fake OpenAI server answers every paper with the reader's recorded judgement; a paper the reference
did not select gets relevance 1, novelty 1, as bench/ranking.py labels it).

Figures per day and averaged over the last 10 of the 30 days (mean of the daily figures; a day
without a relevance-≥7 candidate has no recall and is left out of that mean):
- recall: the day's recorded relevance-≥7 papers among its candidates (papers listed in the
  reader's categories) that the digest holds;
- share ≥ cutoff: the digest's papers whose recorded relevance is at or above the reader's
  `relevance_cutoff`. A floor on precision: "not selected" is not "rejected" (the reference selector
  never judged papers without an author of h-index ≥ 15), so some papers counted as misses would
  have been selected;
- LLM mode: sent = share of the candidates sent to the LLM that day (audit days, `A`, send every
  candidate: see newsletter/ranking/audit.py); reached = share of the relevance-≥7 candidates the
  LLM judged (that day or before); prompt tokens per candidate: the prompts the fake received,
  counted by the model's tokenizer through litellm (as bench/llm_cost.py counts them); the run's
  own usage is shown beside it, but the fake reports characters / 4 there, about 25 % more.
The issue's targets are printed beside the averages. A run of every reader in both modes without
--days writes bench/results/learning.md and .json.

Noise: none; identical runs print identical figures. (Until the ranker sorted its LLM history by
id, the order a day's parallel answers were stored in, within a second of SQLite's clock, set its
cross-validation folds, and the LLM mode moved by up to ~0.07 of the candidates sent on a day.)

Time (2 busy CPUs): without feedback ~0.2-0.5 s a day in local mode; in LLM mode ~0.5 s a day at
first, growing to 1-4 s as the LLM history nears its 2,000-paper cap (the history learner,
ranking/learn.py: a TF-IDF fit over the history, a ridge and its 3-fold cross-validation, every day,
takes about two thirds of it; the calls to the fake LLM about a tenth). With feedback add ~1-2 s a
day: the vote learner (ranking/votes.py) fits a logistic regression on TF-IDF words, bigrams and
authors every day, ~0.8 s of it in the solver. A full run takes about 4.5 minutes of CPU, 8 minutes'
wall time on a busy 2-CPU machine with `--jobs 2` (the 12 replays in two processes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from llm_cost import tokens  # noqa: E402  (litellm's count of the exact messages sent)
from train_days import (  # noqa: E402
    DEFAULT_TRAIN,
    Judged,
    ReaderDays,
    TrainDay,
    load_reader,
    reader_names,
    seed_papers,
)

from newsletter.daily.run import run_daily  # noqa: E402
from newsletter.daily.selection import in_categories  # noqa: E402
from newsletter.daily.summary import RunSummary  # noqa: E402
from newsletter.daily.wiring import build_adapters  # noqa: E402
from newsletter.db import Database  # noqa: E402
from newsletter.db import deliveries as delivery_store  # noqa: E402
from newsletter.db.papers import save_day  # noqa: E402
from newsletter.db.votes import Direction  # noqa: E402
from newsletter.files import atomic_write_text  # noqa: E402
from newsletter.models import AnnouncementDay  # noqa: E402
from newsletter.readers.seeds import record_seeds  # noqa: E402
from newsletter.readers.votes import record_vote  # noqa: E402
from newsletter.settings import Settings  # noqa: E402
from tests.fakes.llm_server import FakeLLM  # noqa: E402

Mode = Literal["local", "llm"]
EMAIL = "reader@lab.example"
MODEL = "gpt-4o-mini"  # what litellm prices and tokenises the fake's answers as
NOT_SELECTED = Judged(1, 1, "not among the reference's selections")
RESULTS = ROOT / "bench" / "results" / "learning"  # .md and .json
UP_AT, DOWN_AT = 7, 3  # the simulated reader's votes: up at relevance ≥ 7, down at ≤ 3 or unselected


@dataclass(frozen=True, slots=True)
class Options:
    mode: Mode
    feedback: bool
    vote_share: float = 0.3
    seed: int = 0


@dataclass(frozen=True, slots=True)
class DayFigures:
    date: str
    measured: bool  # the first day (the seeds' day) is not
    candidates: int
    relevant: int  # recorded relevance ≥ 7 among the candidates
    found: int  # of those, in the digest
    digest: int
    at_cutoff: int  # digest papers at or above the reader's relevance_cutoff
    votes_up: int
    votes_down: int
    seconds: float
    sent: int | None = None  # LLM mode: candidates sent to the LLM this day
    reached: int | None = None  # LLM mode: relevant candidates the LLM judged, this day or before
    prompt_tokens: int | None = None  # the run's own usage (the fake counts characters / 4)
    tokens: int | None = None  # the same prompts counted by the model's tokenizer (litellm)
    audit: bool = False

    @property
    def recall(self) -> float | None:
        return self.found / self.relevant if self.relevant else None

    @property
    def share(self) -> float | None:
        return self.at_cutoff / self.digest if self.digest else None

    @property
    def sent_share(self) -> float | None:
        return None if self.sent is None else self.sent / max(1, self.candidates)

    @property
    def reach(self) -> float | None:
        return None if self.reached is None or not self.relevant else self.reached / self.relevant

    @property
    def tokens_per_candidate(self) -> float | None:
        return None if self.tokens is None else self.tokens / max(1, self.candidates)

    @property
    def usage_per_candidate(self) -> float | None:
        return None if self.prompt_tokens is None else self.prompt_tokens / max(1, self.candidates)

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "recall": self.recall, "share": self.share, "sent_share": self.sent_share,
                "reach": self.reach, "tokens_per_candidate": self.tokens_per_candidate,
                "usage_per_candidate": self.usage_per_candidate}


def simulated_votes(digest: Sequence[str], day: TrainDay, share: float,
                    rng: random.Random) -> list[tuple[str, Direction]]:
    """The reader's votes on a random share of the digest, by the recorded judgements."""
    votes: list[tuple[str, Direction]] = []
    for arxiv_id in rng.sample(list(digest), round(share * len(digest))):
        judged = day.judged.get(arxiv_id)
        if judged is None or judged.relevance <= DOWN_AT:
            votes.append((arxiv_id, "down"))
        elif judged.relevance >= UP_AT:
            votes.append((arxiv_id, "up"))
    return votes


def _site(folder: Path, reader: ReaderDays, llm: FakeLLM | None) -> Settings:
    """A one-reader site in `folder`: the criteria file, the roster, the settings (outbox mail)."""
    (folder / "criteria").mkdir(parents=True)
    (folder / "criteria" / f"{reader.name}.md").write_text(reader.criteria, encoding="utf-8")
    (folder / "subscribers.csv").write_text(
        "email,name,criteria,categories,timezone,send_at,authors\n"
        f'{EMAIL},Reader,criteria/{reader.name}.md,"{",".join(reader.categories)}",UTC,07:00,\n',
        encoding="utf-8",
    )
    llm_settings: dict[str, Any] = (
        {"llm_model": f"openai/{MODEL}", "llm_api_base": llm.api_base, "llm_api_key": "sk-bench"}
        if llm else {"llm_model": ""}
    )
    return Settings(  # type: ignore[call-arg]
        _env_file=None, subscribers=folder / "subscribers.csv", data_dir=folder / "var",
        sendgrid_api_key="", llm_daily_budget_usd=None, public_url="https://digest.lab.example",
        **llm_settings,
    )


@contextmanager
def _judge(reader: ReaderDays, mode: Mode) -> Iterator[tuple[FakeLLM | None, set[str]]]:
    """The fake LLM replaying the reader's recorded judgements, and the ids it was asked about."""
    if mode == "local":
        yield None, set()
        return
    recorded = {i: j for day in reader.days for i, j in day.judged.items()}
    asked: set[str] = set()

    def scorer(criteria: str, arxiv_id: str, text: str) -> tuple[int, int, str]:
        asked.add(arxiv_id)
        judged = recorded.get(arxiv_id, NOT_SELECTED)
        return judged.relevance, judged.novelty, judged.comment

    with FakeLLM() as fake:
        fake.scorer = scorer
        yield fake, asked


def replay(reader: ReaderDays, options: Options, folder: Path) -> list[DayFigures]:
    """The reader's days in order through the daily cycle on a fresh state in `folder`."""
    figures = []
    with _judge(reader, options.mode) as (llm, asked):
        settings = _site(folder, reader, llm)
        db = Database.open(settings.db_path)
        try:
            for index, day in enumerate(reader.days):
                if index == 0 and options.feedback:  # the reader signs up with their seed papers
                    start = dt.datetime.combine(day.date, dt.time(8), tzinfo=dt.UTC)
                    record_seeds(db, EMAIL, seed_papers(day), start)
                figures.append(_one_day(reader, day, index, options, settings, db, (llm, asked)))
        finally:
            db.close()
    return figures


def _one_day(reader: ReaderDays, day: TrainDay, index: int, options: Options, settings: Settings,
             db: Database, judge: tuple[FakeLLM | None, set[str]]) -> DayFigures:
    started = time.perf_counter()
    fake, asked = judge
    now = dt.datetime.combine(day.date, dt.time(12), tzinfo=dt.UTC)
    listed = tuple(p for p in day.papers if in_categories(p, reader.categories))
    listed = tuple(replace(p, announce_type="new" if p.primary_category in reader.categories else "cross")
                   for p in listed)
    save_day(db, AnnouncementDay(day.date, tuple(sorted(reader.categories)), listed), "reference", now)
    asked_before, requests_before = len(asked), len(fake.requests) if fake else 0
    adapters = replace(build_adapters(settings, db, day.date), clock=lambda: now)
    summary = run_daily(now=now, settings=settings, db=db, adapters=adapters, date=day.date)
    if summary.exit_code:
        raise SystemExit(f"{reader.name} {day.date}: the run failed: {summary.reason}")
    delivery = delivery_store.for_date(db, day.date).get(EMAIL)
    digest = delivery.paper_ids if delivery is not None and delivery.status == "sent" else ()
    votes: list[tuple[str, Direction]] = []
    if options.feedback:
        rng = random.Random(f"{options.seed}:{reader.name}:{options.mode}:{day.date}")
        votes = simulated_votes(digest, day, options.vote_share, rng)
        for arxiv_id, direction in votes:
            record_vote(db, EMAIL, arxiv_id, direction, source="click", now=now + dt.timedelta(hours=2))
    relevant = {p.arxiv_id for p in listed if (j := day.judged.get(p.arxiv_id)) and j.relevance >= UP_AT}
    at_cutoff = sum(1 for i in digest if (j := day.judged.get(i)) and j.relevance >= day.cutoff)
    llm = fake is not None
    counted = sum(tokens(MODEL, r["messages"]) for r in fake.requests[requests_before:]) if fake else None
    return DayFigures(
        date=day.date.isoformat(), measured=index > 0, candidates=len(listed), relevant=len(relevant),
        found=len(relevant & set(digest)), digest=len(digest), at_cutoff=at_cutoff,
        votes_up=sum(1 for _, d in votes if d == "up"), votes_down=sum(1 for _, d in votes if d == "down"),
        seconds=round(time.perf_counter() - started, 2),
        sent=len(asked) - asked_before if llm else None,
        reached=len(relevant & asked) if llm else None,
        prompt_tokens=summary.usage.prompt_tokens if llm else None, tokens=counted,
        audit=_audited(summary),
    )


def _audited(summary: RunSummary) -> bool:
    return any("cut_audit" in figures for figures in summary.usage_by_criteria.values())


@dataclass(frozen=True, slots=True)
class Task:
    """One replay: a reader's days in one mode, with or without feedback."""

    reader: str
    options: Options
    train: Path
    days: int | None
    keep: Path | None  # keep the state folder here (a new folder), e.g. for `newsletter subscribers show`

    @property
    def key(self) -> str:
        return f"{self.reader}|{self.options.mode}|{'with' if self.options.feedback else 'without'}"


def run_task(task: Task) -> tuple[str, list[dict[str, Any]], float]:
    started = time.perf_counter()
    reader = load_reader(task.reader, task.train, task.days)
    with nullcontext(task.keep) if task.keep else tempfile.TemporaryDirectory(prefix="learning-") as tmp:
        days = replay(reader, task.options, Path(tmp))
    return task.key, [d.as_json() for d in days], time.perf_counter() - started


def run_all(tasks: Sequence[Task], jobs: int) -> dict[str, Any]:
    """Every replay (in `jobs` processes when more than one), in the tasks' order; progress on stderr."""
    results: dict[str, Any] = {}
    with ProcessPoolExecutor(jobs) if jobs > 1 else nullcontext() as pool:
        done = pool.map(run_task, tasks) if pool else map(run_task, tasks)
        for key, days, seconds in done:
            results[key] = days
            print(f"{key}: {len(days)} days in {seconds:.0f} s", file=sys.stderr, flush=True)
    return results


def main() -> int:
    from learning_report import report

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--reader", action="append", help="a MANIFEST reader (repeatable; default: all)")
    parser.add_argument("--mode", choices=("local", "llm", "both"), default="both")
    parser.add_argument("--days", type=int, help="only the first N days of each reader (a quicker run)")
    parser.add_argument("--vote-share", type=float, default=0.3, help="share of each digest voted on")
    parser.add_argument("--seed", type=int, default=0, help="seeds the votes' random choice")
    parser.add_argument("--json", help="also write every figure to this path")
    parser.add_argument("--train", type=Path, default=DEFAULT_TRAIN, help="the reference's train folder")
    parser.add_argument("--keep", help="keep each replay's state folder under this (new) folder")
    parser.add_argument("--jobs", type=int, default=1, help="replays run at once, in processes")
    parser.add_argument("--render", action="store_true",
                        help="only rewrite bench/results/learning.md from the figures in learning.json")
    args = parser.parse_args()
    if args.render:
        return _render(RESULTS)
    if not 0 <= args.vote_share <= 1:
        parser.error("--vote-share is a share: 0 to 1")
    if args.days is not None and args.days < 2:
        parser.error("--days: at least 2 (the first day only seeds)")
    for name in [n for n in os.environ if n.startswith(("NEWSLETTER_", "SENDGRID_"))]:
        del os.environ[name]  # the machine's settings must not change what is measured
    started = time.perf_counter()
    modes: list[Mode] = ["local", "llm"] if args.mode == "both" else [args.mode]
    tasks = [
        Task(name, Options(mode, feedback, args.vote_share, args.seed), args.train, args.days,
             Path(args.keep) / f"{name}-{mode}-{'with' if feedback else 'without'}" if args.keep else None)
        for name in args.reader or reader_names(args.train) for mode in modes for feedback in (True, False)
    ]
    results = run_all(tasks, args.jobs)
    wall = time.perf_counter() - started
    cpu = sum(resource.getrusage(who).ru_utime + resource.getrusage(who).ru_stime
              for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    command = "python bench/learning.py " + " ".join(sys.argv[1:])
    revision = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=False).stdout.strip() or "?"
    text = report(results, command=command, wall_seconds=wall, cpu_seconds=cpu, vote_share=args.vote_share,
                  seed=args.seed, revision=revision)
    print(text)
    saved = {"command": command, "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
             "wall_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1), "vote_share": args.vote_share,
             "seed": args.seed, "revision": revision, "results": results}
    if args.json:
        atomic_write_text(Path(args.json), json.dumps(saved, indent=1) + "\n")
    if args.days is None and not args.reader and args.mode == "both":
        atomic_write_text(RESULTS.with_suffix(".md"), text)
        atomic_write_text(RESULTS.with_suffix(".json"), json.dumps(saved, indent=1) + "\n")
    return 0


def _render(out: Path) -> int:
    from learning_report import report

    saved = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    text = report(saved["results"], command=saved["command"], wall_seconds=saved["wall_seconds"],
                  cpu_seconds=saved["cpu_seconds"], vote_share=saved["vote_share"], seed=saved["seed"],
                  revision=saved.get("revision", "?"))
    atomic_write_text(out.with_suffix(".md"), text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
