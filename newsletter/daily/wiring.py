"""The outside world as the daily cycle sees it (`Adapters`), and the one place that builds the
real ones from the settings: arXiv, the local ranker and the LLM judge, the score cache, the mail."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from newsletter.channels.transport import AppriseChannelPoster, ChannelPoster
from newsletter.clock import Clock, utc_now
from newsletter.db import Database
from newsletter.db.runs import spend_on
from newsletter.db.scores import DatabaseScoreCache
from newsletter.fetch import AnnouncementSource, ArxivSource
from newsletter.mail.base import Transport
from newsletter.mail.outbox import OutboxTransport
from newsletter.models import Score
from newsletter.ranking.base import Judge, Ranker, ScoreCache
from newsletter.ranking.local import LocalRanker, llm_candidates
from newsletter.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Adapters:
    """The outside world, as the daily cycle sees it."""

    source: AnnouncementSource
    ranker: Ranker
    judge: Judge | None
    cache: ScoreCache | None
    cut: Callable[[Sequence[Score]], list[str]]
    transport: Transport
    clock: Clock = field(default=utc_now)
    poster: ChannelPoster = field(default_factory=AppriseChannelPoster)  # chat channels (Apprise)


def build_transport(settings: Settings) -> Transport:
    """SendGrid when a key is set, else the outbox folder (the embedded default)."""
    if settings.uses_sendgrid:
        from newsletter.mail.sendgrid import SendGridTransport

        return SendGridTransport.from_settings(settings)
    return OutboxTransport(settings.outbox_dir)


def build_judge(settings: Settings, db: Database, digest_date: dt.date | None) -> Judge | None:
    if not settings.llm_model:
        return None
    from newsletter.ranking.budget import Budget
    from newsletter.ranking.llm import LiteLLMJudge

    budget = None
    if settings.llm_daily_budget_usd is not None:
        spent = spend_on(db, digest_date) if digest_date else 0.0
        budget = Budget(settings.llm_daily_budget_usd, spent_usd=spent)
    return LiteLLMJudge(
        settings.llm_model,
        api_base=settings.llm_api_base or None,
        api_key=settings.llm_api_key.get_secret_value() or None,
        batch_size=settings.llm_batch_size,
        concurrency=settings.llm_concurrency,
        timeout=settings.llm_timeout,
        budget=budget,
        deadline_seconds=settings.llm_deadline_minutes * 60,
    )


def audit_every_for(settings: Settings, db: Database, digest_date: dt.date) -> int:
    """`NEWSLETTER_LLM_AUDIT_EVERY`, or 0 (no audit) once half the day's LLM budget is spent: an
    audit must not leave a later run of the day (a retry, a new reader) without budget."""
    cap = settings.llm_daily_budget_usd
    if cap is not None and settings.llm_audit_every and spend_on(db, digest_date) >= cap / 2:
        log.info("no audit day on %s: half the daily LLM budget is spent", digest_date)
        return 0
    return settings.llm_audit_every


def build_adapters(settings: Settings, db: Database, digest_date: dt.date | None = None) -> Adapters:
    source = ArxivSource(
        settings.arxiv_feed_url,
        settings.arxiv_api_url,
        timeout=settings.http_timeout,
        include_replacements=settings.include_replacements,
        extra_holidays=settings.extra_holidays,
    )
    return Adapters(
        source=source,
        ranker=LocalRanker(),
        judge=build_judge(settings, db, digest_date),
        cache=DatabaseScoreCache(db),
        cut=llm_candidates,
        transport=build_transport(settings),
        poster=AppriseChannelPoster(timeout=settings.http_timeout),
    )
