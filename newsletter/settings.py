"""The one Settings class. Built once at the entry point (`load_settings`) and passed down.
What each value must look like is in `newsletter.setting_values`."""

from __future__ import annotations

import datetime as dt
import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from newsletter import setting_values as check

ENV_PREFIX = "NEWSLETTER_"


class ConfigError(Exception):
    """A setting is missing or bad; the message names the environment variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        populate_by_name=True,
        env_ignore_empty=True,  # VAR= in compose files means "not set", not "empty value"
    )

    subscribers: Path = Path("subscribers.csv")
    data_dir: Path = Path("var")
    arxiv_feed_url: str = "https://rss.arxiv.org/atom"
    arxiv_api_url: str = "https://export.arxiv.org/api/query"
    categories: str = "cs.CV"
    include_replacements: bool = False
    arxiv_extra_holidays: str = ""  # YYYY-MM-DD dates, comma-separated, beyond the built-in table
    http_timeout: float = Field(default=30.0, gt=0)

    llm_model: str = ""
    llm_api_base: str = ""
    llm_api_key: SecretStr = SecretStr("")
    llm_batch_size: int = Field(default=10, ge=1, le=50)
    llm_concurrency: int = Field(default=8, ge=1, le=64)
    llm_timeout: float = Field(default=60.0, gt=0)
    llm_daily_budget_usd: float | None = Field(default=None, ge=0)
    # How long one run's LLM stage may take; past it the rest of the day is ranked locally (and
    # the admin told). 30: the service starts scoring when arXiv's feed shows the day (00:30 US
    # Eastern); the earliest morning it serves that same calendar day is Central Europe's 07:00,
    # 30 minutes later in summer and winter alike (05:00 / 06:00 UTC). A cron `newsletter run` at
    # send time is at most this late. A hosted model needs seconds per call; a small local one
    # on 2 cores needed ~8 minutes for a reader's day (README, "The LLM judge").
    llm_deadline_minutes: float = Field(default=30.0, gt=0)
    # One announcement day in this many (per criteria text) the LLM scores every candidate, to
    # measure the cut and teach the ranker (newsletter/ranking/audit.py); 0 turns audits off.
    llm_audit_every: int = Field(default=10, ge=0)

    sendgrid_api_key: SecretStr = Field(default=SecretStr(""), validation_alias="SENDGRID_API_KEY")
    sendgrid_host: str = "https://api.sendgrid.com"
    sendgrid_webhook_public_key: str = Field(default="", validation_alias="SENDGRID_WEBHOOK_PUBLIC_KEY")
    send_concurrency: int = Field(default=4, ge=1, le=64)
    from_email: str = "digest@localhost"
    from_name: str = "arXiv Digest"
    reply_domain: str = "localhost"
    public_url: str = "http://localhost:8000"
    # Readers change their own settings on a page linked from every digest (issue 24); false hides
    # the link and refuses the page: every change goes through the admin again.
    self_service: bool = True
    webhook_username: str = ""
    webhook_password: SecretStr = SecretStr("")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)

    min_relevance: int = Field(default=5, ge=1, le=10)
    min_novelty: int = Field(default=1, ge=1, le=10)
    max_papers: int = Field(default=30, ge=1, le=500)
    send_empty: bool = False
    timezone: str = "UTC"
    send_at: dt.time = dt.time(7, 0)

    # The service's jobs (newsletter serve).
    delivery_interval: float = Field(default=300.0, gt=0)  # seconds between delivery ticks
    fetch_retry_interval: float = Field(default=900.0, gt=0)  # seconds between fetch attempts
    fetch_retry_hours: float = Field(default=8.0, gt=0)  # hours of tries once the feed should show a day
    max_send_runs: int = Field(default=3, ge=1)  # runs that may retry one failed digest
    overdue_grace_minutes: float = Field(default=30.0, gt=0)  # /healthz is 503 past this

    admin_email: str = ""
    # Papers, scores, runs and outbox/preview folders older than this many days are pruned by the
    # service once a day; 0 keeps everything. Below a week a day could go while still being sent.
    retention_days: int = Field(default=365, ge=0)
    # The resolver `newsletter check` asks for the mail domains' records; empty = the system's.
    dns_server: str = ""
    log_format: Literal["text", "json"] = "text"
    # The public sign-up page (web/signup.py): off, open (double opt-in) or approve (then the admin).
    signup: Literal["off", "open", "approve"] = "off"

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return check.known_timezone(value)

    @field_validator("send_at", mode="before")
    @classmethod
    def _hours_and_minutes(cls, value: object) -> object:
        """The roster's form; seconds would be silently dropped by the minute-wise schedule."""
        return check.parse_local_time(value) if isinstance(value, str) else value

    @field_validator("retention_days")
    @classmethod
    def _a_week_at_least(cls, value: int) -> int:
        return check.retention_days(value)

    @field_validator("dns_server")
    @classmethod
    def _nameserver(cls, value: str) -> str:
        return check.nameserver(value)

    @field_validator("arxiv_extra_holidays")
    @classmethod
    def _dates(cls, value: str) -> str:
        return check.iso_dates(value)

    @property
    def extra_holidays(self) -> tuple[dt.date, ...]:
        return tuple(dt.date.fromisoformat(part) for part in check.split_list(self.arxiv_extra_holidays))

    @field_validator("public_url", "reply_domain", "from_email", "admin_email", "categories", mode="before")
    @classmethod
    def _strip(cls, value: object) -> object:
        """A quoted value in .env keeps its spaces; a link or an address must not."""
        return value.strip() if isinstance(value, str) else value

    @field_validator("categories")
    @classmethod
    def _known_categories(cls, value: str) -> str:
        return check.known_categories(value)

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return check.http_url(value)

    @field_validator("reply_domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        return check.domain_name(value)

    @field_validator("from_email", "admin_email")
    @classmethod
    def _address(cls, value: str) -> str:
        return check.email_address(value)

    @field_validator("arxiv_feed_url", "arxiv_api_url", "sendgrid_host", "public_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def default_categories(self) -> tuple[str, ...]:
        return tuple(check.split_list(self.categories))

    @property
    def db_path(self) -> Path:
        return self.data_dir / "state.db"

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def preview_dir(self) -> Path:
        return self.data_dir / "preview"

    @property
    def uses_sendgrid(self) -> bool:
        return bool(self.sendgrid_api_key.get_secret_value())


def env_name(field: str) -> str:
    """The environment variable behind a settings field."""
    info = Settings.model_fields.get(field)
    alias = info.validation_alias if info is not None else None
    return alias if isinstance(alias, str) else ENV_PREFIX + field.upper()


def _names_in(env_file: Path) -> set[str]:
    """The variable names an env file sets (`NAME=value`, `export NAME=value`; comments skipped)."""
    try:
        lines = env_file.read_text(encoding="utf-8").splitlines()
    except OSError:
        return set()
    return {line.split("=", 1)[0].strip().removeprefix("export ").strip()
            for line in lines if "=" in line and not line.lstrip().startswith("#")}


# NEWSLETTER_* names that are read outside Settings (the CLI's traceback switch, the tests' artifacts).
_OTHER_NAMES = frozenset({"NEWSLETTER_DEBUG", "NEWSLETTER_ARTIFACTS"})


def unknown_names(environ: Mapping[str, str], env_file: Path = Path(".env")) -> list[str]:
    """NEWSLETTER_* names set in `environ` or `env_file` that no setting reads (a typo is otherwise
    silently ignored), each with the nearest real name when one is close."""
    names = {name for name in environ if name.startswith(ENV_PREFIX)} | _names_in(env_file)
    known = {env_name(field) for field in Settings.model_fields} | _OTHER_NAMES
    said = []
    for name in sorted(n for n in names if n.startswith(ENV_PREFIX) and n not in known):
        close = difflib.get_close_matches(name, sorted(known), n=1)
        said.append(f"{name} (did you mean {close[0]}?)" if close else name)
    return said


def _where(name: str, env_file: Path = Path(".env")) -> str:
    """`name`, and `in .env` when the value came from that file (the admin looks there, not at the
    environment)."""
    if name in os.environ:
        return name
    return f"{name} (in {env_file})" if name in _names_in(env_file) else name


def load_settings(**overrides: object) -> Settings:
    """Build the settings from the environment and `.env`, or raise ConfigError naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            name = field if field.isupper() else env_name(field)
            secret = any(word in name for word in ("KEY", "PASSWORD"))
            shown = "***" if secret else repr(error.get("input"))
            message = error["msg"].removeprefix("Value error, ")  # our validators' own words
            got = "" if not secret and shown in message else f" (got {shown})"  # said once is enough
            problems.append(f"{_where(name)}: {message}{got}")
        raise ConfigError("; ".join(problems)) from None
