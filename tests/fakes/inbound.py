"""Real-shaped SendGrid Inbound Parse posts, for driving `POST /inbound` in tests.

Modelled on the sample data the `sendgrid` package ships
(sendgrid/helpers/inbound/sample_data/{default,raw}_data.txt): multipart/form-data with the
boundary `xYzZY`, CRLF line breaks, and the same fields in the same order.

    def test_x(inbound_mail):
        message = inbound_mail.reply(to=reply_address, sender="ada@example.org", text="unsubscribe")
        post = inbound_mail.default(message)            # or inbound_mail.raw(message)
        client.post("/inbound", content=post.body, headers={**post.headers, **basic_auth("u", "p")})

`sample_post("default_data.txt")` returns the package's own sample as it would arrive.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from email import message_from_string, policy
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid
from pathlib import Path
from typing import Any

import pytest

BOUNDARY = "xYzZY"
CRLF = "\r\n"

# What a mail client quotes under a reply: the top of a real digest (seeds/000_*.txt), with
# "stop" and "remove" in it so a test shows quoted words never unsubscribe anyone.
QUOTED_DIGEST = """\
# Personalized Daily ArXiv Papers 08/28/2025
Total relevant papers: 2

Paper selection prompt and criteria at the bottom

Table of contents with paper titles:

