"""Admin alerts: a short email to NEWSLETTER_ADMIN_EMAIL when something needs a human.

The kinds: a fetch that failed past the retry bound, the feed disagreeing with the holiday table
(a day it calls closed was announced, or a day it expects never came), a run that left failed or
`unknown` deliveries, roster rows that cannot be served (a hand edit gone wrong), one cost line
per announcement day (LLM tokens and dollars), readers' replies, and the LLM judge running past
its deadline or scoring a day degenerately (once per kind and day).
This module says what each alert says; `newsletter.service.alerter` sends them, each at most once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from newsletter.daily.summary import JudgeProblem, RunSummary
from newsletter.db import Database
from newsletter.db import alerts as alert_log
from newsletter.db import events as event_store
from newsletter.db import feedback as feedback_db
from newsletter.db.audits import AuditTotals
from newsletter.db.runs import DayCost
from newsletter.logs import mask_secrets
from newsletter.settings import Settings

log = logging.getLogger(__name__)


AlertKind = Literal["fetch", "calendar", "run", "roster", "cost", "feedback", "judge"]


@dataclass(frozen=True, slots=True)
class Alert:
    kind: AlertKind
    key: str  # what it is about: the same (kind, key) is sent once
    day: dt.date  # the announcement date it concerns (the outbox folder)
    subject: str
    lines: tuple[str, ...]

    def __post_init__(self) -> None:
        # Error texts quote URLs (the feed's, with its credentials if it has any) and exceptions:
        # the mail to the admin is masked like the log.
        object.__setattr__(self, "subject", mask_secrets(self.subject))
        object.__setattr__(self, "lines", tuple(mask_secrets(line) for line in self.lines))

    @property
    def text(self) -> str:
        return "\n".join(self.lines) + "\n"

    @property
    def html(self) -> str:
        items = "".join(f"<li>{html.escape(line)}</li>" for line in self.lines[1:])
        head = f"<p>{html.escape(self.lines[0])}</p>" if self.lines else ""
        return f"<!doctype html><html><body>{head}<ul>{items}</ul></body></html>"


def alert_digest(parts: Sequence[str]) -> str:
    """A short stable digest of `parts` (in any order), for alert keys and mail ids."""
    return hashlib.sha256("\n".join(sorted(parts)).encode()).hexdigest()[:12]


def fetch_alert(want: dt.date, error: str, *, waited: dt.timedelta) -> Alert:
    """`waited`: since the feed should have shown the day (a late-started service waited less)."""
    hours = waited.total_seconds() / 3600
    return Alert(
        kind="fetch",
        key=want.isoformat(),
        day=want,
        subject=f"arXiv Digest: the announcement of {want:%a %Y-%m-%d} could not be fetched",
        lines=(
            f"The announcement dated {want:%A %Y-%m-%d} is still not stored {hours:.1f} h after arXiv's"
            " feed should have shown it.",
            f"Last error: {error}",
            "The service keeps trying once an hour until the next announcement is due, and sends the"
            " digests as soon as the day is stored, to readers whose morning has not passed. Check the"
            f" feed URL; `newsletter run --date {want.isoformat()}` fetches and sends at once.",
        ),
    )


def closed_day_shown_alert(day: dt.date) -> Alert:
    """The feed showed an announcement dated `day`, which the holiday table calls closed."""
    return Alert(
        kind="calendar",
        key=f"shown:{day.isoformat()}",
        day=day,
        subject=f"arXiv Digest: arXiv announced on {day:%a %Y-%m-%d}, a day our calendar calls closed",
        lines=(
            f"arXiv's feed shows an announcement dated {day:%A %Y-%m-%d}; the built-in holiday table"
            " says there is none. The feed is trusted: the day was fetched and is sent as usual.",
            "arXiv edits its closures during the year; the table only schedules the fetches and says"
            " when the feed is late, so nothing needs doing.",
        ),
    )


# A feed this many days behind the expected day is not a closure (arXiv's longest is about a
# week, at the year's end): it is a saved feed file or a feed that stopped.
_STUCK_AFTER = dt.timedelta(days=10)


def expected_day_missing_alert(want: dt.date, feed_date: dt.date, *, waited: dt.timedelta) -> Alert:
    """The table expected `want`, but the feed, answering normally, still shows `feed_date`."""
    hours = waited.total_seconds() / 3600
    freeze = want - dt.timedelta(days=3 if want.weekday() == 0 else 1)
    stuck = want - feed_date > _STUCK_AFTER
    subject = (f"arXiv Digest: the feed is stuck on {feed_date:%Y-%m-%d}" if stuck else
               f"arXiv Digest: no announcement dated {want:%a %Y-%m-%d} (a closure our calendar lacks?)")
    cause = (
        f"The feed is {(want - feed_date).days} days behind: that is no closure. Check"
        " NEWSLETTER_ARXIV_FEED_URL (a saved feed file or a copy does not move on its own)."
        if stuck else
        "Most likely arXiv was closed (a closure the built-in table lacks: add"
        f" {freeze.isoformat()} to NEWSLETTER_ARXIV_EXTRA_HOLIDAYS to say so), or its feed is stuck."
    )
    return Alert(
        kind="calendar",
        key=f"missing:{want.isoformat()}",
        day=want,
        subject=subject,
        lines=(
            f"The holiday table expected an announcement dated {want:%A %Y-%m-%d}, but {hours:.1f} h"
            f" after it should have appeared arXiv's feed still shows {feed_date:%A %Y-%m-%d}.",
            cause,
            "Nothing is sent for a day the feed never shows, and it is not rebuilt from the API. The"
            " service keeps looking once an hour and sends the next day the feed shows as usual.",
        ),
    )


def run_alert(
    digest_date: dt.date, failed: Mapping[str, str], unknown: Sequence[str], fatal: str | None = None
) -> Alert | None:
    """None when the run needs no human: nothing failed and nothing is `unknown`."""
    if not failed and not unknown and not fatal:
        return None
    lines = [f"The delivery run for {digest_date:%a %Y-%m-%d} needs a look."]
    if fatal:
        lines.append(f"The run stopped: {fatal}")
    lines += [f"failed: {address}: {reason}" for address, reason in sorted(failed.items())]
    if unknown:
        lines.append(f"unknown (interrupted mid-send, maybe delivered): {', '.join(sorted(unknown))};"
                     " check the provider's log, then `newsletter run --resend-unknown` or leave them")
    key_parts = [f"f:{a}" for a in failed] + [f"u:{a}" for a in unknown] + ([f"x:{fatal}"] if fatal else [])
    count = len(failed) + len(unknown)
    return Alert(
        kind="run",
        key=f"{digest_date.isoformat()}:{alert_digest(key_parts)}",
        day=digest_date,
        subject=f"arXiv Digest: {count or 'a'} delivery problem(s) on {digest_date:%Y-%m-%d}",
        lines=tuple(lines),
    )


_LINE_NUMBER = re.compile(r"\bline \d+")


def roster_alert(day: dt.date, problems: Sequence[str]) -> Alert | None:
    """Rows of subscribers.csv that nobody is served from; sent once per announcement day."""
    if not problems:
        return None
    # Line numbers stay out of the key: an edit above a broken row moves it but fixes nothing.
    unnumbered = [_LINE_NUMBER.sub("", problem) for problem in problems]
    return Alert(
        kind="roster",
        key=f"{day.isoformat()}:{alert_digest(unnumbered)}",
        day=day,
        subject=f"arXiv Digest: {len(problems)} problem(s) in the subscriber list on {day:%Y-%m-%d}",
        lines=(
            "These rows of the subscriber list are skipped until they are fixed"
            " (`newsletter subscribers check` lists them):",
            *problems,
        ),
    )


def roster_file_alert(day: dt.date, error: str) -> Alert:
    """The subscriber list as a whole cannot be read: nobody is served; sent once per announcement day."""
    return Alert(
        kind="roster",
        key=f"{day.isoformat()}:file:{alert_digest([error])}",
        day=day,
        subject=f"arXiv Digest: the subscriber list cannot be read on {day:%Y-%m-%d}",
        lines=(
            "No reader is served until the subscriber list is fixed (`newsletter subscribers check`"
            " says the same); the service still fetches the categories it last read:",
            error,
        ),
    )


_FEEDBACK_SHOWN = 20  # replies quoted in one alert; `newsletter feedback` lists them all
_EXCERPT_CHARS = 300


def feedback_alert(db: Database, day: dt.date, admin: str) -> Alert | None:
    """Replies that were not unsubscribes, stored since the last such alert (the admin's own
    replies left out). Someone who left by mistake is told to reply so the admin adds them back:
    the admin must hear of it without polling `newsletter feedback`."""
    rows = feedback_db.after(db, alert_log.last_feedback_id(db))
    if not rows:
        return None
    mine = admin.strip().lower()
    replies = [r for r in rows if r["email"].lower() != mine]
    if not replies:
        return None
    key = str(rows[-1]["id"])
    lines = [f"{len(replies)} new reply(ies) from readers (`newsletter feedback` lists them all):"]
    for reply in replies[-_FEEDBACK_SHOWN:]:
        text = " ".join(f"{reply['subject']} | {reply['body']}".split())
        excerpt = text if len(text) <= _EXCERPT_CHARS else text[: _EXCERPT_CHARS - 1] + "…"
        lines.append(f"{reply['email']} at {reply['received_at'][:16]}: {excerpt}")
    if len(replies) > _FEEDBACK_SHOWN:
        lines.append(f"… and {len(replies) - _FEEDBACK_SHOWN} earlier one(s)")
    return Alert(kind="feedback", key=key, day=day,
                 subject=f"arXiv Digest: {len(replies)} new reply(ies) from readers", lines=tuple(lines))


# Gmail asks bulk senders to keep spam reports under 0.3 % of the mail delivered (0.1 % is safe).
SPAM_RATE_LIMIT = 0.003


def mail_events(db: Database, settings: Settings, now: dt.datetime) -> event_store.MailEventCounts | None:
    """SendGrid's events received since the last cost line (the day before, for the first), for
    the next cost line; None without SendGrid (the outbox has no events)."""
    if not settings.uses_sendgrid:
        return None
    since = alert_log.last_sent_at(db, "cost") or now - dt.timedelta(days=1)
    return event_store.received_counts(db, min(since, now), now)


def _events_text(mail: event_store.MailEventCounts) -> str:
    text = (f"SendGrid since the last cost line: {mail.delivered} delivered, {mail.bounces} bounce(s)"
            f" ({mail.hard_bounces} hard), {mail.spam_reports} spam report(s)")
    if mail.spam_reports and mail.delivered:
        rate = mail.spam_reports / mail.delivered
        text += f" ({rate:.2%} of delivered"
        above = rate >= SPAM_RATE_LIMIT
        text += "; Gmail and Yahoo spam-folder or refuse a sender above 0.3%)" if above else ")"
    return text


def cost_alert(
    cost: DayCost, audits: AuditTotals | None = None, mail: event_store.MailEventCounts | None = None
) -> Alert:
    """The day's cost line, SendGrid's bounces and spam reports since the last one (`mail`, when
    mail goes through SendGrid), and what the day's audits (if any) measured of the cut."""
    line = (f"{cost.digest_date:%Y-%m-%d}: {cost.served} digest(s) served, {cost.failures} failure(s);"
            f" LLM {cost.llm_calls} call(s), {cost.prompt_tokens:,} prompt + {cost.completion_tokens:,}"
            f" completion tokens, ${cost.cost_usd:.4f}")
    if mail is not None:
        line += f"; {_events_text(mail)}"
    lines = [line]
    if audits is not None and audits.audits:
        lines.append(f"audit day for {audits.audits} criteria text(s): {audits.describe()}")
    return Alert(kind="cost", key=cost.digest_date.isoformat(), day=cost.digest_date,
                 subject=f"arXiv Digest: cost of {cost.digest_date:%Y-%m-%d}: ${cost.cost_usd:.2f}",
                 lines=tuple(lines))


