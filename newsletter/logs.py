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
# Credentials in URLs (a feed or API base URL can carry them): the userinfo of
# `https://user:pw@host/`, and the value of a query parameter whose name says it is secret
# (key, api_key, X-Api-Key, token, access_token, password, secret, sig, X-Amz-Signature, …).
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s]+@")
_URL_SECRET_PARAM = re.compile(
    r"(?i)([?&;](?:[\w.-]*?[_.-])?"
    r"(?:api_?key|key|token|password|passwd|pwd|pass|secret|sig|signature|auth|credentials?)=)"
    r"[^&;#\s\"'<>]+"
)

# Chat channels' Apprise URLs (channels.csv) carry their webhook's token in the path: everything
# after the scheme goes, as do the paths of the services' own webhook URLs.
_CHAT_URL = re.compile(
    r"(?i)\b((?:slack|discord|msteams|teams|matrixs?|tgram|mailtos?|jsons?|forms?|xmls?|ntfys?|gotifys?"
    r"|rocket|rockets|mmosts?|zulip|signal|signals|pushover|pover|apprises?|feishu|lark|dingtalk"
    r"|wxteams|webex|googlechat|gchat)://)[^\s'\"<>]+"
)
_CHAT_HOOK = re.compile(
    r"(?i)(https?://(?:hooks\.slack\.com/services|(?:[\w-]+\.)?discord(?:app)?\.com/api/webhooks"
    r"|[\w.-]*webhook\.office\.com|api\.telegram\.org/bot))[^\s'\"<>]*"
)


# Secret values learnt after logging was set up (the tokens of channels.csv's URLs, which a
# library's debug line can show without their scheme): every SecretFilter masks them too.
_LEARNT: set[str] = set()


def add_secrets(values: Iterable[str]) -> None:
    """Mask these values in every log record from now on (very short ones are ignored)."""
    _LEARNT.update(v for v in values if v and len(v) >= 8)


_TRACEBACK = logging.Formatter()  # formats an attached traceback so it can be masked


def mask_secrets(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with the given secret values and anything shaped like a key or token masked."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub("***", text)
    return mask_url_credentials(text)


def mask_url_credentials(text: str) -> str:
    """`text` with the user and password of every URL, and secret-named query values, masked."""
    text = _URL_USERINFO.sub(r"\1***@", text)
    if "://" in text:
        text = _CHAT_HOOK.sub(r"\1/***", _CHAT_URL.sub(r"\1***", text))
    return _URL_SECRET_PARAM.sub(r"\1***", text)


class SecretFilter(logging.Filter):
    """Masks known secret values and secret-shaped strings before a record is written, in the
    message and in an attached traceback (exception texts of HTTP clients can echo a header)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # Very short values would mask ordinary words; every real key or password is longer.
        self.secrets = [s for s in secrets if s and len(s) >= 4]

    def mask(self, text: str) -> str:
        return mask_secrets(text, [*self.secrets, *_LEARNT])

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = self.mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            # Formatters use a ready `exc_text` instead of formatting the traceback again.
            record.exc_text = self.mask(_TRACEBACK.formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = self.mask(record.stack_info)
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
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)
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
