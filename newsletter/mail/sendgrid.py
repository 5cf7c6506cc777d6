"""Delivery through SendGrid's v3 Mail Send API with the official `sendgrid` package.

The client has no timeout and no idempotency key, so this module adds the first and is careful
about the second: a failure is classified by *where* it happened.

- Before the request reached SendGrid (refused connection, DNS, connect timeout: urllib wraps
  these in `URLError`) nothing was sent → `TransientSendError`, safe to retry.
- 429 → `TransientSendError` with `retry_after` from `X-RateLimit-Reset` (epoch seconds).
- 5xx → `TransientSendError`: SendGrid did not accept the message.
- After the whole request was sent but before an answer (read timeout, dropped connection, a
  garbled status line) SendGrid may well have accepted it → `UncertainSendError`. Retrying could
  mail the reader twice, so the sender records the delivery as `unknown` instead; the Event
  Webhook or the admin's `--resend-unknown` settles it.
- 401 → `AuthSendError`; 400/403/413 and other 4xx → `PermanentSendError` with SendGrid's message.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import logging
import re
import threading
import time
import urllib.error
from collections.abc import Callable, Mapping
from typing import Any

from newsletter.backoff import retry_after_delay
from newsletter.logs import mask_secrets
from newsletter.mail.base import (
    AuthSendError,
    PermanentSendError,
    SendError,
    TransientSendError,
    UncertainSendError,
)
from newsletter.models import OutgoingEmail, RenderedDigest
from newsletter.settings import Settings

log = logging.getLogger(__name__)

# python_http_client logs every request's headers at DEBUG, the `Authorization: Bearer <key>`
# among them; keep that logger above DEBUG so a verbose run never writes the key anywhere.
logging.getLogger("python_http_client").setLevel(logging.INFO)

AUTH_REJECTED = "SENDGRID_API_KEY was rejected"
# SendGrid caps a 429 wait at its per-second/minute windows; anything longer is a wrong clock.
MAX_RATE_LIMIT_WAIT = 120.0


def build_mail(email: OutgoingEmail, *, sandbox: bool = False) -> dict[str, Any]:
    """The v3 Mail Send request body for one message, built with the package's Mail helpers."""
    from sendgrid.helpers.mail import (
        Category,
        ClickTracking,
        CustomArg,
        From,
        Header,
        HtmlContent,
        Mail,
        MailSettings,
        OpenTracking,
        PlainTextContent,
        ReplyTo,
        SandBoxMode,
        Subject,
        SubscriptionTracking,
        To,
        TrackingSettings,
    )

    mail = Mail(
        from_email=From(email.from_email, email.from_name or None),
        to_emails=To(email.to, _display_name(email.to_name)),
        subject=Subject(email.subject),
        plain_text_content=PlainTextContent(email.text),
        html_content=HtmlContent(email.html),
    )
    mail.reply_to = ReplyTo(email.reply_to)
    headers = [
        ("List-Unsubscribe", email.list_unsubscribe),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ("Message-ID", email.message_id),
        *email.headers,
    ]
    mail.header = [Header(name, value) for name, value in headers]
    mail.category = Category(email.category)
    mail.custom_arg = CustomArg("digest_id", email.digest_id)
    # SendGrid's own tracking would rewrite every link, add a pixel and its own unsubscribe footer.
    mail.tracking_settings = TrackingSettings(
        click_tracking=ClickTracking(False, False),
        open_tracking=OpenTracking(False),
        subscription_tracking=SubscriptionTracking(False),
    )
    if sandbox:
        mail.mail_settings = MailSettings(sandbox_mode=SandBoxMode(True))
    body: dict[str, Any] = mail.get()
    return body


def _errors_text(body: bytes | str | None) -> str:
    """SendGrid's own error messages from an `{"errors": [{"message", "field"}]}` body."""
    if not body:
        return ""
    raw = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        data = json.loads(raw)
    except ValueError:
        return raw.strip()[:300]
    errors = data.get("errors") if isinstance(data, dict) else None
    if not isinstance(errors, list):
        return raw.strip()[:300]
    parts = []
    for error in errors:
        if not isinstance(error, dict):
            continue
        message = str(error.get("message") or "").strip()
        field = error.get("field")
        parts.append(f"{message} (field: {field})" if field else message)
    return "; ".join(p for p in parts if p) or raw.strip()[:300]


def _header(headers: Any, name: str) -> str | None:
    if headers is None:
        return None
    value = headers.get(name) if isinstance(headers, Mapping) or hasattr(headers, "get") else None
    return str(value) if value is not None else None


def _rate_limit_wait(headers: Any, now: float) -> float | None:
    """Seconds until X-RateLimit-Reset (epoch seconds), else Retry-After; bounded."""
    reset = _header(headers, "X-RateLimit-Reset")
    if reset is not None:
        try:
            return retry_after_delay(float(reset) - now, bound=MAX_RATE_LIMIT_WAIT)
        except ValueError:
            pass
    retry_after = _header(headers, "Retry-After")
    if retry_after is not None:
        try:
            return retry_after_delay(float(retry_after), bound=MAX_RATE_LIMIT_WAIT)
        except ValueError:
            pass
    return None


