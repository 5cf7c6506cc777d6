"""SendGrid Event Webhook events: recorded once each, and what they change.

A batch is applied in one transaction: each new event is stored (de-duplicated by `sg_event_id`,
since SendGrid retries a batch it thinks failed), a delivery we were unsure about (`unknown`) is
settled as sent once SendGrid shows it processed the message, and a hard bounce or a spam report
puts the address on the suppression list.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from newsletter.db import Database, delivery_transitions, subscribers
from newsletter.db.subscribers import SuppressionSource

log = logging.getLogger(__name__)

# The events we keep. Opens and clicks are off (no trackers); others are of no use to us.
RECORDED = frozenset({"processed", "delivered", "deferred", "bounce", "dropped", "spamreport"})
# SendGrid drops mail to addresses on its own lists; these reasons mean the address is gone for good.
_DROPPED_FOR_GOOD: dict[str, SuppressionSource] = {
    "bounced address": "bounce",
    "spam reporting address": "complaint",
}


class EventError(ValueError):
    """An event in the batch is malformed; the message names its position and field."""


@dataclass(frozen=True, slots=True)
class Event:
    sg_event_id: str
    event: str
    email: str
    digest_id: str | None = None
    sg_message_id: str | None = None
    bounce_type: str | None = None
    reason: str = ""
    occurred_at: str | None = None

    @property
    def hard_bounce(self) -> bool:
        # SendGrid: type "bounce" is a permanent failure, "blocked" a temporary refusal.
        return self.event == "bounce" and (self.bounce_type or "bounce") == "bounce"


@dataclass
class EventOutcome:
    recorded: int = 0
    duplicates: int = 0
    ignored: int = 0
    resolved: list[str] = field(default_factory=list)  # digest ids settled unknown → sent
    suppressed: list[str] = field(default_factory=list)  # addresses put on the suppression list

    def as_dict(self) -> dict[str, Any]:
        """Counts only: the answer goes back to SendGrid, addresses need not travel again."""
        return {"recorded": self.recorded, "duplicates": self.duplicates, "ignored": self.ignored,
                "resolved": len(self.resolved), "suppressed": len(self.suppressed)}


def _text(raw: Mapping[str, Any], name: str) -> str | None:
    value = raw.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def parse_event(raw: object, position: int) -> Event | None:
    """One event object of a webhook batch; None for event kinds we do not keep."""
    if not isinstance(raw, Mapping):
        raise EventError(f"event {position}: expected a JSON object, got {type(raw).__name__}")
    kind = _text(raw, "event")
    if kind is None:
        raise EventError(f"event {position}: the 'event' field is missing")
    if kind not in RECORDED:
        return None
    email = _text(raw, "email")
    if email is None or "@" not in email:
        raise EventError(f"event {position} ({kind}): the 'email' field is missing or not an address")
    event_id = _text(raw, "sg_event_id")
    if event_id is None:
        # SendGrid always sends one; without it the event's own content is its identity.
        digest = hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()
        event_id = f"sha256:{digest[:32]}"
    occurred = None
    stamp = raw.get("timestamp")
    if isinstance(stamp, (int, float)) and not isinstance(stamp, bool):
        try:
            occurred = dt.datetime.fromtimestamp(stamp, dt.UTC).isoformat()
        except (OverflowError, OSError, ValueError):
            occurred = None
    reason = _text(raw, "reason") or _text(raw, "response") or ""
    return Event(
        sg_event_id=event_id,
        event=kind,
        email=email.strip(),
        digest_id=_text(raw, "digest_id"),  # our custom_args come back as top-level fields
        sg_message_id=_text(raw, "sg_message_id"),
        bounce_type=_text(raw, "type"),
        reason=reason[:1000],
        occurred_at=occurred,
    )


def parse_batch(payload: object) -> list[Event | None]:
    """The webhook body (a JSON array of events), each checked; raises EventError naming the bad one."""
    if not isinstance(payload, list):
        raise EventError("the event webhook body must be a JSON array of events")
    return [parse_event(raw, position) for position, raw in enumerate(payload)]


def _suppression_for(event: Event) -> SuppressionSource | None:
    if event.hard_bounce:
        return "bounce"
    if event.event == "spamreport":
        return "complaint"
    if event.event == "dropped":
        return _DROPPED_FOR_GOOD.get(event.reason.strip().lower())
    return None


def apply_events(db: Database, events: Sequence[Event | None], now: dt.datetime) -> EventOutcome:
    """Store the new events and act on them, all in one transaction (all or nothing)."""
    outcome = EventOutcome()
    with db.tx() as conn:
        for event in events:
            if event is None:
                outcome.ignored += 1
                continue
            inserted = conn.execute(
                "INSERT OR IGNORE INTO events(sg_event_id, event, email, digest_id, sg_message_id,"
                " bounce_type, reason, occurred_at, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (event.sg_event_id, event.event, event.email, event.digest_id, event.sg_message_id,
                 event.bounce_type, event.reason, event.occurred_at, now.isoformat()),
            ).rowcount
            if not inserted:
                outcome.duplicates += 1
                continue
            outcome.recorded += 1
            # Any event about a digest proves SendGrid took the request: an `unknown` is settled.
            if event.digest_id and delivery_transitions.resolve_unknown_as_sent(db, event.digest_id, now):
                log.info("delivery %s settled as sent by a %s event", event.digest_id, event.event)
                outcome.resolved.append(event.digest_id)
            source = _suppression_for(event)
            if source is not None and subscribers.suppress(
                db, event.email, source, now,
                message_id=event.sg_event_id,
                detail=f"SendGrid {event.event}: {event.reason}".strip(": "),
            ):
                log.info("%s suppressed after a %s event", event.email, event.event)
                outcome.suppressed.append(event.email)
    return outcome


def settle_unknown(db: Database, now: dt.datetime) -> list[str]:
    """Settle `unknown` deliveries whose events arrived before they became unknown (a crash race)."""
    return delivery_transitions.settle_from_events(db, now)


def for_digest(db: Database, digest_id: str) -> list[Event]:
    rows = db.read().execute(
        "SELECT * FROM events WHERE digest_id=? ORDER BY occurred_at, received_at", (digest_id,)
    ).fetchall()
    return [
        Event(sg_event_id=r["sg_event_id"], event=r["event"], email=r["email"], digest_id=r["digest_id"],
              sg_message_id=r["sg_message_id"], bounce_type=r["bounce_type"], reason=r["reason"],
              occurred_at=r["occurred_at"])
        for r in rows
    ]


def counts(db: Database, digest_ids: Sequence[str] | None = None) -> dict[str, int]:
    """How many events of each kind (optionally for some digest ids) — for reports and health."""
    sql = "SELECT event, COUNT(*) AS n FROM events"
    params: list[str] = []
    if digest_ids is not None:
        sql += f" WHERE digest_id IN ({','.join('?' * len(digest_ids))})"
        params = list(digest_ids)
    rows = db.read().execute(sql + " GROUP BY event", params).fetchall()
    return {str(r["event"]): int(r["n"]) for r in rows}


@dataclass(frozen=True, slots=True)
class MailEventCounts:
    """What SendGrid reported in a span of time: the admin's daily cost line shows it."""

    delivered: int = 0
    bounces: int = 0
    hard_bounces: int = 0  # of the bounces, the permanent ones (the address is suppressed)
    spam_reports: int = 0


def received_counts(db: Database, since: dt.datetime, until: dt.datetime) -> MailEventCounts:
    """Events received on /events after `since` up to `until` (by when they arrived, so that
    consecutive spans count each event once, however late SendGrid sends it)."""
    row = db.read().execute(
        "SELECT COALESCE(SUM(event = 'delivered'), 0), COALESCE(SUM(event = 'bounce'), 0),"
        " COALESCE(SUM(event = 'bounce' AND COALESCE(bounce_type, 'bounce') = 'bounce'), 0),"
        " COALESCE(SUM(event = 'spamreport'), 0)"
        " FROM events WHERE received_at > ? AND received_at <= ?",
        (since.astimezone(dt.UTC).isoformat(), until.astimezone(dt.UTC).isoformat()),
    ).fetchone()
    return MailEventCounts(*(int(value) for value in row))
