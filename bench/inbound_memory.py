"""Memory of one large Inbound Parse post: what `POST /inbound` holds while reading a 30 MB mail.

    PYTHONPATH=. .venv/bin/python bench/inbound_memory.py [--mb 30]

Builds a reply that says "unsubscribe" with an attachment making the post about `mb` MB, in raw
mode (attachment base64 inside the `email` field) and in default mode (attachments as file
parts), streams it in 64 KiB chunks through the route's reader (`read_fields` with the route's
caps) and `parse_fields`, and prints the peak traced memory. Target: ≤ 16 MiB whatever the size.
"""

from __future__ import annotations

import argparse
import asyncio
import tracemalloc
from collections.abc import AsyncIterator

from newsletter.web.form_fields import FormFields, read_fields
from newsletter.web.inbound import FIELD_CAPS, MAX_INBOUND_BYTES
from newsletter.web.inbound_parse import parse_fields
from tests.fakes.inbound import InboundPost, default_post, raw_post, reply

MIB = 1024 * 1024


def _post(mode: str, mb: int) -> InboundPost:
    message = reply(to="u-abcdefghijklmnop@reply.example.org", text="unsubscribe")
    if mode == "raw":  # base64 grows the attachment by a third
        message.add_attachment(b"\0" * (mb * MIB * 3 // 4), maintype="application",
                               subtype="octet-stream", filename="thesis.pdf")
        return raw_post(message)
    files = [(f"scan{i}.bin", "application/octet-stream", b"\0" * MIB) for i in range(mb)]
    return default_post(message, attachments=files)


def measure(post: InboundPost) -> tuple[float, FormFields, str]:
    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(post.body), 64 * 1024):
            yield post.body[start:start + 64 * 1024]

    async def run() -> tuple[FormFields, str]:
        form = await read_fields(post.content_type, chunks(), caps=FIELD_CAPS, max_bytes=MAX_INBOUND_BYTES)
        return form, parse_fields(form.fields).text

    tracemalloc.start()
    try:
        form, text = asyncio.run(run())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak / MIB, form, text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=30)
    args = parser.parse_args()
    for mode in ("raw", "default"):
        post = _post(mode, args.mb)
        peak, form, text = measure(post)
        assert text.startswith("unsubscribe"), text[:40]
        print(f"{mode:7} post {len(post.body) / MIB:5.1f} MiB: peak {peak:5.1f} MiB while reading and "
              f"parsing (fields cut at their cap: {', '.join(form.cut) or 'none'}; "
              f"attachments skipped: {form.skipped_files})")


if __name__ == "__main__":
    main()
