"""The bundled sample feed, Retry-After parsing and the exception contract."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

import newsletter.fetch as fetch
from newsletter.fetch import ArxivSource, FetchError, NoAnnouncementError, RetryPolicy
from newsletter.fetch.http import parse_retry_after

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "arxiv"


def test_the_sample_feed_is_what_the_generator_writes(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "examples" / "make_sample_feed.py"), "--out", str(tmp_path)],
        check=True, capture_output=True,
    )
    for name in ("cs.AI+cs.CV", "cs.CV"):
        assert (tmp_path / name).read_bytes() == (EXAMPLES / name).read_bytes(), name


@pytest.mark.parametrize(("categories", "count"), [(("cs.CV",), 93), (("cs.CV", "cs.AI"), 135)])
def test_the_sample_folder_serves_2025_08_28_offline(
    categories: tuple[str, ...], count: int
) -> None:
    # The API URL points at a closed port: the folder alone must be enough.
    with ArxivSource(str(EXAMPLES), "http://127.0.0.1:9/api/query", timeout=1) as source:
        day = source.fetch_day(
            categories, want=dt.date(2025, 8, 28), now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        )
    assert day.date == dt.date(2025, 8, 28)
    assert len(day.papers) == count
    assert "2508.20020" in {p.arxiv_id for p in day.papers}  # the seed digest's first paper


NOW = dt.datetime(2025, 8, 28, 12, 0, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("Thu, 28 Aug 2025 12:01:30 GMT", 90.0),
        ("Thu, 28 Aug 2025 11:00:00 GMT", 0.0),  # in the past: retry now
        ("soon", None),
        ("", None),
        (None, None),
        ("-5", None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, NOW) == seconds


def test_retry_policy_is_validated() -> None:
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError, match="backoff"):
        RetryPolicy(backoff=-1)


def test_every_exception_but_no_announcement_is_a_fetch_error() -> None:
    errors = [getattr(fetch, name) for name in fetch.__all__ if name.endswith("Error")]
    assert NoAnnouncementError in errors
    for error in errors:
        assert issubclass(error, FetchError) is not issubclass(error, NoAnnouncementError), error
