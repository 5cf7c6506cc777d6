"""An Inbound Parse post read into a `Reply` (`newsletter.readers.replies`): the body's text from
whichever form SendGrid sent (default or raw mode, plain or HTML, any charset), the recipients,
and the reply tokens among them. Nothing here trusts or stores anything; `inbound.py` decides.
"""

from __future__ import annotations

import codecs
import email
import json
import logging
import re
from collections.abc import Mapping
from email import policy
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses

from lxml import etree
from lxml import html as lxml_html

from newsletter.readers.replies import Reply

log = logging.getLogger(__name__)

# A reader's own words fit many times over; the rest of a long mail is quotes, signatures, junk.
MAX_REPLY_CHARS = 100_000
_TOKEN = re.compile(r"^[a-z0-9]{16,128}$")


def _recode(value: str, charset: str | None) -> str:
    """Undo the form parser's Latin-1 fallback for a field SendGrid says is in another charset."""
    if not charset:
        return value
    try:
        name = codecs.lookup(charset).name
    except LookupError:
        return value
    if name in ("utf-8", "ascii", "latin-1", "iso8859-1"):
        return value
    try:
        return value.encode("latin-1").decode(name)
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


# lxml refuses a str that declares its own encoding; the declaration says nothing about a str.
_XML_DECLARATION = re.compile(r"^[\s\ufeff]*<\?xml[^>]*>")
_SKIPPED = frozenset({"blockquote", "style", "script", "head", "title"})
_BLOCKS = frozenset({"p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"})
_QUOTE_CLASSES = ("gmail_quote", "moz-cite-prefix")  # where mail clients put the quoted message


def _html_to_text(markup: str) -> str:
    """The reader's words in an HTML mail: no quote, style or script; a line per block.

    lxml's parser (C, linear): regexes, and Python 3.11's HTMLParser, took minutes on a crafted
    mail of unclosed tags, and this runs for any sender before a token is checked.
    """
    try:
        document = lxml_html.document_fromstring(_XML_DECLARATION.sub("", markup[:MAX_REPLY_CHARS]))
    except (etree.ParserError, ValueError):  # empty, or nothing but whitespace
        return ""
    parts: list[str] = []
    skipping = 0
    for event, element in etree.iterwalk(document, events=("start", "end", "comment", "pi")):
        tag = element.tag if isinstance(element.tag, str) else None
        if event in ("comment", "pi"):  # its text is hidden, the text after it is not
            parts.append("" if skipping else element.tail or "")
            continue
        if event == "start":
            if tag == "div" and any(c in (element.get("class") or "") for c in _QUOTE_CLASSES):
                break  # the rest is the quoted digest
            if tag in _SKIPPED:
                skipping += 1
            elif not skipping:
                parts.append("\n" if tag == "br" else "")
                parts.append(element.text or "")
            continue
        if tag in _SKIPPED:
            skipping -= 1
            parts.append("" if skipping else "\n")
        elif not skipping and tag in _BLOCKS:
            parts.append("\n")
        if not skipping:
            parts.append(element.tail or "")
    return "".join(parts)


def _decode_bytes(data: bytes, charset: str | None) -> str:
    """Bytes in a declared charset that may be unknown ("unknown-8bit") or wrong: the declared one,
    then UTF-8, then Windows-1252 with replacement characters, which reads anything."""
    for name in (charset, "utf-8"):
        try:
            return data.decode(name) if name else data.decode("utf-8")
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("cp1252", errors="replace")


def _part_text(part: Message) -> str:
    """A text part's content, decoded defensively: a charset Python does not know must not make a
    reply read as empty (and so lose its unsubscribe)."""
    try:
        return str(part.get_content())  # type: ignore[attr-defined]
    except (LookupError, UnicodeError, ValueError, AssertionError) as exc:
        log.info("inbound: read a text part the slow way (%s)", type(exc).__name__)
    encoding = str(part.get("Content-Transfer-Encoding", "") or "").strip().lower()
    if encoding not in ("base64", "quoted-printable"):
        payload = part.get_payload()  # already text: the form field it came in was decoded
        return payload if isinstance(payload, str) else ""
    data = part.get_payload(decode=True)
    return _decode_bytes(data, part.get_content_charset()) if isinstance(data, bytes) else ""


def _body_text(message: Message) -> str:
    try:
        body = message.get_body(preferencelist=("plain", "html"))  # type: ignore[attr-defined]
        if body is None:  # no body by the book: the first text part, wherever it is
            body = next((p for p in message.walk() if p.get_content_maintype() == "text"), None)
        if body is None:
            return ""
        content = _part_text(body)
        return _html_to_text(content) if body.get_content_type() == "text/html" else content
    except (LookupError, ValueError, KeyError, AttributeError, TypeError) as exc:
        log.info("could not read the body of an inbound mail: %s", type(exc).__name__)
        return ""


def parse_fields(fields: Mapping[str, str]) -> Reply:
    """An Inbound Parse post (default mode, or raw mode with the whole message in `email`)."""
    try:
        charsets = json.loads(fields.get("charsets") or "{}")
    except ValueError:
        charsets = {}
    charsets = charsets if isinstance(charsets, dict) else {}

    def field(name: str) -> str:
        charset = charsets.get(name)
        return _recode(fields.get(name) or "", charset if isinstance(charset, str) else None)

    if fields.get("email"):
        headers: Message = email.message_from_string(fields["email"], policy=policy.default)
        text = _body_text(headers)
    else:
        headers = HeaderParser(policy=policy.default).parsestr(fields.get("headers") or "")
        text = field("text") or _html_to_text(field("html"))
    subject = field("subject") or str(headers.get("Subject", "") or "")

    try:
        envelope = json.loads(fields.get("envelope") or "null")
    except ValueError:
        envelope = None
    envelope = envelope if isinstance(envelope, dict) else None
    recipients: list[str] = []
    envelope_from: str | None = None
    if envelope is not None:
        envelope_from = envelope.get("from") if isinstance(envelope.get("from"), str) else ""
        to = envelope.get("to")
        recipients = [str(x) for x in to] if isinstance(to, list) else [str(to)] if to else []
    if not recipients:  # no usable envelope: the To header is the next best witness
        to_values = [fields.get("to") or "", str(headers.get("To", "") or "")]
        recipients = [addr for _, addr in getaddresses([v for v in to_values if v]) if addr]

    message_id = str(headers.get("Message-ID", "") or "").strip() or None
    return Reply(recipients=tuple(recipients), envelope_from=envelope_from, headers=headers,
                 subject=subject.strip(), text=text[:MAX_REPLY_CHARS], message_id=message_id,
                 from_header=field("from") or str(headers.get("From", "") or ""))


def reply_tokens(recipients: tuple[str, ...], reply_domain: str) -> list[str]:
    """Tokens of the `u-<token>@<reply domain>` recipients, lower-cased (relays fold case)."""
    tokens = []
    for _, address in getaddresses(list(recipients)):
        local, _, domain = address.strip().rpartition("@")
        if domain.lower() != reply_domain.lower() or not local.lower().startswith("u-"):
            continue
        token = local[2:].lower()
        if _TOKEN.match(token):
            tokens.append(token)
    return tokens
