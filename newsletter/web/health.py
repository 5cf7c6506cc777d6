"""`GET /healthz`: answers what a health check says (`newsletter.service.health.health_status`
in `newsletter serve`), as JSON with its HTTP status."""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

# () → (HTTP status, JSON body), asked afresh for every request
HealthCheck = Callable[[], tuple[int, dict[str, object]]]


def healthz_route(check: HealthCheck) -> Route:
    """The `/healthz` route for `create_app(extra_routes=[...])`."""

    def healthz(request: Request) -> JSONResponse:
        code, body = check()
        return JSONResponse(body, status_code=code)

    return Route("/healthz", healthz, methods=["GET", "HEAD"])
