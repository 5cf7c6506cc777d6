"""The app factory and the webhook's basic auth."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

import pytest
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from newsletter.db import Database
from newsletter.settings import load_settings
from newsletter.web.app import create_app
from newsletter.web.auth import credentials_match


def _basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode("ascii")


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
    settings = load_settings(data_dir=tmp_path / "var")
    db = Database.open(settings.db_path)

    async def healthz(request):  # type: ignore[no-untyped-def]
        return JSONResponse({"ok": True})

    app = create_app(settings, db, extra_routes=[Route("/healthz", healthz)])
    assert app.state.settings is settings
    assert app.state.db is db
    assert app.state.transport is None
    now = app.state.clock()
    assert now.utcoffset() == dt.timedelta(0)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/healthz").json() == {"ok": True}
        assert client.post("/inbound").status_code == 401  # no credentials configured: refuses all
        assert client.get("/unsubscribe/" + "a" * 32).status_code == 404
        assert client.post("/events", content=b"[]").status_code != 404  # the Event Webhook is mounted
        assert client.get("/inbound").status_code == 405
        assert client.get("/nothing-here").status_code == 404
    db.close()


def test_db_tables_exist(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "state.db")
    tables = {row[0] for row in db.read().execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "feedback" in tables
    db.close()
