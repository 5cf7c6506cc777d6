"""The tables of bench/learning.py: averages over the last 10 days next to the issue's targets,
then every day, with and without feedback side by side. Works on the JSON figures it writes."""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from train_days import BROAD

LAST = 10  # the window: the last 10 of the 30 days
Day = Mapping[str, Any]
Results = Mapping[str, Sequence[Day]]  # "reader|mode|with" → the days' figures (DayFigures.as_json)

# (figure, mode, who, test, said): the targets, on the with-feedback averages
TARGETS: tuple[tuple[str, str, str, Callable[[float, float], bool], str], ...] = (
    ("recall", "local", "broad", lambda w, _: w >= 0.55, "≥ 0.55"),
    ("share", "local", "broad", lambda w, _: w >= 0.40, "≥ 0.40"),
    ("recall", "local", "narrow", lambda w, wo: w >= wo, "≥ without"),
    ("share", "local", "narrow", lambda w, wo: w >= wo, "≥ without"),
    ("reach", "llm", "any", lambda w, _: w >= 0.95, "≥ 0.95"),
    ("sent_share", "llm", "broad", lambda w, _: w <= 0.60, "≤ 0.60"),
    ("tokens_per_candidate", "llm", "any", lambda w, _: w <= 150, "≤ 150"),
)
NAMES = {"recall": "recall ≥7", "share": "share ≥ cutoff", "reach": "≥7 reaching the LLM",
         "sent_share": "candidates sent", "tokens_per_candidate": "prompt tokens / candidate"}


def window(days: Sequence[Day]) -> list[Day]:
    """The last 10 measured days (the seeds' first day never counts)."""
    return [d for d in days if d["measured"]][-LAST:]


def mean(days: Sequence[Day], figure: str, *, skip_audit: bool = False) -> float | None:
    values = [d[figure] for d in days if d[figure] is not None and not (skip_audit and d["audit"])]
    return statistics.fmean(values) if values else None


