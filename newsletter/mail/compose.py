"""Turn a rendered message (a digest, a confirmation, an admin alert) into the one message both
transports send, and into RFC 5322 form. Every `OutgoingEmail` is built here."""

from __future__ import annotations

import datetime as dt
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from newsletter.db.subscribers import feed_key
from newsletter.models import OutgoingEmail, RenderedDigest
from newsletter.settings import Settings


def reply_address(token: str, settings: Settings) -> str:
    return f"u-{token}@{settings.reply_domain}"


def unsubscribe_url(token: str, settings: Settings) -> str:
    return f"{settings.public_url}/unsubscribe/{token}"


def feed_url(token: str, settings: Settings) -> str:
    """The reader's private Atom feed (newsletter/web/feed.py): keyed by a one-way form of the
    token, so the URL a feed reader keeps cannot unsubscribe anyone."""
    return f"{settings.public_url}/feed/{feed_key(token)}.xml"


def compose(
    rendered: RenderedDigest,
    *,
    to: str,
    token: str,
    settings: Settings,
    now: dt.datetime,
    digest_id: str,
    category: str = "digest",
    to_name: str = "",
    message_tag: str | None = None,
) -> OutgoingEmail:
    """`message_tag` follows the digest id in Message-ID (the category unless given), so two kinds
    of message under one id stay two messages."""
    sender_domain = settings.from_email.rpartition("@")[2] or "localhost"
    return OutgoingEmail(
        to=to,
        from_email=settings.from_email,
        from_name=settings.from_name,
        subject=rendered.subject,
        text=rendered.markdown,
        html=rendered.html,
        reply_to=reply_address(token, settings),
        unsubscribe_url=unsubscribe_url(token, settings),
        message_id=f"<{digest_id}.{message_tag or category}@{sender_domain}>",
        date=now,
        digest_id=digest_id,
        category=category,
        to_name=to_name,
    )


def headers(email: OutgoingEmail) -> dict[str, str]:
    """The headers beyond From/To/Subject that every path sets (RFC 8058 one-click included)."""
    return {
        "Reply-To": email.reply_to,
        "List-Unsubscribe": email.list_unsubscribe,
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "Message-ID": email.message_id,
        **dict(email.headers),
    }


def to_mime(email: OutgoingEmail) -> EmailMessage:
    """multipart/alternative: the Markdown digest as text/plain, then the HTML version."""
    message = EmailMessage()
    message["From"] = Address(display_name=email.from_name, addr_spec=email.from_email)
    message["To"] = _recipient(email)
    message["Subject"] = email.subject
    message["Date"] = format_datetime(email.date if email.date.tzinfo else email.date.replace(tzinfo=dt.UTC))
    for name, value in headers(email).items():
        message[name] = value
    message.set_content(email.text, subtype="plain", charset="utf-8")
    message.add_alternative(email.html, subtype="html", charset="utf-8")
    return message


def _recipient(email: OutgoingEmail) -> Address | str:
    """`Name <address>` when the roster names the reader (the name encoded as the RFC needs)."""
    if not email.to_name:
        return email.to
    try:
        return Address(display_name=email.to_name, addr_spec=email.to)
    except ValueError:  # e.g. a non-ASCII local part, which Address refuses: the bare address
        return email.to