_JUDGE_ADVICE = {
    "deadline": "The LLM stage ran out of time (NEWSLETTER_LLM_DEADLINE_MINUTES); the rest of the day"
                " was ranked by the local ranker. A slow or overloaded model: a faster one, a longer"
                " deadline, or fewer papers per call (NEWSLETTER_LLM_BATCH_SIZE).",
    "degenerate": "The LLM judge's scores of the day do not rank the papers (`newsletter check`"
                  " measures the judge on stored papers). Small local models often do this.",
}


def judge_alerts(summary: RunSummary) -> list[Alert]:
    """One alert per kind of LLM judge problem and announcement day (the first run to meet it)."""
    day = summary.digest_date
    by_kind: dict[str, list[JudgeProblem]] = {}
    for problem in summary.scoring.judge_problems:
        by_kind.setdefault(problem.kind, []).append(problem)
    subjects = {"deadline": "the LLM judge ran past its deadline",
                "degenerate": "the LLM judge's scores look degenerate"}
    return [
        Alert(kind="judge", key=f"{day.isoformat()}:{kind}", day=day,
              subject=f"arXiv Digest: {subjects[kind]} on {day:%Y-%m-%d}",
              lines=(_JUDGE_ADVICE[kind], *(p.detail for p in problems)))
        for kind, problems in sorted(by_kind.items())
    ]
