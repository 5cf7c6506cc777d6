"""Settings an admin can get wrong: limits shared with the roster, URLs, holiday lists, empty variables."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from newsletter.settings import ConfigError, load_settings


@pytest.mark.parametrize(
    ("field", "value", "variable"),
    [
        ("max_papers", 501, "NEWSLETTER_MAX_PAPERS"),
        ("min_relevance", 11, "NEWSLETTER_MIN_RELEVANCE"),
        ("public_url", "https://digest.example.org/?ref=mail", "NEWSLETTER_PUBLIC_URL"),
        ("public_url", "https://digest.example.org/#top", "NEWSLETTER_PUBLIC_URL"),
        ("arxiv_extra_holidays", "2025-12-24,2025-13-01", "NEWSLETTER_ARXIV_EXTRA_HOLIDAYS"),
    ],
)
def test_a_bad_value_is_refused_naming_its_variable(field: str, value: object, variable: str) -> None:
    with pytest.raises(ConfigError, match=f"^{variable}: "):
        load_settings(**{field: value})


def test_the_extra_holiday_error_names_the_bad_date(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_ARXIV_EXTRA_HOLIDAYS", "2025-12-24; 24.12.2025")
    with pytest.raises(ConfigError, match=r"'24\.12\.2025' is not a date as YYYY-MM-DD"):
        load_settings()


def test_extra_holidays_may_be_separated_by_commas_or_semicolons() -> None:
    settings = load_settings(arxiv_extra_holidays=" 2025-10-14; 2025-10-15,2025-10-16 ")
    assert settings.extra_holidays == (dt.date(2025, 10, 14), dt.date(2025, 10, 15), dt.date(2025, 10, 16))


def test_an_empty_variable_means_not_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PORT", "MAX_PAPERS", "TIMEZONE", "SEND_AT", "HTTP_TIMEOUT"):
        monkeypatch.setenv(f"NEWSLETTER_{name}", "")
    settings = load_settings()
    assert (settings.port, settings.max_papers, settings.timezone) == (8000, 30, "UTC")
    assert (settings.send_at, settings.http_timeout) == (dt.time(7, 0), 30.0)


def test_the_documented_selection_defaults() -> None:
    settings = load_settings()
    assert (settings.min_relevance, settings.min_novelty, settings.max_papers) == (5, 1, 30)


def test_a_misspelt_setting_is_named_with_the_nearest_real_one(tmp_path: Path) -> None:
    """A typo was silently ignored: `newsletter check` now names it (see tests/cli/test_checks.py)."""
    from newsletter.settings import unknown_names

    env_file = tmp_path / ".env"
    env_file.write_text("# comment\nexport NEWSLETTER_SENDAT=07:00\nNEWSLETTER_MAX_PAPERS=5\n")
    environ = {"NEWSLETTER_MAX_PAPER": "5", "NEWSLETTER_DEBUG": "1", "SENDGRID_API_KEY": "x",
               "NEWSLETTER_PORT": "8000"}
    assert unknown_names(environ, env_file) == [
        "NEWSLETTER_MAX_PAPER (did you mean NEWSLETTER_MAX_PAPERS?)",
        "NEWSLETTER_SENDAT (did you mean NEWSLETTER_SEND_AT?)",
    ]


def test_a_bad_value_from_the_env_file_says_it_came_from_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from newsletter.settings import ConfigError, load_settings

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NEWSLETTER_MAX_PAPERS", raising=False)
    (tmp_path / ".env").write_text("NEWSLETTER_MAX_PAPERS=lots\n")
    with pytest.raises(ConfigError, match=r"^NEWSLETTER_MAX_PAPERS \(in \.env\): "):
        load_settings()