def _f(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _audit(day: Day) -> str:
    return " A" if day["audit"] else ""


def _pair(results: Results, reader: str, mode: str) -> tuple[list[Day], list[Day]] | None:
    with_, without = results.get(f"{reader}|{mode}|with"), results.get(f"{reader}|{mode}|without")
    return (list(with_), list(without)) if with_ is not None and without is not None else None


def _targets(results: Results, readers: Sequence[str], modes: Sequence[str]) -> list[str]:
    lines = ["| reader | mode | figure | with feedback | without | target (with feedback) | met |",
             "|---|---|---|---:|---:|---|:---:|"]
    for reader in readers:
        kind = "broad" if reader in BROAD else "narrow"
        for figure, mode, who, test, said in TARGETS:
            pair = _pair(results, reader, mode)
            if pair is None or mode not in modes or who not in (kind, "any"):
                continue
            w, wo = (mean(window(days), figure) for days in pair)
            met = "–" if w is None or wo is None else ("yes" if test(w, wo) else "NO")
            digits = 0 if figure == "tokens_per_candidate" else 2
            lines.append(f"| {reader} ({kind}) | {mode} | {NAMES[figure]} | {_f(w, digits)} |"
                         f" {_f(wo, digits)} | {said} | {met} |")
    return lines


def _wwo(w: Sequence[Day], wo: Sequence[Day], figure: str, digits: int = 2, **how: bool) -> str:
    """'with / without' of one figure's mean."""
    return f"{_f(mean(w, figure, **how), digits)} / {_f(mean(wo, figure, **how), digits)}"


def _averages(results: Results, readers: Sequence[str], mode: str) -> list[str]:
    llm = mode == "llm"
    head = "| reader | days | recall ≥7 (days with a ≥7) | share ≥ cutoff |"
    if llm:
        head += (" sent | sent, audit days out | ≥7 reaching the LLM | prompt tokens / candidate |"
                 " run's usage / candidate |")
    title = ("With an LLM (the fake replays the recorded judgements)" if llm
             else "No LLM (the local ranker selects the digest)")
    lines = [f"{title}; each cell with feedback / without:", "", head + " votes up / down (all days) |",
             "|---|---:|" + "---|" * (head.count("|") - 2)]
    for reader in readers:
        pair = _pair(results, reader, mode)
        if pair is None:
            continue
        w, wo = window(pair[0]), window(pair[1])
        row = (f"| {reader} | {len(w)} | {_wwo(w, wo, 'recall')} ({sum(d['recall'] is not None for d in w)})"
               f" | {_wwo(w, wo, 'share')} |")
        if llm:
            row += (f" {_wwo(w, wo, 'sent_share')} | {_wwo(w, wo, 'sent_share', skip_audit=True)} |"
                    f" {_wwo(w, wo, 'reach')} | {_wwo(w, wo, 'tokens_per_candidate', 0)} |"
                    f" {_wwo(w, wo, 'usage_per_candidate', 0)} |")
        votes = pair[0]
        lines.append(f"{row} {sum(d['votes_up'] for d in votes)} / {sum(d['votes_down'] for d in votes)} |")
    return [*lines, ""]


def _days(results: Results, reader: str, mode: str) -> list[str]:
    pair = _pair(results, reader, mode)
    if pair is None:
        return []
    llm = mode == "llm"
    head = ("| day | cand. | ≥7 | recall | share ≥ cutoff | digest | votes ↑/↓"
            + (" | sent | ≥7 reaching the LLM | prompt tokens / candidate" if llm else "") + " |")
    rule = "|" + "---|" * (head.count(" | ") + 1)
    lines = [f"### {reader}, {mode} (each cell with feedback / without)", "", head, rule]
    last = {d["date"] for d in window(pair[0])}
    for w, wo in zip(*pair, strict=True):
        mark = " (seeds; not measured)" if not w["measured"] else (" *" if w["date"] in last else "")
        row = (f"| {w['date']}{mark} | {w['candidates']} | {w['relevant']} | {_f(w['recall'])} /"
               f" {_f(wo['recall'])} | {_f(w['share'])} / {_f(wo['share'])} | {w['digest']} / {wo['digest']}"
               f" | {w['votes_up']}/{w['votes_down']}")
        if llm:
            row += (f" | {_f(w['sent_share'])}{_audit(w)} / {_f(wo['sent_share'])}{_audit(wo)} |"
                    f" {_f(w['reach'])} / {_f(wo['reach'])} | {_f(w['tokens_per_candidate'], 0)} /"
                    f" {_f(wo['tokens_per_candidate'], 0)}")
        lines.append(row + " |")
    return [*lines, ""]


def report(results: Results, *, command: str, wall_seconds: float, cpu_seconds: float, vote_share: float,
           seed: int, revision: str = "?") -> str:
    readers = list(dict.fromkeys(key.split("|")[0] for key in results))
    modes = list(dict.fromkeys(key.split("|")[1] for key in results))
    lines = [
        "# Learning bench: real days through the daily cycle, a simulated reader's seeds and votes",
        "",
        f"`{command.strip()}` at `{revision}` — wall time {wall_seconds:.0f} s, CPU time {cpu_seconds:.0f} s"
        f" ({os.cpu_count()} CPUs, Python {platform.python_version()}); votes on {vote_share:.0%} of each"
        f" digest, seed {seed}.",
        "",
        f"Averages are means of the daily figures over the last {LAST} measured days (`*` below); the"
        " first day only seeds and is never measured. Recall: of the day's recorded relevance-≥7 candidates,"
        " the share in the digest (days without one are left out). Share ≥ cutoff: the digest's papers at or"
        " above the reader's relevance cutoff — a floor on precision, since \"not selected\" is not"
        " \"rejected\" (the reference selector never judged papers without an author of h-index ≥ 15)."
        " Sent: share of the candidates sent to the LLM (`A`: an audit day sends all). Reached: the"
        " relevance-≥7 candidates the LLM judged. Prompt tokens: the prompts the fake LLM received,"
        " counted by gpt-4o-mini's tokenizer, per candidate (the run's usage: what the fake reported,"
        " characters / 4). Identical runs print identical figures.",
        "",
        "## Targets (issue 23), on the last 10 days",
        "",
        *_targets(results, readers, modes),
        "",
        "## Averages over the last 10 days",
        "",
        *(line for mode in modes for line in _averages(results, readers, mode)),
        "## Every day",
        "",
    ]
    for reader in readers:
        for mode in modes:
            lines += _days(results, reader, mode)
    return "\n".join(lines).rstrip() + "\n"
