"""What one setting's value must look like: each check takes the raw value and returns it (or its
normal form), or raises ValueError in words for the admin. `Settings` (settings.py) runs them on
its fields; the roster reads a reader's `send_at` with `parse_local_time` too."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import zoneinfo
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email

from newsletter.taxonomy import category_problem

MIN_RETENTION_DAYS = 7
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")
_LOCAL_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LOCAL_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")  # 07:00 or 7:00


def parse_nameserver(value: str) -> tuple[str, int]:
    """A resolver as `1.1.1.1`, `127.0.0.1:5353`, `::1` or `[::1]:5353`; ValueError says the form."""
    text = value.strip()
    host, port = text, "53"
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") or "53"
    elif text.count(":") == 1:
        host, port = text.split(":")
    try:
        ipaddress.ip_address(host)
        number = int(port)
    except ValueError:
        raise ValueError(f"{value!r} must be a resolver's IP address, optionally with :port") from None
    if not 0 < number < 65536:
        raise ValueError(f"{value!r}: the port must be 1 to 65535")
    return host, number


def parse_local_time(value: str) -> dt.time:
    """A wall-clock time as H:MM or HH:MM, as SPEC gives `send_at`; ValueError says the form."""
    match = _LOCAL_TIME.match(value.strip())
    if not match:
        raise ValueError(f"{value!r} must be a local time as HH:MM (e.g. 07:00)")
    return dt.time(int(match[1]), int(match[2]))


def split_list(value: str) -> list[str]:
    """The parts of a comma- (or semicolon-) separated setting, without blanks."""
    return [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]


def known_timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {value!r}") from exc
    return value


def retention_days(value: int) -> int:
    if 0 < value < MIN_RETENTION_DAYS:
        raise ValueError(f"must be 0 (keep everything) or at least {MIN_RETENTION_DAYS}: a digest"
                         " stays due for up to three days after its announcement")
    return value


def nameserver(value: str) -> str:
    if value.strip():
        parse_nameserver(value)
    return value.strip()


def iso_dates(value: str) -> str:
    for part in split_list(value):
        try:
            dt.date.fromisoformat(part)
        except ValueError:
            raise ValueError(f"{part!r} is not a date as YYYY-MM-DD") from None
    return value


def known_categories(value: str) -> str:
    problems = [problem for name in split_list(value) if (problem := category_problem(name))]
    if problems:
        raise ValueError("; ".join(problems))
    return value


def http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"{value!r} is not an http(s) address such as https://digest.example.org")
    return value


def domain_name(value: str) -> str:
    """The name in its ASCII form, as mail headers need an internationalised one."""
    try:
        ascii_name = value.rstrip(".").encode("idna").decode("ascii")
    except UnicodeError:
        ascii_name = ""
    if not _DOMAIN.match(ascii_name):
        raise ValueError(f"{value!r} is not a domain name such as reply.example.org")
    return ascii_name


def email_address(value: str) -> str:
    """An address, or blank (not set)."""
    if not value.strip():
        return value
    try:  # a private mail host (lab.local, mailhost) is a fine sender or admin address
        validate_email(value, check_deliverability=False, globally_deliverable=False)
    except EmailNotValidError as exc:
        # The validator refuses reserved names (localhost, the offline default; *.local);
        # plain syntax is enough for those.
        local, _, domain = value.rpartition("@")
        if _LOCAL_PART.match(local) and _DOMAIN.match(domain):
            return value
        raise ValueError(f"{value!r} is not an email address: {exc}") from None
    return value
