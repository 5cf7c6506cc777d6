"""The rows of `newsletter check` that ask an outside service: arXiv (feed and API), the LLM (one
tiny request), SendGrid (sandbox mode: sends nothing) and the DNS records that make mail arrive."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from newsletter.cli.check_result import Check
from newsletter.logs import mask_secrets
from newsletter.readers.roster import Roster
from newsletter.settings import Settings

if TYPE_CHECKING:
    from newsletter.fetch import ArxivSource


def check_arxiv(settings: Settings, roster: Roster | None, now: dt.datetime) -> list[Check]:
    """The feed (today's list) and the API (backfills and the authors' comments): both must answer."""
    from newsletter.fetch import ArxivSource, FetchError, RetryPolicy
    from newsletter.fetch.calendar import FEED_LAG, latest_announcement_date

    categories = sorted({c for s in (roster.subscribers if roster else []) for c in s.categories}
                        or set(settings.default_categories))
    source = ArxivSource(settings.arxiv_feed_url, settings.arxiv_api_url, timeout=settings.http_timeout,
                         include_replacements=settings.include_replacements, retry=RetryPolicy(attempts=1))
    try:
        try:
            readable = source.readable_categories(categories)  # a folder feed may lack some
            page = source.fetch_feed(readable)
        except FetchError as exc:
            return [Check("arXiv feed", "fail", str(exc)),
                    Check("arXiv API", "skip", "needs a paper id from the feed")]
        want = latest_announcement_date(now, settings.extra_holidays, lag=FEED_LAG)  # as `newsletter run`
        detail = f"{page.url}: dated {page.date}, {len(page.papers)} paper(s)"
        if missing := sorted(set(categories) - set(readable)):
            detail += f"; it holds no {', '.join(missing)}: {_unserved(roster, missing)}"
        feed = (Check("arXiv feed", "warn", f"{detail}; the announcement of {want} is not there yet")
                if page.date < want else Check("arXiv feed", "warn" if missing else "ok", detail))
        if urlsplit(settings.arxiv_feed_url).scheme.lower() not in ("http", "https"):
            # a saved feed (the Quickstart's, a test site): nothing here needs the network
            return [feed, Check("arXiv API", "skip", "the feed is a local file (NEWSLETTER_ARXIV_FEED_URL)")]
        return [feed, _check_api(source, [p.arxiv_id for p in page.papers[:1]], settings)]
    finally:
        source.close()


def _unserved(roster: Roster | None, missing: list[str]) -> str:
    """Who a feed folder lacking `missing` leaves out, by address: the admin's next step is to
    change those rows (or add the feed file), and the run will count them as failed."""
    them = "it" if len(missing) == 1 else "them"
    emails = [s.email for s in (roster.subscribers if roster else []) if set(s.categories) & set(missing)]
    if not emails:
        return f"readers with {them} are not served"
    shown = ", ".join(emails[:3]) + (f" and {len(emails) - 3} more" if len(emails) > 3 else "")
    return (f"readers with {them} are not served ({shown}): their digests fail until a file"
            f" holds {them}")


def _check_api(source: ArxivSource, ids: list[str], settings: Settings) -> Check:
    from newsletter.fetch import FetchError

    if not ids:
        return Check("arXiv API", "skip", "the feed lists no paper to look up")
    try:
        found = source.lookup(ids)
    except FetchError as exc:
        return Check("arXiv API", "fail", f"NEWSLETTER_ARXIV_API_URL: {exc}")
    return Check("arXiv API", "ok", f"{settings.arxiv_api_url}: found {', '.join(found)}")

def check_llm(settings: Settings) -> Check:
    if not settings.llm_model:
        return Check("LLM", "skip", "NEWSLETTER_LLM_MODEL unset: the local ranker alone")
    import litellm

    litellm.suppress_debug_info = True
    try:
        response = litellm.completion(
            model=settings.llm_model,
            messages=[{"role": "user", "content": "Reply with the word OK."}],
            max_tokens=5,
            api_base=settings.llm_api_base or None,
            api_key=settings.llm_api_key.get_secret_value() or None,
            timeout=min(settings.llm_timeout, 30.0),
        )
    except Exception as exc:  # litellm maps every provider failure to its own exception types
        return Check("LLM", "fail", _llm_failure(settings, exc))
    usage = getattr(response, "usage", None)
    tokens = getattr(usage, "total_tokens", None)
    return Check("LLM", "ok", f"{settings.llm_model} answered" + (f" ({tokens} tokens)" if tokens else ""))


def _llm_failure(settings: Settings, exc: Exception) -> str:
    """One line: what failed, cut at a word, and which of our settings to look at for a key
    problem (litellm names the provider's own variable, e.g. OPENAI_API_KEY)."""
    key = settings.llm_api_key.get_secret_value()
    # A provider's error text may echo the Authorization header: never print the key.
    reason = " ".join(mask_secrets(str(exc), [key]).split())
    if len(reason) > 240:
        reason = reason[:240].rsplit(" ", 1)[0] + " …"
    text = f"{settings.llm_model}: {type(exc).__name__}: {reason}"
    said = f"{type(exc).__name__} {reason}".lower()
    if any(word in said for word in ("authentication", "api key", "api_key", "credentials", "401")):
        text += ("; NEWSLETTER_LLM_API_KEY is not set" if not key
                 else "; check NEWSLETTER_LLM_API_KEY (the provider refused it)")
    return text

def check_sendgrid(settings: Settings, now: dt.datetime) -> Check:
    if not settings.uses_sendgrid:
        return Check("SendGrid", "skip", f"SENDGRID_API_KEY unset: mail goes to {settings.outbox_dir}")
    from newsletter.mail.base import SendError
    from newsletter.mail.sendgrid import sandbox_check

    try:
        sandbox_check(settings, now=now)
    except SendError as exc:
        return Check("SendGrid", "fail", str(exc))
    return Check("SendGrid", "ok", f"{settings.sendgrid_host} accepted a sandbox message (nothing sent)")

def check_dns(settings: Settings) -> list[Check]:
    """The From and reply domains' records for SendGrid (newsletter/mail/dns_records.py)."""
    if not settings.uses_sendgrid:
        return [Check("DNS", "skip", "SENDGRID_API_KEY unset: no mail leaves this machine")]
    from newsletter.mail.dns_records import Nameserver, sender_records
    from newsletter.setting_values import parse_nameserver

    server = Nameserver(*parse_nameserver(settings.dns_server)) if settings.dns_server else None
    from_domain = settings.from_email.rpartition("@")[2]
    rows = sender_records(from_domain, settings.reply_domain, nameserver=server,
                          timeout=min(settings.http_timeout, 5.0))
    return [Check(row.name, row.status, row.detail) for row in rows]
