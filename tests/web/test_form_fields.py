"""The streaming form reader behind POST /inbound: what it keeps, what it drops, what it costs."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import AsyncIterator, Iterable

import pytest

from newsletter.web.form_fields import FormFields, MalformedForm, read_fields
from tests.fakes.inbound import multipart

CT = "multipart/form-data; boundary=xYzZY"


async def _chunks(parts: Iterable[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def _read(body: bytes | Iterable[bytes], caps: dict[str, int], max_bytes: int = 10**9,
          content_type: str = CT) -> FormFields:
    parts = [body] if isinstance(body, bytes) else body
    return asyncio.run(read_fields(content_type, _chunks(parts), caps=caps, max_bytes=max_bytes))


def test_keeps_the_asked_fields_and_lets_files_and_others_stream_past() -> None:
    post = multipart([("text", "unsubscribe"), ("dkim", "x"), ("text", "second"), ("subject", "Re: x")],
                     files=[("attachment1", "a.png", "image/png", b"\x89PNG" * 100),
                            ("text", "t.txt", "text/plain", b"not a field")])
    # fed a byte at a time: the parser's callbacks see every split
    read = _read([post.body[i:i + 1] for i in range(len(post.body))], {"text": 100, "subject": 100})
    assert read.fields == {"text": "unsubscribe", "subject": "Re: x"}  # the first of a name
    assert (read.cut, read.skipped_files, read.complete, read.read_bytes) == ((), 2, True, len(post.body))


def test_a_field_is_cut_at_its_cap_without_breaking_its_last_character() -> None:
    read = _read(multipart([("text", "unsubscribe é" + "x" * 100)]).body, {"text": 13})
    assert read.fields == {"text": "unsubscribe "}  # é (2 bytes) did not fit whole
    assert read.cut == ("text",)


def test_a_field_not_in_utf8_falls_back_to_latin1_as_starlette_does() -> None:
    body = multipart([("text", "")]).body.replace(b"\r\n\r\n\r\n", "\r\n\r\n退订\r\n".encode("gb2312"))
    assert _read(body, {"text": 100}).fields == {"text": "退订".encode("gb2312").decode("latin-1")}


def test_reading_stops_at_the_byte_cap_and_keeps_what_was_read() -> None:
    body = multipart([("text", "unsubscribe"), ("padding", "p" * 10_000)]).body
    read = _read([body[:100], body[100:]], {"text": 100}, max_bytes=200)
    assert read.fields == {"text": "unsubscribe"}
    assert (read.complete, read.read_bytes) == (False, 200)


@pytest.mark.parametrize(("content_type", "body"), [
    ("application/json", b"{}"), ("multipart/form-data", b"--x\r\n"),
    (CT, b"garbage without a boundary"),
])
def test_a_body_that_is_not_a_form_is_malformed(content_type: str, body: bytes) -> None:
    with pytest.raises(MalformedForm):
        _read(body, {"text": 10}, content_type=content_type)


def test_memory_stays_bounded_by_the_caps_whatever_the_body_size() -> None:
    """60 MB of attachments and unread fields, streamed in 64 KiB chunks, as SendGrid would."""
    head = multipart([("text", "unsubscribe"), ("email", "")]).body[: -len(b"--xYzZY--\r\n")]
    chunk = b"z" * 64 * 1024

    def body() -> Iterable[bytes]:
        yield head
        for name in ("attachment1", "spam_report"):
            disposition = f'name="{name}"; filename="a.bin"' if name.startswith("att") else f'name="{name}"'
            yield f"--xYzZY\r\nContent-Disposition: form-data; {disposition}\r\n\r\n".encode()
            for _ in range(480):  # 30 MiB each
                yield chunk
            yield b"\r\n"
        yield b"--xYzZY--\r\n"

    tracemalloc.start()
    try:
        read = _read(body(), {"text": 1024, "email": 1024})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert read.fields == {"text": "unsubscribe", "email": ""}
    assert read.skipped_files == 1 and read.read_bytes > 60 * 1024 * 1024
    assert peak < 2 * 1024 * 1024  # a few chunks, not the body
