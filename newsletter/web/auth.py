"""HTTP basic auth for the webhooks SendGrid posts to, compared in constant time."""

from __future__ import annotations

import base64
import binascii
import hmac

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

REALM = "arxiv-digest"


def credentials_match(authorization: str | None, username: str, password: str) -> bool:
    """Whether an `Authorization` header carries exactly these credentials.

    Empty configured credentials refuse everything: an unset password must not mean "open".
    Both halves are always compared, so the time taken says nothing about which one was wrong.
    """
    if not username or not password or not authorization:
        return False
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    given_user, sep, given_password = decoded.partition(b":")
    user_ok = hmac.compare_digest(given_user, username.encode("utf-8"))
    password_ok = hmac.compare_digest(given_password, password.encode("utf-8"))
    return bool(sep) and user_ok and password_ok


def webhook_authorized(request: Request) -> bool:
    settings = request.app.state.settings
    return credentials_match(request.headers.get("authorization"), settings.webhook_username,
                             settings.webhook_password.get_secret_value())


def unauthorized() -> Response:
    return PlainTextResponse("authentication required\n", status_code=401,
                             headers={"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'})
