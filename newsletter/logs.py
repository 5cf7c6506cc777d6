"""Logging, configured once at the entry point: text on a terminal, JSON lines for containers."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
from collections.abc import Iterable

# Unsubscribe tokens (160-bit base32) and API-key shapes are masked in every record.
_SECRET_PATTERNS = [
    re.compile(r"\b[a-z2-7]{32}\b"),  # our tokens
    re.compile(r"SG\.[\w-]{10,}\.[\w-]{10,}"),  # SendGrid keys
    re.compile(r"\bsk-[\w-]{16,}"),  # OpenAI-style keys
]


class SecretFilter(logging.Filter):
    """Masks known secret values and secret-shaped strings before a record is written."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s and len(s) >= 6]

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        for pattern in _SECRET_PATTERNS:
            text = pattern.sub("***", text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = self.mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(fmt: str = "text", level: int = logging.INFO, secrets: Iterable[str] = ()) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )
    handler.addFilter(SecretFilter(secrets))
    # Some libraries (bm25s) set their own loggers to DEBUG when first imported, after this runs:
    # the handler's own level keeps their chatter out whatever they do.
    handler.setLevel(level)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in (
        "LiteLLM",
        "litellm",
        "httpx",
        "httpcore",
        "urllib3",
        "arxiv",
        "apscheduler",
        "bm25s",
        "uvicorn.access",
    ):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def set_level(level: int) -> None:
    """Change the level of the configured logging (root and its handlers)."""
    root = logging.getLogger()
    root.setLevel(level)
    for handler in root.handlers:
        handler.setLevel(level)
