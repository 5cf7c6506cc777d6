"""The web app of `newsletter serve`: Inbound Parse, one-click unsubscribe, vote links, the
readers' private Atom feeds (web/feed.py), the readers' settings pages (web/preferences.py), the
public sign-up (web/signup.py, only when NEWSLETTER_SIGNUP is not `off`), SendGrid events (and
`/healthz`, newsletter/web/health.py, which the service passes in as an extra route).

Everything a route needs hangs on `app.state` (settings, db, clock, transport), so tests build
the app around their own database, clock and fake transport.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from newsletter.clock import Clock, utc_now
from newsletter.db import Database
from newsletter.mail.base import Transport
from newsletter.settings import Settings
from newsletter.web import feed, inbound, preferences, signup, unsubscribe, vote
from newsletter.web.preview import Previewer

log = logging.getLogger(__name__)


def _event_routes() -> list[BaseRoute]:
    """`newsletter.web.events.routes` (the SendGrid Event Webhook) once that module exists."""
    if importlib.util.find_spec("newsletter.web.events") is None:
        log.info("no newsletter.web.events module: POST /events is not served")
        return []
    module = importlib.import_module("newsletter.web.events")  # its own errors must surface
    return list(module.routes)


def create_app(
    settings: Settings,
    db: Database,
    *,
    clock: Clock | None = None,
    extra_routes: Sequence[BaseRoute] = (),
    transport: Transport | None = None,
    inbound_max_bytes: int = inbound.MAX_INBOUND_BYTES,
    previewer: Previewer | None = None,
) -> Starlette:
    """The app. `transport` sends the one unsubscribe confirmation; None only records the leave
    (`newsletter.readers.leave.send_pending_confirmations` sends those later). `previewer` ranks
    the preferences page's criteria previews (newsletter/daily/preview.py); None: no preview."""
    routes: list[BaseRoute] = [*inbound.routes, *unsubscribe.routes, *vote.routes, *feed.routes,
                               *preferences.routes,
                               *_event_routes(), *extra_routes]
    if settings.signup != "off":  # off: no route, so /signup is a 404 like any unknown path
        routes += signup.routes
        log.info("the public sign-up page is on (%s): %s/signup", settings.signup, settings.public_url)
    app = Starlette(routes=routes)
    app.state.settings = settings
    app.state.db = db
    app.state.clock = clock or utc_now
    app.state.transport = transport
    app.state.inbound_max_bytes = inbound_max_bytes
    app.state.previewer = previewer
    if not settings.webhook_username or not settings.webhook_password.get_secret_value():
        log.warning("NEWSLETTER_WEBHOOK_USERNAME/PASSWORD are not set: POST /inbound refuses all mail")
    return app
