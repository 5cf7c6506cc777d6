"""The roster as `newsletter subscribers list` and `show` print it: one row per reader on the
roster (with the values the reader set), one per reader who left and was since taken off it."""

from __future__ import annotations

import calendar
from typing import Any

from newsletter.db import Database
from newsletter.db import deliveries as delivery_store
from newsletter.db import subscribers as subscriber_store
from newsletter.readers.preferences import with_overrides
from newsletter.readers.roster import load_roster
from newsletter.settings import Settings


def roster_rows(settings: Settings, db: Database) -> tuple[list[dict[str, Any]], list[str]]:
    """The roster's subscribers (and those who left) as rows, and the roster rows that cannot be listed."""
    roster = with_overrides(load_roster(settings.subscribers, settings), db)
    gone = subscriber_store.suppressions(db)
    last = delivery_store.last_deliveries(db)
    rows = []
    for s in roster.subscribers:
        left = gone.get(s.email.lower())
        delivery = last.get(s.email.lower())
        rows.append(
            {
                "email": s.email,
                "name": s.name,
                "status": "unsubscribed" if left else "active",
                "left_at": left.at if left else None,
                "left_how": left.source if left else None,
                "criteria": str(s.criteria_path),
                "categories": list(s.categories),
                "timezone": s.timezone,
                "send_at": s.send_at.strftime("%H:%M"),
                "authors": list(s.authors),
                "frequency": s.frequency,
                "weekday": s.weekday,
                "paused_until": s.paused_until.isoformat() if s.paused_until else None,
                "max_papers": s.max_papers,
                "min_relevance": s.min_relevance,
                "max_per_topic": s.max_per_topic,
                "from_reader": sorted(s.from_reader),
                "last_digest": delivery.digest_date.isoformat() if delivery else None,
                "last_status": delivery.status if delivery else None,
                "last_error": delivery.error if delivery else None,
            }
        )
    listed = {str(r["email"]).lower() for r in rows}
    for email, left in gone.items():  # people who left and were since taken off the CSV too
        if email not in listed:
            rows.append(
                {
                    "email": left.email,
                    "name": "",
                    "status": "unsubscribed",
                    "left_at": left.at,
                    "left_how": left.source,
                    "criteria": None,
                    "categories": [],
                    "timezone": None,
                    "send_at": None,
                    "authors": [],
                    "from_reader": [],
                    "last_digest": None,
                    "last_status": None,
                    "last_error": None,
                }
            )
    return rows, [str(problem) for problem in roster.problems]


def status_of(row: dict[str, Any], today: str) -> str:
    """active, paused until a date, weekly on a day, or when and how the reader left."""
    if row["status"] != "active":
        return f"left {row['left_at'][:10]} ({row['left_how']})"
    if row.get("paused_until") and row["paused_until"] > today:
        return f"paused until {row['paused_until']}"
    if row.get("frequency") == "weekly":
        return f"active, weekly on {calendar.day_name[row['weekday']]}"
    return "active"