0. [Remove Anything: Stop-Gradient Object Removal for Video Matting](#link0)
**Authors:** Ada Lovelace, Alan Turing

1. [Unsubscribe-Free Streaming Segmentation](#link1)
**Authors:** Grace Hopper
"""


@dataclass(frozen=True, slots=True)
class InboundPost:
    """One POST body as SendGrid sends it."""

    body: bytes
    content_type: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Type": self.content_type}


def basic_auth(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return {"Authorization": f"Basic {token}"}


def multipart(fields: Sequence[tuple[str, str]],
              files: Sequence[tuple[str, str, str, bytes]] = (),
              boundary: str = BOUNDARY) -> InboundPost:
    """form-data the way SendGrid writes it; `files` are (field, filename, content type, data)."""
    out = bytearray()
    for name, value in fields:
        out += f'--{boundary}{CRLF}Content-Disposition: form-data; name="{name}"{CRLF}{CRLF}'.encode()
        out += value.encode("utf-8") + CRLF.encode()
    for name, filename, content_type, data in files:
        out += (f'--{boundary}{CRLF}Content-Disposition: form-data; name="{name}"; '
                f'filename="{filename}"{CRLF}Content-Type: {content_type}{CRLF}{CRLF}').encode()
        out += data + CRLF.encode()
    out += f"--{boundary}--{CRLF}".encode()
    return InboundPost(bytes(out), f"multipart/form-data; boundary={boundary}")


def reply(
    *,
    to: str,
    sender: str = "Ada Lovelace <ada@example.org>",
    subject: str = "Re: arXiv digest · Thu 28 Aug 2025 · 2 papers · Remove Anything: Stop-Gradient…",
    text: str = "Thanks, great picks today!",
    quote: str | None = QUOTED_DIGEST,
    html: str | None = None,
    headers: Sequence[tuple[str, str]] = (),
    message_id: str | None = None,
    content_type: str | None = None,
    in_reply_to: str | None = "<20250828-0123456789abcdef.digest@example.org>",
) -> EmailMessage:
    """A reply as a mail client writes it: the reader's text, then the quoted digest."""
    message = EmailMessage(policy=policy.default)
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(dt.datetime(2025, 8, 28, 9, 12, tzinfo=dt.UTC))
    message["Message-ID"] = message_id or make_msgid(domain="mail.example.org")
    if in_reply_to is not None:
        message["In-Reply-To"] = in_reply_to
    for name, value in headers:
        message[name] = value
    body = text
    if quote is not None:
        quoted = "\n".join(f"> {line}" if line else ">" for line in quote.splitlines())
        attribution = "On Thu, Aug 28, 2025 at 7:00 AM arXiv Digest <digest@example.org> wrote:"
        body = f"{text}\n\n{attribution}\n{quoted}\n"
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    if content_type is not None:
        message.replace_header("Content-Type", content_type)
    return message


def _header_block(message: EmailMessage) -> str:
    return message.as_string().split("\n\n", 1)[0] + "\n"


def _envelope(message: EmailMessage, to: Sequence[str] | None, sender: str | None) -> str:
    recipients = list(to) if to is not None else [a for _, a in getaddresses([str(message["To"])])]
    mail_from = sender if sender is not None else getaddresses([str(message["From"])])[0][1]
    return json.dumps({"to": recipients, "from": mail_from})


def _plain_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    return str(part.get_content()) if part is not None else ""


def _html(message: EmailMessage) -> str | None:
    part = message.get_body(preferencelist=("html",))
    return str(part.get_content()) if part is not None else None


def default_post(
    message: EmailMessage,
    *,
    envelope_to: Sequence[str] | None = None,
    envelope_from: str | None = None,
    attachments: Sequence[tuple[str, str, bytes]] = (),
    extra_fields: Sequence[tuple[str, str]] = (),
    charsets: dict[str, str] | None = None,
) -> InboundPost:
    """Default (parsed) mode: headers, dkim, to, html, from, text, sender_ip, envelope, …

    `extra_fields` come after SendGrid's own (as `content-ids`, `spam_report` … would);
    `charsets` replaces the per-field charsets SendGrid reports (all UTF-8 by default)."""
    fields = [("headers", _header_block(message)), ("dkim", "{@example.org : pass}"),
              ("to", str(message["To"]))]
    html_part = _html(message)
    if html_part is not None:
        fields.append(("html", html_part))
    fields += [
        ("from", str(message["From"])),
        ("text", _plain_text(message)),
        ("sender_ip", "203.0.113.7"),
        ("envelope", _envelope(message, envelope_to, envelope_from)),
        ("attachments", str(len(attachments))),
        ("subject", str(message["Subject"])),
        ("charsets", json.dumps(charsets if charsets is not None else {
            "to": "UTF-8", "html": "UTF-8", "subject": "UTF-8", "from": "UTF-8", "text": "UTF-8"})),
        ("SPF", "pass"),
        *extra_fields,
    ]
    files = [(f"attachment{i}", name, ctype, data) for i, (name, ctype, data) in enumerate(attachments, 1)]
    if attachments:
        info = {f"attachment{i}": {"filename": name, "type": ctype}
                for i, (name, ctype, _) in enumerate(attachments, 1)}
        fields.append(("attachment-info", json.dumps(info)))
    return multipart(fields, files)


def raw_post(
    message: EmailMessage | str,
    *,
    envelope_to: Sequence[str] | None = None,
    envelope_from: str | None = None,
) -> InboundPost:
    """Raw mode: the whole MIME message in `email`, beside envelope, to, from, subject, …"""
    parsed = message
    if isinstance(message, str):
        parsed = message_from_string(message, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    text = message if isinstance(message, str) else message.as_string()
    fields = [
        ("dkim", "{@example.org : pass}"),
        ("email", text),
        ("to", str(parsed["To"])),
        ("from", str(parsed["From"])),
        ("sender_ip", "203.0.113.7"),
        ("envelope", _envelope(parsed, envelope_to, envelope_from)),
        ("subject", str(parsed["Subject"])),
        ("charsets", json.dumps({"to": "UTF-8", "subject": "UTF-8", "from": "UTF-8"})),
        ("SPF", "pass"),
    ]
    return multipart(fields)


def sample_post(name: str = "default_data.txt") -> InboundPost:
    """One of the samples shipped with the sendgrid package, with the CRLFs of the real thing."""
    import sendgrid.helpers.inbound as inbound_helpers

    path = Path(inbound_helpers.__file__).parent / "sample_data" / name
    text = path.read_text(encoding="utf-8").replace("\r\n", "\n").replace("\n", CRLF)
    return InboundPost(text.encode("utf-8"), f"multipart/form-data; boundary={BOUNDARY}")


class InboundMail:
    """The functions above as one fixture object."""

    reply = staticmethod(reply)
    default = staticmethod(default_post)
    raw = staticmethod(raw_post)
    sample = staticmethod(sample_post)
    multipart = staticmethod(multipart)
    basic_auth = staticmethod(basic_auth)


@pytest.fixture
def inbound_mail() -> InboundMail:
    return InboundMail()


# -- a running app around a fresh database, for the leave/inbound tests and end-to-end tests ----

WEBHOOK_USER = "sendgrid"
WEBHOOK_PASSWORD = "correct horse battery staple"
REPLY_DOMAIN = "reply.example.org"
NOW = dt.datetime(2025, 8, 28, 9, 30, tzinfo=dt.UTC)


@dataclass
class LeaveApp:
    """The web app on a fresh state database, with an outbox transport for confirmations."""

    settings: Any
    db: Any
    client: Any
    outbox: Path
    now: dt.datetime = NOW

    def token(self, email: str) -> str:
        from newsletter.db.subscribers import token_for

        return str(token_for(self.db, email, self.now))

    def reply_address(self, email: str) -> str:
        return f"u-{self.token(email)}@{REPLY_DOMAIN}"

    def post(self, post: InboundPost, auth: tuple[str, str] | None = (WEBHOOK_USER, WEBHOOK_PASSWORD),
             **kwargs: Any) -> Any:
        headers = {**post.headers, **(basic_auth(*auth) if auth else {})}
        return self.client.post("/inbound", content=post.body, headers=headers, **kwargs)

    def outbox_files(self) -> list[Path]:
        return sorted(self.outbox.rglob("*.eml"))


def make_leave_app(tmp_path: Path, transport: Any = "outbox", **settings_overrides: Any) -> LeaveApp:
    from starlette.testclient import TestClient

    from newsletter.db import Database
    from newsletter.mail.outbox import OutboxTransport
    from newsletter.settings import load_settings
    from newsletter.web.app import create_app

    settings = load_settings(**{
        "webhook_username": WEBHOOK_USER, "webhook_password": WEBHOOK_PASSWORD,
        "reply_domain": REPLY_DOMAIN, "public_url": "https://digest.example.org",
        "from_email": "digest@example.org", "data_dir": tmp_path / "var", **settings_overrides,
    })
    db = Database.open(settings.db_path)
    outbox = settings.outbox_dir
    if transport == "outbox":
        transport = OutboxTransport(outbox)
    app = create_app(settings, db, clock=lambda: NOW, transport=transport)
    # raise_server_exceptions=False: a crash must show as the 500 SendGrid would see.
    client = TestClient(app, raise_server_exceptions=False)
    return LeaveApp(settings=settings, db=db, client=client, outbox=outbox)


@pytest.fixture
def leave_app(tmp_path: Path) -> Iterator[LeaveApp]:
    env = make_leave_app(tmp_path)
    with env.client:
        yield env
    env.db.close()
