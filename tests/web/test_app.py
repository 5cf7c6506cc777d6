"""The app factory and the webhook's basic auth."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from newsletter.db import Database
from newsletter.db import subscribers as subs
from newsletter.db.subscribers import token_for
from newsletter.models import OutgoingEmail
from newsletter.settings import load_settings
from newsletter.web.app import create_app
from newsletter.web.auth import credentials_match

ADA = "ada@example.org"
WHEN = dt.datetime(2025, 8, 28, 9, 30, tzinfo=dt.UTC)


def _basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode("ascii")


def _auth(username: str, password: str) -> dict[str, str]:
    return {"Authorization": _basic(f"{username}:{password}".encode())}


@pytest.mark.parametrize(("header", "expected"), [
    (_basic(b"sendgrid:p@ss:word"), True),  # a colon in the password is fine
    ("basic " + base64.b64encode(b"sendgrid:p@ss:word").decode(), True),  # scheme is case-insensitive
    (_basic(b"sendgrid:p@ss:wordX"), False),
    (_basic(b"sendgrid:p@ss:wor"), False),
    (_basic(b"Sendgrid:p@ss:word"), False),
    (_basic(b"sendgridp@ss:word"), False),
    (_basic(b"sendgrid"), False),
    ("Basic !!!not-base64!!!", False),
    ("Bearer " + base64.b64encode(b"sendgrid:p@ss:word").decode(), False),
    ("", False),
    (None, False),
])
def test_credentials_match(header: str | None, expected: bool) -> None:
    assert credentials_match(header, "sendgrid", "p@ss:word") is expected


def test_empty_configured_credentials_match_nothing() -> None:
    assert not credentials_match(_basic(b":"), "", "")
    assert not credentials_match(_basic(b"sendgrid:"), "sendgrid", "")
    assert not credentials_match(_basic(b":secret"), "", "secret")


def test_non_ascii_password() -> None:
    assert credentials_match(_basic("hé:mötley".encode()), "hé", "mötley")


def test_create_app_wires_state_and_routes(tmp_path: Path) -> None:
    """The routes use what the app was built with: these settings, database, clock, transport and
    body cap (each differs from its default here)."""
    settings = load_settings(data_dir=tmp_path / "var", webhook_username="u", webhook_password="p",
                             public_url="https://digest.example.org", from_email="digest@example.org")
    db = Database.open(settings.db_path)
    token = token_for(db, ADA, WHEN)
    sent: list[str] = []

    class Recording:
        def send(self, email: OutgoingEmail) -> str:
            sent.append(email.to)
            return "id"

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    app = create_app(settings, db, clock=lambda: WHEN, transport=Recording(), inbound_max_bytes=1024,
                     extra_routes=[Route("/healthz", healthz)])
    form = {"Content-Type": "multipart/form-data; boundary=x"}
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/healthz").json() == {"ok": True}
        assert client.post(f"/unsubscribe/{token}").status_code == 200
        too_big = b'--x\r\nContent-Disposition: form-data; name="padding"\r\n\r\n' + b"x" * 2048
        assert client.post("/inbound", content=too_big, headers=form | _auth("u", "p")).status_code == 413
        assert client.post("/inbound", content=too_big, headers=form | _auth("u", "q")).status_code == 401
        assert client.post("/events", content=b"[]").status_code == 403  # mounted; no public key set
        assert client.get("/inbound").status_code == 405
        assert client.get("/nothing-here").status_code == 404
    assert subs.suppressions(db)[ADA].at == WHEN.isoformat()  # this database, this clock
    assert sent == [ADA]  # the confirmation went through this transport
    db.close()


def test_the_default_clock_is_the_current_utc_time(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "state.db")
    app = create_app(load_settings(data_dir=tmp_path / "var"), db)
    before = dt.datetime.now(dt.UTC)
    now = app.state.clock()
    assert now.utcoffset() == dt.timedelta(0)
    assert before <= now <= dt.datetime.now(dt.UTC)
    db.close()


def test_db_tables_exist(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "state.db")
    tables = {row[0] for row in db.read().execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "feedback" in tables
    db.close()
