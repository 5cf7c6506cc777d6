"""`newsletter check`'s "LLM judge" row: the configured model asked about the latest stored day's
papers for each criteria text of the roster (`newsletter.ranking.judge_check`)."""

from __future__ import annotations

from collections.abc import Sequence

from newsletter.cli.check_result import Check
from newsletter.db import Database
from newsletter.db.papers import latest_day, load_day
from newsletter.models import Paper
from newsletter.readers.roster import Roster
from newsletter.settings import Settings

NAME = "LLM judge"
MAX_CRITERIA = 5  # one call each: a large roster is sampled, not checked whole


def _days(settings: Settings, roster: Roster) -> tuple[str, list[tuple[str, str, Sequence[Paper]]]]:
    """(the date, [(criteria-N, text, its papers)]) of the latest stored day; no date: no day."""
    by_criteria: dict[str, set[str]] = {}
    for subscriber in roster.subscribers:
        by_criteria.setdefault(subscriber.criteria, set()).update(subscriber.categories)
    db = Database.open(settings.db_path)
    try:
        latest = latest_day(db)
        if latest is None:
            return "", []
        date = latest[0]
        days: list[tuple[str, str, Sequence[Paper]]] = []
        for number, (criteria, categories) in enumerate(list(by_criteria.items())[:MAX_CRITERIA], 1):
            day = load_day(db, date, sorted(categories))
            if day is not None:
                papers = [p for p in day.papers if categories & set(p.categories)]
                days.append((f"criteria-{number}", criteria, papers))
        return date.isoformat(), days
    finally:
        db.close()


def check_judge_quality(settings: Settings, roster: Roster | None) -> Check:
    """The row; a judge that does not rank is a warning with the figures."""
    from newsletter.ranking.judge_check import check_judge
    from newsletter.ranking.llm_call import CallOptions
    from newsletter.ranking.local import LocalRanker

    if not settings.llm_model:
        return Check(NAME, "skip", "no LLM configured")
    if roster is None or not roster.subscribers:
        return Check(NAME, "skip", "no readers: no criteria text to judge by")
    try:
        date, days = _days(settings, roster)
    except Exception:  # the database check reports what is wrong with the database
        return Check(NAME, "skip", "the database could not be read")
    if not days:
        return Check(NAME, "skip", "no stored announcement yet: measured after the first fetch")
    key = settings.llm_api_key.get_secret_value() or None
    options = CallOptions(settings.llm_model, settings.llm_api_base or None, key,
                          timeout=min(settings.llm_timeout, 120.0), max_attempts=2)
    sane, probes = check_judge(options, days, LocalRanker())
    if not probes:
        return Check(NAME, "skip", f"the day {date} has too few papers per criteria text to compare")
    detail = f"{settings.llm_model} on {date}: " + "; ".join(p.describe() for p in probes)
    if sane:
        return Check(NAME, "ok", detail)
    return Check(NAME, "warn", detail + ": the judge does not rank the local ranker's best matches"
                 " above its clear non-matches (or is slow, or its JSON is broken); see README,"
                 " The LLM judge")
