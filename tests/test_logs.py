"""Secrets never reach the log (message or traceback, text or JSON); file writes keep permissions."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsletter.logs import JsonFormatter, SecretFilter, mask_secrets

KEY = "sk-proj-THISISASECRETKEY1234567890"
PASSWORD = "hunter2pw"
Captured = tuple[logging.Logger, logging.StreamHandler[io.StringIO], io.StringIO]


@pytest.fixture
def capture() -> Iterator[Captured]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(SecretFilter([PASSWORD]))
    logger = logging.getLogger("tests.logs")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield logger, handler, out
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def fail() -> None:
    raise RuntimeError(f"401 from the provider: Authorization: Bearer {KEY}, password {PASSWORD}")


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_traceback_is_masked_like_the_message(capture: Captured, fmt: str) -> None:
    logger, handler, out = capture
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    try:
        fail()
    except RuntimeError:
        logger.exception("the call failed with %s", PASSWORD)
    logger.warning("stack", stack_info=True, extra={})
    text = out.getvalue()
    assert "RuntimeError: 401 from the provider: Authorization: Bearer ***, password ***" in (
        json.loads(text.splitlines()[0])["exception"] if fmt == "json" else text
    )
    assert KEY not in text
    assert PASSWORD not in text
    assert "the call failed with ***" in text


def test_mask_secrets_knows_the_shapes_and_the_given_values() -> None:
    token = "abcdefghijklmnopqrstuvwxyz234567"
    text = f"key SG.abcdefghijk.lmnopqrstuvw, {KEY}, token {token}, word {PASSWORD}"
    assert mask_secrets(text, [PASSWORD]) == "key ***, ***, token ***, word ***"
    assert mask_secrets("nothing secret here") == "nothing secret here"


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_credentials_in_urls_are_masked_in_messages_and_tracebacks(capture: Captured, fmt: str) -> None:
    logger, handler, out = capture
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    url = "https://digest:s3cr3t-pw@feeds.example.net/atom/cs.CV?key=K3Y-value&X-Amz-Signature=abcd&page=2"
    logger.warning("fetching %s failed", url)
    try:
        raise ConnectionError(f"cannot reach {url}")
    except ConnectionError:
        logger.exception("feed down")
    text = out.getvalue()
    for secret in ("digest:", "s3cr3t-pw", "K3Y-value", "abcd"):
        assert secret not in text
    assert "https://***@feeds.example.net/atom/cs.CV?key=***&X-Amz-Signature=***&page=2" in text


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("http://user@host/x", "http://***@host/x"),
        ("https://u:p@ss@host:8080/a, ada@example.org", "https://***@host:8080/a, ada@example.org"),
        ("https://h/p?api_key=Z&token=T;sig=9#f", "https://h/p?api_key=***&token=***;sig=***#f"),
        ("https://h/?access_token=abc&client_secret=d&password=e", "https://h/?access_token=***&client_secret=***&password=***"),
        # ordinary parameters, addresses and plain URLs stay as they are
        ("https://export.arxiv.org/api/query?search_query=cat:cs.CV&keyword=x&monkey=y",
         "https://export.arxiv.org/api/query?search_query=cat:cs.CV&keyword=x&monkey=y"),
        ("mailto:ada@example.org and ada@example.org", "mailto:ada@example.org and ada@example.org"),
    ],
)
def test_url_masking_takes_credentials_only(text: str, masked: str) -> None:
    assert mask_secrets(text) == masked


def test_an_atomic_write_keeps_the_files_permissions(tmp_path: Path) -> None:
    import os

    from newsletter.files import atomic_write_text

    roster = tmp_path / "subscribers.csv"
    roster.write_text("email,criteria\n")
    os.chmod(roster, 0o640)
    atomic_write_text(roster, "email,criteria\nada@example.org,c.md\n")
    assert roster.stat().st_mode & 0o777 == 0o640
    fresh = tmp_path / "new.txt"
    atomic_write_text(fresh, "x")
    assert fresh.stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask() -> int:
    import os

    current = os.umask(0o022)
    os.umask(current)
    return current