def classify(exc: BaseException, *, now: float) -> SendError:
    """Map what the sendgrid client raised onto the transport's error classes."""
    from python_http_client import exceptions as http_errors

    if isinstance(exc, http_errors.HTTPError):
        status = int(exc.status_code)
        detail = _errors_text(exc.body)
        suffix = f": {detail}" if detail else ""
        if status == 401:
            return AuthSendError(f"{AUTH_REJECTED} (HTTP 401{suffix})")
        if status == 429:
            return TransientSendError(f"SendGrid rate limit (HTTP 429{suffix})",
                                      _rate_limit_wait(exc.headers, now))
        if status >= 500:
            return TransientSendError(f"SendGrid server error (HTTP {status}{suffix})")
        return PermanentSendError(f"SendGrid refused the message (HTTP {status}){suffix}")
    if isinstance(exc, urllib.error.URLError):
        # Raised while connecting or sending the request: SendGrid never got a whole request.
        return TransientSendError(f"cannot reach SendGrid: {exc.reason}")
    if isinstance(exc, TimeoutError):
        return UncertainSendError("SendGrid did not answer in time; the message may have been sent")
    if isinstance(exc, (OSError, http.client.HTTPException)):
        return UncertainSendError(
            f"the connection to SendGrid broke before its answer ({type(exc).__name__}: {exc});"
            " the message may have been sent"
        )
    raise exc


class SendGridTransport:
    """`Transport` over SendGrid. Thread-safe: each sender thread gets its own client."""

    def __init__(
        self,
        api_key: str,
        *,
        host: str = "https://api.sendgrid.com",
        timeout: float = 30.0,
        sandbox: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not api_key:
            raise ValueError("SENDGRID_API_KEY is empty; use the outbox transport instead")
        self._api_key = api_key
        self.host = host.rstrip("/")
        self.timeout = timeout
        self.sandbox = sandbox
        self._clock = clock
        self._local = threading.local()

    @classmethod
    def from_settings(cls, settings: Settings, *, sandbox: bool = False) -> SendGridTransport:
        return cls(settings.sendgrid_api_key.get_secret_value(), host=settings.sendgrid_host,
                   timeout=settings.http_timeout, sandbox=sandbox)

    def __repr__(self) -> str:  # never the key
        return f"SendGridTransport(host={self.host!r}, timeout={self.timeout}, sandbox={self.sandbox})"

    def _client(self) -> Any:
        # The client keeps mutable request headers; one per thread keeps the pool from sharing it.
        client = getattr(self._local, "client", None)
        if client is None:
            from sendgrid import SendGridAPIClient

            client = SendGridAPIClient(self._api_key, host=self.host)
            client.client.timeout = self.timeout
            self._local.client = client
        return client

    def send(self, email: OutgoingEmail) -> str:
        """Send one message; returns SendGrid's X-Message-Id (raises a SendError subclass)."""
        from sendgrid.helpers.mail.exceptions import ApiKeyIncludedException

        try:
            body = build_mail(email, sandbox=self.sandbox)
        except ApiKeyIncludedException:
            # The package refuses a body that starts like an API key; nothing was sent.
            raise PermanentSendError("the message text looks like a SendGrid API key") from None
        try:
            response = self._client().send(body)
        except Exception as exc:
            error = classify(exc, now=self._clock())
            # SendGrid's error text can quote the request (a proxy echoing the Authorization
            # header, say); this message reaches the summary, the database and alerts.
            error.args = (mask_secrets(str(error), [self._api_key]),)
            log.debug("send of %s to %s failed: %s", email.digest_id, email.to, error)
            raise error from None
        status = int(response.status_code)
        if status not in (200, 202):
            # 2xx/3xx that urllib did not raise for: not SendGrid's success answer.
            raise UncertainSendError(f"unexpected answer from SendGrid: HTTP {status}")
        message_id = _header(response.headers, "X-Message-Id")
        if not message_id and not self.sandbox:
            # SendGrid always sets it on 202; its absence means we are not talking to SendGrid.
            log.warning("SendGrid accepted %s without an X-Message-Id", email.digest_id)
        return message_id or ""


def sandbox_check(settings: Settings, *, now: dt.datetime) -> None:
    """Ask SendGrid to validate one message in sandbox mode (nothing is delivered).

    Raises SendError with a one-line reason when the key, the host or the sender is not accepted.
    """
    from newsletter.db.deliveries import digest_id_for
    from newsletter.mail.compose import compose

    sender = settings.from_email
    text = "SendGrid sandbox check: this message is validated and never delivered."
    probe = compose(
        RenderedDigest(subject="arXiv Digest configuration check", markdown=text, html=f"<p>{text}</p>"),
        to=sender, token="check",  # noqa: S106 (a placeholder: the probe is never delivered)
        settings=settings, now=now,
        digest_id=digest_id_for(sender, now.date()), category="check",
    )
    transport = SendGridTransport.from_settings(settings, sandbox=True)
    try:
        transport.send(probe)
    except SendError as exc:
        raise type(exc)(f"SendGrid sandbox check failed: {exc}") from None


# SendGrid takes a recipient name as it is: a comma or semicolon in it splits the address and the
# mail is dropped after a 202; quotes, angle brackets and control characters are no better.
_NAME_UNSAFE = re.compile(r'[,;"<>\x00-\x1f\x7f]+')


def _display_name(name: str) -> str | None:
    cleaned = " ".join(_NAME_UNSAFE.sub(" ", name).split())
    return cleaned or None
