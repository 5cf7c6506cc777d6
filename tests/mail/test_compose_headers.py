"""Composing the one outgoing message: its Message-ID names what it is, and its own headers survive
into the RFC 5322 form the outbox writes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
from email import policy
from pathlib import Path

from newsletter.mail.compose import compose, headers, to_mime
from newsletter.mail.outbox import OutboxTransport
from newsletter.models import RenderedDigest
from newsletter.settings import Settings, load_settings

NOW = dt.datetime(2025, 8, 28, 7, 0, tzinfo=dt.UTC)
DIGEST_ID = "20250828-0123456789abcdef"
RENDERED = RenderedDigest(subject="arXiv Digest", markdown="text", html="<p>html</p>")


def settings() -> Settings:
    return load_settings(from_email="digest@news.example.org", public_url="https://digest.example.org")


def test_the_message_id_names_the_kind_of_message() -> None:
    """A digest and a confirmation sent under the same id are still two distinct messages."""
    site = settings()
    digest = compose(RENDERED, to="ada@example.org", token="tok", settings=site, now=NOW,
                     digest_id=DIGEST_ID)
    confirmation = compose(RENDERED, to="ada@example.org", token="tok", settings=site, now=NOW,
                           digest_id=DIGEST_ID, category="confirmation")

    assert digest.message_id == f"<{DIGEST_ID}.digest@news.example.org>"
    assert confirmation.message_id == f"<{DIGEST_ID}.confirmation@news.example.org>"


def test_the_outbox_recognises_a_composed_digest_it_wrote(tmp_path: Path) -> None:
    """After a crash between the write and its record, the file is found to be this digest."""
    outbox = OutboxTransport(tmp_path)
    message = compose(RENDERED, to="ada@example.org", token="tok", settings=settings(), now=NOW,
                      digest_id=DIGEST_ID)
    outbox.send(message)

    assert outbox.written(DIGEST_ID, "ada@example.org", "2025-08-28")
    assert not outbox.written("20250828-ffffffffffffffff", "ada@example.org", "2025-08-28")


def test_the_messages_own_headers_are_kept(tmp_path: Path) -> None:
    base = compose(RENDERED, to="ada@example.org", token="tok", settings=settings(), now=NOW,
                   digest_id=DIGEST_ID)
    own = (("X-Entity-Ref-ID", "ref-42"), ("Auto-Submitted", "auto-generated"))
    message = dataclasses.replace(base, headers=own)

    assert headers(message)["X-Entity-Ref-ID"] == "ref-42"
    assert headers(message)["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"  # beside the usual
    mime = to_mime(message)
    assert mime["X-Entity-Ref-ID"] == "ref-42"
    assert mime["Auto-Submitted"] == "auto-generated"
    written = Path(OutboxTransport(tmp_path).send(message))
    parsed = email.message_from_bytes(written.read_bytes(), policy=policy.default)
    assert parsed["X-Entity-Ref-ID"] == "ref-42"
    assert parsed["Message-ID"] == base.message_id
