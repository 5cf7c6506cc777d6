"""`newsletter serve`: the scheduler and the web server in one process.

APScheduler 3.11 in UTC with no persistent job store (the database says what is due):
- "fetch-when-shown": Monday–Friday 05:30 UTC, once the feed shows arXiv's Sunday–Thursday 20:00 US
  Eastern mailing (`schedule.fetch_trigger`), and "fetch-retry" every `fetch_retry_interval` (it
  does nothing once the expected day is stored);
- "deliver" every `delivery_interval`.
Jobs are thin: they read the clock once and call `Service.fetch_tick(now)` / `delivery_tick(now)`
(newsletter/service/jobs.py, with the jobs_*.py modules beside it). The web app (newsletter/web/app.py)
gets `/healthz` as an extra route.

SIGTERM (and Ctrl-C): uvicorn stops taking requests, the scheduler starts no new job, sends not yet
begun are refused at the transport gate, the ones in flight finish and are recorded; exit 0.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from types import FrameType

from newsletter.clock import Clock
from newsletter.db import Database
from newsletter.logs import set_level
from newsletter.mail.base import Transport
from newsletter.service.context import ServiceOptions, TransportGate, utc_now
from newsletter.service.health import healthz_route
from newsletter.service.jobs import Service
from newsletter.service.schedule import fetch_trigger
from newsletter.settings import ConfigError, Settings

log = logging.getLogger(__name__)

# Test-only: a file holding an ISO datetime that the service takes as `now` (see `clock_from_env`).
TEST_CLOCK_ENV = "NEWSLETTER_TEST_CLOCK_FILE"

__all__ = ["Service", "ServiceOptions", "TransportGate", "clock_from_env", "serve", "utc_now"]


def clock_from_env(environ: Mapping[str, str] | None = None) -> Clock:
    """The real clock, unless NEWSLETTER_TEST_CLOCK_FILE names a file whose content (an ISO
    datetime with offset) is then `now` — how the end-to-end test moves a subprocess through days."""
    path = (os.environ if environ is None else environ).get(TEST_CLOCK_ENV, "")
    if not path:
        return utc_now
    clock_file = Path(path)
    log.warning("%s is set: the service runs on the test clock in %s", TEST_CLOCK_ENV, clock_file)

    def file_clock() -> dt.datetime:
        value = dt.datetime.fromisoformat(clock_file.read_text(encoding="utf-8").strip())
        if value.tzinfo is None:
            raise ValueError(f"{clock_file}: the test clock needs a UTC offset, got {value}")
        return value.astimezone(dt.UTC)

    return file_clock


# --- the process ----------------------------------------------------------------------------------


def _listen(host: str, port: int) -> socket.socket:
    """The web routes' socket, bound now so that a port in use is one clear line, not a log entry
    from uvicorn after the scheduler has already fetched and sent."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: restarts rebind
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise ConfigError(
            f"cannot listen on {host}:{port} (NEWSLETTER_HOST, NEWSLETTER_PORT): {exc.strerror or exc}"
        ) from None
    return listener


def describe_setup(settings: Settings) -> str:
    """One line for the start-up log: what this service will do, with no secret in it."""
    mail = f"outbox {settings.outbox_dir}"
    if settings.uses_sendgrid:
        mail = f"SendGrid ({settings.sendgrid_host})"
    budget = settings.llm_daily_budget_usd
    llm = (f"LLM {settings.llm_model}" + (f" (${budget:g} a day)" if budget else "")
           if settings.llm_model else "local ranker only (no NEWSLETTER_LLM_MODEL)")
    admin = f"alerts to {settings.admin_email}" if settings.admin_email.strip() else "no admin alerts"
    return f"roster {settings.subscribers}; mail via {mail}; {llm}; {admin}; state {settings.db_path}"


def _install_stop_handler(stop: threading.Event) -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: stopping after the sends in flight", signum)
        stop.set()

    # uvicorn captures SIGTERM/SIGINT while it serves and re-raises them when it is done; with
    # ours installed, that re-raise lands here instead of killing the process with status -15.
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _job(service: Service, name: str, tick: Callable[[dt.datetime], object]) -> Callable[[], None]:
    def run() -> None:
        if service.gate.closed.is_set():
            return
        try:
            tick(service.clock())
        except Exception:  # a job must never die: the next tick tries again
            log.exception("the %s job failed", name)
            if name == "deliver":
                service.state.update(tick_at=service.clock(), tick_error=f"{name} job crashed (see the log)")

    return run


def serve(
    settings: Settings,
    *,
    options: ServiceOptions | None = None,
    clock: Clock | None = None,
    transport: Transport | None = None,
) -> None:
    """Run until SIGTERM/SIGINT: the scheduler (UTC) and the web app on settings.host:port."""
    import uvicorn
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.interval import IntervalTrigger

    from newsletter.web.app import create_app

    if logging.getLogger().level > logging.INFO:  # a service's log is its record: INFO at least
        set_level(logging.INFO)
    if options is None:
        try:
            options = ServiceOptions.from_settings(settings)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    clock = clock or clock_from_env()
    listener = _listen(settings.host, settings.port)  # before any fetch or send: a busy port stops here
    db = Database.open(settings.db_path)
    service = Service(settings, db, clock=clock, options=options, transport=transport)
    service.startup(clock())

    scheduler = BackgroundScheduler(timezone=dt.UTC, job_defaults={
        "coalesce": True, "max_instances": 1, "misfire_grace_time": int(max(60, options.delivery_interval)),
    })
    fetch = _job(service, "fetch", service.fetch_tick)
    start = utc_now()
    scheduler.add_job(fetch, fetch_trigger(), id="fetch-when-shown")
    scheduler.add_job(fetch, IntervalTrigger(seconds=options.fetch_retry_interval, timezone=dt.UTC),
                      id="fetch-retry", next_run_time=start)
    scheduler.add_job(_job(service, "deliver", service.delivery_tick),
                      IntervalTrigger(seconds=options.delivery_interval, timezone=dt.UTC),
                      id="deliver", next_run_time=start + dt.timedelta(seconds=1))

    app = create_app(settings, db, clock=clock, transport=service.gate,
                     extra_routes=[healthz_route(db, service.state, clock)])
    server = uvicorn.Server(uvicorn.Config(app, host=settings.host, port=settings.port, log_config=None,
                                           access_log=False, lifespan="off"))
    stop = threading.Event()
    _install_stop_handler(stop)
    scheduler.start()
    service.state.update(running=True)
    log.info("serving on http://%s:%d (delivery every %gs, fetch retry every %gs)", settings.host,
             settings.port, options.delivery_interval, options.fetch_retry_interval)
    log.info("%s", describe_setup(settings))
    try:
        server.run(sockets=[listener])
    finally:
        service.state.update(stopping=True)
        service.gate.close()
        scheduler.shutdown(wait=True)  # the job in flight finishes (its sends are recorded)
        service.state.update(running=False)
        db.close()
        log.info("stopped")
