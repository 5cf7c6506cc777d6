"""`newsletter serve`: the scheduler and the web server in one process.

APScheduler 3.11 in UTC with no persistent job store (the database says what is due):
- "fetch-when-shown": Monday–Friday 05:30 UTC, once the feed shows arXiv's Sunday–Thursday 20:00 US
  Eastern mailing (`schedule.fetch_trigger`), and "fetch-retry" every `fetch_retry_interval` (it
  does nothing once the expected day is stored);
- "deliver" every `delivery_interval`;
- "prune" once a day, from ten minutes after the start (`RetentionJob`, newsletter/service/retention.py).
Jobs are thin: they read the clock once and call `FetchJob.tick(now)` (newsletter/service/fetch_job.py)
or `DeliveryJob.tick(now)` (newsletter/service/delivery_job.py), both handed one `ServiceContext`
(newsletter/service/context.py). The database, not a job store, says what is due, so a restart
catches up by itself. The web app (newsletter/web/app.py) gets `/healthz` as an extra route.

SIGTERM (and Ctrl-C): uvicorn stops taking requests, the scheduler starts no new job, sends not yet
begun are refused at the transport gate, the ones in flight finish and are recorded; exit 0.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import socket
import threading
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING

from newsletter.clock import Clock, utc_now
from newsletter.db import Database
from newsletter.logs import set_level
from newsletter.mail.base import Transport
from newsletter.service.context import ServiceContext
from newsletter.service.delivery_job import DeliveryJob
from newsletter.service.fetch_job import FetchJob
from newsletter.service.health import health_status
from newsletter.service.retention import RetentionJob
from newsletter.service.schedule import fetch_trigger
from newsletter.settings import ConfigError, Settings

if TYPE_CHECKING:
    from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger(__name__)


class Service:
    """The jobs, handed one context (`ServiceContext.build(settings, db, ...)`)."""

    def __init__(self, context: ServiceContext) -> None:
        self.context = context
        self.fetch = FetchJob(context)
        self.delivery = DeliveryJob(context)
        self.retention = RetentionJob(context)


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


def _job(context: ServiceContext, name: str, tick: Callable[[dt.datetime], object]) -> Callable[[], None]:
    def run() -> None:
        if context.gate.closed.is_set():
            return
        try:
            tick(context.clock())
        except Exception:  # a job must never die: the next tick tries again
            log.exception("the %s job failed", name)
            if name == "deliver":
                context.state.record_tick(context.clock(), f"{name} job crashed (see the log)")

    return run


def _scheduler(service: Service) -> BackgroundScheduler:
    """The jobs on a UTC scheduler, the first fetch and delivery ticks at once; the prune after the
    catch-up of a restart, then daily."""
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.interval import IntervalTrigger

    settings = service.context.settings
    scheduler = BackgroundScheduler(timezone=dt.UTC, job_defaults={
        "coalesce": True, "max_instances": 1, "misfire_grace_time": int(max(60, settings.delivery_interval)),
    })
    fetch = _job(service.context, "fetch", service.fetch.tick)
    start = utc_now()
    scheduler.add_job(fetch, fetch_trigger(), id="fetch-when-shown")
    scheduler.add_job(fetch, IntervalTrigger(seconds=settings.fetch_retry_interval, timezone=dt.UTC),
                      id="fetch-retry", next_run_time=start)
    scheduler.add_job(_job(service.context, "deliver", service.delivery.tick),
                      IntervalTrigger(seconds=settings.delivery_interval, timezone=dt.UTC),
                      id="deliver", next_run_time=start + dt.timedelta(seconds=1))
    scheduler.add_job(_job(service.context, "prune", service.retention.tick),
                      IntervalTrigger(days=1, timezone=dt.UTC), id="prune",
                      next_run_time=start + dt.timedelta(minutes=10))
    return scheduler


def serve(settings: Settings, *, clock: Clock = utc_now, transport: Transport | None = None) -> None:
    """Run until SIGTERM/SIGINT: the scheduler (UTC) and the web app on settings.host:port."""
    import uvicorn

    from newsletter.daily.preview import build_previewer
    from newsletter.web.app import create_app
    from newsletter.web.health import healthz_route

    if logging.getLogger().level > logging.INFO:  # a service's log is its record: INFO at least
        set_level(logging.INFO)
    listener = _listen(settings.host, settings.port)  # before any fetch or send: a busy port stops here
    db = Database.open(settings.db_path)
    service = Service(ServiceContext.build(settings, db, clock=clock, transport=transport))
    context = service.context
    service.delivery.startup(clock())
    scheduler = _scheduler(service)

    health = healthz_route(lambda: health_status(db, context.state, clock()))
    app = create_app(settings, db, clock=clock, transport=context.gate, extra_routes=[health],
                     previewer=build_previewer(settings, db, clock=clock))
    server = uvicorn.Server(uvicorn.Config(app, host=settings.host, port=settings.port, log_config=None,
                                           access_log=False, lifespan="off"))
    stop = threading.Event()
    _install_stop_handler(stop)
    scheduler.start()
    context.state.mark_running()
    log.info("serving on http://%s:%d (delivery every %gs, fetch retry every %gs)", settings.host,
             settings.port, settings.delivery_interval, settings.fetch_retry_interval)
    log.info("%s", describe_setup(settings))
    try:
        server.run(sockets=[listener])
    finally:
        context.state.mark_stopping()
        context.gate.close()
        scheduler.shutdown(wait=True)  # the job in flight finishes (its sends are recorded)
        context.state.mark_stopped()
        db.close()
        log.info("stopped")
