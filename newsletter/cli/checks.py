"""`newsletter check`: is everything in place? Settings, roster, criteria, templates, database,
and where configured arXiv (feed and API), the LLM (one tiny request), SendGrid (sandbox mode:
sends nothing) and the DNS records that make mail arrive (SPF, DKIM, DMARC, the reply MX).

Each check is a function returning a `Check` (the rows that ask an outside service are in
`remote_checks.py`, the judge probe in `judge_checks.py`); `run_checks` prints them as one table and returns
the exit code: 1 when any check failed, 0 otherwise (warnings do not fail).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from newsletter.cli.check_result import STYLE, Check
from newsletter.cli.remote_checks import check_arxiv, check_dns, check_llm, check_sendgrid
from newsletter.clock import utc_now
from newsletter.db import Database, DatabaseError, deliveries
from newsletter.models import Digest, DigestEntry, Paper, Score, Subscriber
from newsletter.readers.enrol import CRITERIA_FOLDER
from newsletter.readers.roster import Roster, RosterError, load_roster
from newsletter.settings import Settings, unknown_names

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

def check_settings(settings: Settings) -> Check:
    notes = []
    if not settings.public_url.startswith("https://"):
        notes.append(f"NEWSLETTER_PUBLIC_URL {settings.public_url} is not HTTPS: mail clients ignore"
                     " one-click unsubscribe links that are not")
    if not settings.webhook_username or not settings.webhook_password.get_secret_value():
        notes.append("NEWSLETTER_WEBHOOK_USERNAME/PASSWORD unset: POST /inbound refuses all replies")
    if settings.uses_sendgrid and settings.from_email.endswith("@localhost"):
        return Check("settings", "fail", "SENDGRID_API_KEY is set but NEWSLETTER_FROM_EMAIL is"
                     f" {settings.from_email}: set a sender address SendGrid has verified")
    if not settings.admin_email:
        notes.append("NEWSLETTER_ADMIN_EMAIL unset: alerts and the daily cost line are only logged")
    if unknown := unknown_names(os.environ):
        notes.append(f"not a setting, ignored: {', '.join(unknown)}")
    return Check("settings", "warn" if notes else "ok", "; ".join(notes) or "loaded")


def check_signup(settings: Settings) -> Check:
    """With sign-up on, the service itself adds readers: a roster it cannot write fails every
    confirmation (in Docker, until `chown -R 10001 ./config`), and nobody would see why."""
    roster = settings.subscribers.resolve()
    # the roster is replaced through a temporary file beside it; criteria files go to criteria/
    folders = [roster.parent] + [f for f in (roster.parent / CRITERIA_FOLDER,) if f.exists()]
    stuck = [str(f) for f in (roster, *folders) if f.exists() and not os.access(f, os.W_OK)]
    if stuck:
        return Check("sign-up", "fail", f"NEWSLETTER_SIGNUP={settings.signup} but this user cannot write"
                     f" {', '.join(stuck)}: confirmed sign-ups would fail to add the reader")
    return Check("sign-up", "ok", f"{settings.signup}: {settings.public_url.rstrip('/')}/signup; the roster"
                 " and its criteria folder are writable")


def check_roster(settings: Settings) -> tuple[Check, Roster | None]:
    try:
        roster = load_roster(settings.subscribers, settings)
    except RosterError as exc:
        return Check("roster", "fail", str(exc)), None
    other = [p for p in roster.problems if p.column != "criteria"]
    if other:
        more = f"; … {len(other) - 5} more" if len(other) > 5 else ""
        shown = "; ".join(str(p) for p in other[:5]) + more
        return Check("roster", "fail", f"{len(other)} problem(s): {shown}"), roster
    if not roster.subscribers and not roster.problems:
        return Check("roster", "warn", f"{settings.subscribers}: no subscribers yet"), roster
    served = f"{settings.subscribers}: {len(roster.subscribers)} subscriber(s)"
    if roster.problems:  # criteria problems only: that row says what; this one must not read "all fine"
        rows = len({p.line for p in roster.problems})
        return Check("roster", "ok", f"{served}; {rows} row(s) not served (see criteria)"), roster
    return Check("roster", "ok", served), roster


def check_criteria(roster: Roster | None) -> Check:
    if roster is None:
        return Check("criteria", "skip", "no roster")
    bad = [p for p in roster.problems if p.column == "criteria"]
    if bad:
        return Check("criteria", "fail", "; ".join(str(p) for p in bad[:5]))
    texts = {s.criteria for s in roster.subscribers}
    return Check("criteria", "ok", f"{len(texts)} distinct criteria text(s), all readable")


def check_templates(settings: Settings) -> Check:
    """Render a one-paper digest through the real templates (Markdown and MJML → HTML)."""
    from newsletter.render import render_digest

    paper = Paper("2508.00001", "A <check> of the templates & their escaping", ("A. Author", "B. Author"),
                  "An abstract with <angle brackets> & ampersands.", ("cs.CV",))
    reader = Subscriber(email="check@example.org", criteria="Papers about templates.",
                        criteria_path=Path("check.md"))
    digest = Digest(reader, dt.date(2025, 8, 28),
                    (DigestEntry(paper, Score(paper.arxiv_id, 8, 6, "It matches.", "local")),))
    try:
        rendered = render_digest(digest, unsubscribe_url=f"{settings.public_url}/unsubscribe/check",
                                 reply_to=f"u-check@{settings.reply_domain}")
    except Exception as exc:  # any template error is what this check is for
        return Check("templates", "fail", f"rendering a sample digest failed: {exc}")
    if "&lt;angle brackets&gt;" not in rendered.html:
        return Check("templates", "fail", "the HTML template does not escape paper text")
    return Check("templates", "ok", f"sample digest: {len(rendered.markdown)} B Markdown,"
                 f" {len(rendered.html)} B HTML")


def check_database(settings: Settings) -> Check:
    try:
        db = Database.open(settings.db_path)
        try:
            version = db.migrate()
            deliveries.count_under_write_lock(db)  # proves we can take the write lock
        finally:
            db.close()
    except (DatabaseError, OSError) as exc:
        return Check("database", "fail", str(exc))
    except Exception as exc:  # sqlite3.OperationalError: locked, read-only, disk full
        return Check("database", "fail", f"{settings.db_path}: {exc}")
    return Check("database", "ok", f"{settings.db_path} (schema {version})")


AUDIT_WINDOW = dt.timedelta(days=90)


def check_cut(settings: Settings, roster: Roster | None, now: dt.datetime) -> Check:
    """What the audit days (newsletter/ranking/audit.py) measured of the cut in front of the LLM.

    Only the configured model and prompt, and only the criteria texts of today's roster count.
    """
    from newsletter.db.audits import audit_totals
    from newsletter.db.scores import criteria_hash
    from newsletter.ranking.llm import judge_cache_key

    name = "LLM cut"
    if not settings.llm_model:
        return Check(name, "skip", "no LLM: every paper is ranked locally")
    if settings.llm_audit_every < 1:
        return Check(name, "skip", "NEWSLETTER_LLM_AUDIT_EVERY=0: no audit days, the cut is not measured")
    texts = {criteria_hash(s.criteria) for s in roster.subscribers} if roster is not None else None
    try:
        db = Database.open(settings.db_path)
        try:
            totals = audit_totals(db, (now - AUDIT_WINDOW).date(),
                                  cache_key=judge_cache_key(settings.llm_model), criteria_hashes=texts)
        finally:
            db.close()
    except Exception:  # the database check reports what is wrong with the database
        return Check(name, "skip", "the database could not be read")
    left_out = f" ({totals.incomplete} incomplete left out)" if totals.incomplete else ""
    if not totals.audits:
        return Check(name, "ok", f"not measured yet for {settings.llm_model}{left_out}: about one day in"
                     f" {settings.llm_audit_every} per criteria text the LLM scores every paper"
                     " (NEWSLETTER_LLM_AUDIT_EVERY)")
    detail = (f"{settings.llm_model}, {totals.audits} audit day(s) in {AUDIT_WINDOW.days} days{left_out}:"
              f" {totals.describe()}")
    if totals.recall_high is None or totals.recall_high >= 0.95:
        return Check(name, "ok", detail)
    return Check(name, "warn", detail + "; the ranker learns from each audit day, and a lower"
                 " NEWSLETTER_LLM_AUDIT_EVERY audits more often")


def check_calendar(settings: Settings, now: dt.datetime) -> Check:
    from newsletter.fetch.calendar import EASTERN, KNOWN_HOLIDAYS, uncovered_years

    missing = uncovered_years(now.astimezone(EASTERN).date(), settings.extra_holidays)
    if missing:
        years = " and ".join(str(year) for year in missing)
        return Check("arXiv calendar", "warn", f"no arXiv holidays known for {years}: add the closures"
                     " arXiv publishes to NEWSLETTER_ARXIV_EXTRA_HOLIDAYS (YYYY-MM-DD, comma-separated),"
                     " or on those days the job expects an announcement and reports a stale feed")
    last = max(KNOWN_HOLIDAYS | set(settings.extra_holidays))
    return Check("arXiv calendar", "ok", f"holidays known up to {last.isoformat()}")


def check_outbox(settings: Settings) -> Check:
    """Without SendGrid every message is a file: the outbox folder must take one."""
    if settings.uses_sendgrid:
        return Check("outbox", "skip", "SENDGRID_API_KEY set: mail goes through SendGrid")
    folder = settings.outbox_dir
    # Nothing is created: the nearest folder that exists must let the outbox be made in it.
    existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("."))
    problem = f"cannot write in {existing} (NEWSLETTER_DATA_DIR)"
    if not existing.is_dir():
        return Check("outbox", "fail", f"{problem}: not a folder")
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".newsletter-check-"):
            pass
    except OSError as exc:
        return Check("outbox", "fail", f"{problem}: {exc.strerror or exc}")
    return Check("outbox", "ok", f"{folder} can be written")


def collect(settings: Settings, now: dt.datetime, *, network: bool = True) -> list[Check]:
    roster_check, roster = check_roster(settings)
    checks = [check_settings(settings), roster_check, check_criteria(roster), check_templates(settings),
              check_database(settings), check_outbox(settings), check_calendar(settings, now),
              check_cut(settings, roster, now)]
    if settings.signup != "off":
        checks.insert(2, check_signup(settings))
    if network:
        llm = check_llm(settings)
        checks += [*check_arxiv(settings, roster, now), llm, *_judge_rows(settings, roster, llm),
                   check_sendgrid(settings, now), *check_dns(settings)]
    return checks


def _judge_rows(settings: Settings, roster: Roster | None, llm: Check) -> list[Check]:
    """Whether the model judges sanely (newsletter/cli/judge_checks.py), once it answers at all."""
    from newsletter.cli.judge_checks import check_judge_quality

    if llm.status != "ok":
        return []
    return [check_judge_quality(settings, roster)]


def run_checks(
    settings: Settings, console: Console | None = None, *, now: dt.datetime | None = None,
    network: bool = True,
) -> int:
    """Print the table; 1 when anything failed, else 0."""
    out = console or Console(highlight=False)
    checks = collect(settings, now or utc_now(), network=network)
    table = Table(title="newsletter check", show_lines=False)
    table.add_column("check")
    table.add_column("status")
    table.add_column("detail", overflow="fold")
    for check in checks:
        style = STYLE[check.status]
        table.add_row(check.name, f"[{style}]{check.status}[/{style}]", escape(check.detail))
    out.print(table)
    failed = [c.name for c in checks if c.status == "fail"]
    if failed:
        out.print(f"[red]{len(failed)} check(s) failed:[/red] {escape(', '.join(failed))}")
        return 1
    warned = [c.name for c in checks if c.status == "warn"]
    if warned:  # "all passed" alone reads as nothing to do; the warnings are easy to scroll past
        out.print(f"[green]all checks passed[/green], [yellow]{len(warned)} with a warning:[/yellow] "
                  f"{escape(', '.join(warned))}")
        return 0
    out.print("[green]all checks passed[/green]")
    return 0
