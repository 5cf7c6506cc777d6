"""Posting to a channel through Apprise (https://github.com/caronc/apprise), which speaks Slack,
Discord, Teams, Matrix, Telegram, email and plain webhooks; we write no client of our own.

Apprise answers a post with True or False and says why only in its log, so each post listens to
the `apprise` logger on its own thread and turns what it heard into the mail senders' error kinds
(`newsletter.mail.base`): an HTTP 429 or 5xx, or a connection refused or timed out before the
request went through, is transient; a read timeout or a dropped connection after the request went
out is uncertain (maybe posted); anything else is permanent. Apprise's own log lines stay out of
ours (they can echo a webhook's details); the channel's URL is never in an error we raise.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from newsletter.mail.base import PermanentSendError, TransientSendError, UncertainSendError

DEFAULT_MAX_LENGTH = 4000  # characters of one message where the plugin names no limit
_STATUS = re.compile(r"error=(\d{3})")
# requests' exception texts: the request never left (safe to retry) or its answer never came.
_NOT_SENT = ("NewConnectionError", "ConnectTimeout", "Connection refused", "Name or service not known",
             "Failed to resolve", "nodename nor servname")
_MAYBE_SENT = ("Read timed out", "ReadTimeout", "RemoteDisconnected", "Connection aborted",
               "Connection reset", "IncompleteRead", "ChunkedEncodingError")


class ChannelPoster(Protocol):
    def max_length(self, url: str) -> int:
        """The longest body one message to `url` may have."""
        ...

    def post(self, url: str, body: str, title: str) -> None:
        """Post one Markdown message; raises a `newsletter.mail.base.SendError` kind on failure."""
        ...


def _apprise() -> Any:
    import apprise

    quiet = logging.getLogger("apprise")
    quiet.propagate = False  # its lines can carry a webhook's details; ours say what happened
    quiet.setLevel(logging.DEBUG)
    return apprise


def _plugin(url: str) -> Any:
    return _apprise().Apprise.instantiate(url, suppress_exceptions=True)


def url_problem(url: str) -> str | None:
    """Why Apprise cannot post to `url` (never quoting it), or None."""
    if _plugin(url) is None:
        return "is not a URL Apprise can post to (check its scheme and its tokens)"
    return None


class _Heard(logging.Handler):
    """The `apprise` records of one thread (posts run in several at once)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.thread = threading.get_ident()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.lines.append(record.getMessage())


@contextmanager
def _listening() -> Iterator[_Heard]:
    heard = _Heard()
    logger = logging.getLogger("apprise")
    logger.addHandler(heard)
    try:
        yield heard
    finally:
        logger.removeHandler(heard)


def classify(lines: list[str]) -> Exception:
    """The error kind for a failed post from what Apprise logged about it."""
    text = " ".join(lines)
    if match := _STATUS.search(text):
        status = int(match.group(1))
        if status == 429 or status >= 500:
            return TransientSendError(f"the channel answered HTTP {status}")
        return PermanentSendError(f"the channel refused the message (HTTP {status})")
    if any(mark in text for mark in _MAYBE_SENT):
        return UncertainSendError("the channel did not answer after the message went out")
    if any(mark in text for mark in _NOT_SENT):
        return TransientSendError("could not connect to the channel")
    if "Connection error" in text or "timed out" in text.lower():
        return UncertainSendError("the connection to the channel failed mid-post")
    return PermanentSendError("the channel did not take the message")


class AppriseChannelPoster:
    """The real poster. `timeout` (seconds) bounds connect and read of every post."""

    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout

    def max_length(self, url: str) -> int:
        plugin = _plugin(url)
        limit = int(getattr(plugin, "body_maxlen", 0) or 0)
        return min(limit, DEFAULT_MAX_LENGTH * 10) if limit > 0 else DEFAULT_MAX_LENGTH

    def post(self, url: str, body: str, title: str) -> None:
        apprise = _apprise()
        plugin = _plugin(url)
        if plugin is None:
            raise PermanentSendError("the channel's URL is not one Apprise can post to")
        plugin.socket_connect_timeout = plugin.socket_read_timeout = self.timeout
        with _listening() as heard:
            try:
                ok = plugin.notify(body=body, title=title, body_format=apprise.NotifyFormat.MARKDOWN)
            except Exception as exc:  # a plugin bug must not stop the other channels
                raise PermanentSendError(f"the channel's plugin failed: {type(exc).__name__}") from None
        if not ok:
            raise classify(heard.lines)
