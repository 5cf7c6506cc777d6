"""The log of runs: counts, LLM spend and errors of every daily cycle."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from newsletter.db import Database
from newsletter.db.deliveries import for_date
from newsletter.models import Usage

RunKind = Literal["run", "dry-run", "prepare"]
RunStatus = Literal["running", "ok", "failed", "killed"]


@dataclass(frozen=True)
class RunRecord:
    kind: RunKind
    started_at: dt.datetime
    digest_date: dt.date | None = None
    status: RunStatus = "running"
    subscribers_due: int = 0
    subscribers_served: int = 0
    papers: int = 0
    failures: int = 0
    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    errors: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    id: int | None = None


def start_run(db: Database, record: RunRecord) -> RunRecord:
    with db.tx() as conn:
        cursor = conn.execute(
            "INSERT INTO runs(kind, digest_date, started_at) VALUES (?, ?, ?)",
            (
                record.kind,
                record.digest_date.isoformat() if record.digest_date else None,
                record.started_at.isoformat(),
            ),
        )
    return dataclasses.replace(record, id=cursor.lastrowid)


def add_usage(db: Database, run_id: int, usage: Usage) -> None:
    """Count one LLM call's spend to a run at once: the daily budget (`spend_on`) then holds it
    even if the run is killed before `finish_run`."""
    with db.tx() as conn:
        conn.execute(
            "UPDATE runs SET llm_calls=llm_calls+?, prompt_tokens=prompt_tokens+?,"
            " completion_tokens=completion_tokens+?, cost_usd=cost_usd+? WHERE id=?",
            (usage.calls, usage.prompt_tokens, usage.completion_tokens, usage.cost_usd, run_id),
        )


def usage_meter(db: Database, record: RunRecord) -> Callable[[Usage], None]:
    """`add_usage` for this run, as the scoring stage's `on_usage`."""
    run_id = record.id
    if run_id is None:
        raise ValueError("the run has not been started (start_run)")
    return lambda usage: add_usage(db, run_id, usage)


def finish_run(db: Database, record: RunRecord, now: dt.datetime) -> None:
    values = asdict(record)
    # MAX: the spend metered call by call (`add_usage`) can only be more than the summary knows
    # of (a judge that failed half-way still paid for the answers it had).
    with db.tx() as conn:
        conn.execute(
            "UPDATE runs SET finished_at=?, status=?, digest_date=?, subscribers_due=?,"
            " subscribers_served=?, papers=?, failures=?, llm_calls=MAX(llm_calls, ?),"
            " prompt_tokens=MAX(prompt_tokens, ?), completion_tokens=MAX(completion_tokens, ?),"
            " cost_usd=MAX(cost_usd, ?), errors=?, summary=? WHERE id=?",
            (
                now.isoformat(),
                record.status,
                record.digest_date.isoformat() if record.digest_date else None,
                values["subscribers_due"],
                values["subscribers_served"],
                values["papers"],
                values["failures"],
                values["llm_calls"],
                values["prompt_tokens"],
                values["completion_tokens"],
                values["cost_usd"],
                json.dumps(record.errors),
                json.dumps(record.summary, default=str),
                record.id,
            ),
        )


def close_killed_runs(db: Database) -> int:
    """Mark `killed` the delivery runs a dead process left `running`; returns how many.

    Only a caller holding the data folder's run lock may call this: every `run` row still
    `running` then belongs to a process that died (SIGKILL, power loss) before `finish_run`.
    `prepare` rows are left alone, as the service scores outside that lock.
    """
    with db.tx() as conn:
        cursor = conn.execute(
            "UPDATE runs SET status='killed', errors=?"
            " WHERE status='running' AND kind='run'",
            (json.dumps(["the process stopped before the run finished"]),),
        )
    return cursor.rowcount


def last_delivery_run(db: Database) -> dict[str, Any] | None:
    """The newest delivery run (`run` or `service`), the columns /healthz reports; None if none."""
    row = db.read().execute(
        "SELECT id, kind, digest_date, started_at, finished_at, status, subscribers_due,"
        " subscribers_served, failures, cost_usd, errors FROM runs WHERE kind IN ('run', 'service')"
        " ORDER BY id DESC LIMIT 1"
    ).fetchone()
    return dict(row) if row is not None else None


def last_run_failures_of(db: Database, email: str) -> tuple[str | None, list[str]]:
    """(digest date, why) of each digest of `email` the newest delivery run failed: some leave no
    delivery row (a reader the day's feed does not cover), so only the run's log says why."""
    run = last_delivery_run(db)
    if run is None:
        return None, []
    reasons = [why for address, why in _failures(run["errors"]) if address == email.lower()]
    return run["digest_date"], reasons


@dataclass(frozen=True, slots=True)
class DayCost:
    digest_date: dt.date
    runs: int
    llm_calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    served: int
    failures: int


def day_cost(db: Database, digest_date: dt.date) -> DayCost:
    """What every run for one announcement date cost, from the runs log (dry runs excluded).
    `failures`: the readers some run failed whose digest of the date has not gone out since, each
    once (a cron retry or a service tick that fails the same reader again is one failure)."""
    day = digest_date.isoformat()
    read = db.read()
    row = read.execute(
        "SELECT COUNT(*), COALESCE(SUM(llm_calls), 0), COALESCE(SUM(prompt_tokens), 0),"
        " COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(cost_usd), 0),"
        " COALESCE(SUM(subscribers_served), 0)"
        " FROM runs WHERE digest_date=? AND kind != 'dry-run'",
        (day,),
    ).fetchone()
    failed = {address for errors, in read.execute(
        "SELECT errors FROM runs WHERE digest_date=? AND kind != 'dry-run'", (day,)).fetchall()
        for address, _ in _failures(errors)}
    served = {email.lower() for email, delivery in for_date(db, digest_date).items()
              if delivery.status in ("sent", "empty")}
    return DayCost(digest_date, int(row[0]), int(row[1]), int(row[2]), int(row[3]), float(row[4]),
                   int(row[5]), len(failed - served))


def _failures(errors: str | None) -> list[tuple[str, str]]:
    """(address, why) of each failed digest in a run's stored error list, where a failure is
    "address: why" (a fatal error, the list's other kind of line, names no address)."""
    named = (line.split(": ", 1) for line in json.loads(errors or "[]"))
    return [(parts[0].lower(), parts[1]) for parts in named
            if len(parts) == 2 and "@" in parts[0] and not any(c.isspace() for c in parts[0])]


def recent_runs(db: Database, limit: int = 20) -> list[dict[str, Any]]:
    rows = db.read().execute("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
    return [dict(row) for row in rows]


def spend_on(db: Database, digest_date: dt.date) -> float:
    """Dollars already spent on LLM calls for one digest date (the daily budget's meter)."""
    row = (
        db.read()
        .execute(
            "SELECT COALESCE(SUM(cost_usd), 0) FROM runs WHERE digest_date=?",
            (digest_date.isoformat(),),
        )
        .fetchone()
    )
    return float(row[0])
