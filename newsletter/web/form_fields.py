"""The text fields of a multipart/form-data body, read as a stream with bounded memory.

Starlette's `request.form()` keeps every text field whole in memory (or refuses it past
`max_part_size`) and spools every file; SendGrid's Inbound Parse posts run to 30 MB with up to
hundreds of attachments. This reader keeps only the fields asked for, each cut at its own cap,
and drops file parts and all other fields as they stream past, so memory is bounded by the caps
whatever the body's size. python-multipart (the parser Starlette itself uses) does the parsing.
"""

from __future__ import annotations

import codecs
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

if TYPE_CHECKING:  # a type the library defines for checkers only
    from python_multipart.multipart import MultipartCallbacks


_MAX_HEADER = 8192


class MalformedForm(Exception):
    """The body is not multipart/form-data that can be parsed."""


@dataclass(frozen=True, slots=True)
class FormFields:
    """What was kept. `complete` False: reading stopped at the byte cap, the rest was never read."""

    fields: Mapping[str, str]
    cut: tuple[str, ...]  # fields kept only up to their cap
    skipped_files: int
    read_bytes: int
    complete: bool


@dataclass
class _Part:
    name: str = ""
    keep: bool = False
    is_file: bool = False
    size: int = 0


class _Collector:
    """python-multipart callbacks that keep the wanted text fields (the first of each name)."""

    def __init__(self, caps: Mapping[str, int]) -> None:
        self.caps = caps
        self.kept: dict[str, bytearray] = {}
        self.cut: list[str] = []
        self.files = 0
        self.part = _Part()
        self.disposition = b""
        self.header_name = b""
        self.header_value = b""

    def callbacks(self) -> MultipartCallbacks:
        return {"on_part_begin": self.on_part_begin, "on_header_field": self.on_header_field,
                "on_header_value": self.on_header_value, "on_header_end": self.on_header_end,
                "on_headers_finished": self.on_headers_finished, "on_part_data": self.on_part_data}

    def on_part_begin(self) -> None:
        self.part = _Part()
        self.disposition = b""

    # A part's header is short; a hostile one is cut rather than kept whole.
    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name = (self.header_name + data[start:end])[:_MAX_HEADER]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value = (self.header_value + data[start:end])[:_MAX_HEADER]

    def on_header_end(self) -> None:
        if self.header_name.strip().lower() == b"content-disposition":
            self.disposition = self.header_value
        self.header_name = self.header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.disposition)
        name = options.get(b"name", b"").decode("latin-1")
        self.part.is_file = b"filename" in options
        self.files += self.part.is_file
        self.part.name = name
        self.part.keep = not self.part.is_file and name in self.caps and name not in self.kept
        if self.part.keep:
            self.kept[name] = bytearray()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if not self.part.keep:
            return  # a file or a field nobody reads: let it stream past
        room = self.caps[self.part.name] - len(self.kept[self.part.name])
        if end - start > room and self.part.name not in self.cut:
            self.cut.append(self.part.name)
        self.kept[self.part.name] += data[start:min(end, start + max(room, 0))]


def _decode(data: bytearray, charset: str, cut: bool) -> str:
    """As Starlette decodes a field (the form's charset, else Latin-1, which the caller can undo),
    without letting a cap that split a UTF-8 character turn the whole field into Latin-1."""
    try:
        return data.decode(charset)
    except UnicodeDecodeError as exc:
        if cut and exc.reason == "unexpected end of data":
            return data[: exc.start].decode(charset, errors="replace")
        return data.decode("latin-1")


async def read_fields(content_type: str, stream: AsyncIterator[bytes], *, caps: Mapping[str, int],
                      max_bytes: int) -> FormFields:
    """The fields named in `caps` (name -> bytes kept), reading at most `max_bytes` of the body.

    Raises MalformedForm for a body that is not multipart/form-data with a boundary.
    """
    media, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if media != b"multipart/form-data" or not boundary:
        raise MalformedForm(f"not multipart/form-data with a boundary ({media.decode('latin-1')!r})")
    charset = params.get(b"charset", b"utf-8").decode("latin-1")
    try:
        charset = codecs.lookup(charset).name
    except LookupError:
        charset = "latin-1"
    collector = _Collector(caps)
    parser = MultipartParser(boundary, collector.callbacks())
    total, complete = 0, True
    try:
        async for chunk in stream:
            if total + len(chunk) > max_bytes:  # feed up to the cap, then stop reading
                chunk, complete = chunk[: max_bytes - total], False
            total += len(chunk)
            parser.write(chunk)
            if not complete:
                break
        if complete:
            parser.finalize()
    except FormParserError as exc:
        raise MalformedForm(str(exc) or type(exc).__name__) from exc
    cut = tuple(collector.cut)
    fields = {}
    for name in list(collector.kept):  # decoded in place and let go one by one: no second copy
        fields[name] = _decode(collector.kept.pop(name), charset, name in cut or not complete)
    return FormFields(fields=fields, cut=cut, skipped_files=collector.files, read_bytes=total,
                      complete=complete)
