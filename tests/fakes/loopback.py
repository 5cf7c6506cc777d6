"""What the loopback fakes (arxiv_server, llm_server, sendgrid_server) share: an HTTP server on
127.0.0.1 (a free port) served from a daemon thread, its start/stop, reply writing, and a
thread-safe queue of scripted steps.

A fake subclasses `LoopbackFake`, calls `self._listen(get=..., post=...)` in its constructor with
one function per HTTP method (each gets the `Exchange` of one request and answers through it), and
gets `start()`, `close()`, `with fake: ...` and `url` from the base. Serving starts at `start()`;
the port is bound at `_listen`, so `url` is known before.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from contextlib import suppress
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Generic, Self, TypeVar

# How often the serving loop looks for a stop request: a fake's teardown waits up to this long.
POLL_SECONDS = 0.01
TRICKLE_GAP = 0.05  # seconds between the whitespace bytes that lead a trickled body

Step = TypeVar("Step")
Default = TypeVar("Default")
Route = Callable[["Exchange"], None]


class Exchange(BaseHTTPRequestHandler):
    """One request and its answer: read it with `path`, `headers`, `body()`; answer with `reply()`
    or `drop()`. A method the fake has no route for answers 501, as the stdlib handler does."""

    server: _Server

    def setup(self) -> None:
        super().setup()
        self.protocol_version = self.server.protocol

    def log_message(self, format: str, *args: object) -> None:  # quiet test output
        pass

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def _route(self, method: str) -> None:
        route = self.server.routes.get(method)
        if route is None:
            self.send_error(HTTPStatus.NOT_IMPLEMENTED, f"Unsupported method ({method!r})")
            return
        route(self)

    def body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def reply(self, status: int, body: bytes, content_type: str | None,
              headers: Iterable[tuple[str, str]] = (), trickle: float = 0.0) -> None:
        """Answer `status` with `body` (no Content-Type header when `content_type` is None).
        `trickle` seconds: lead the body with one byte of whitespace every TRICKLE_GAP seconds."""
        lead = int(trickle / TRICKLE_GAP)
        # the client may have given up (a timeout test): nothing to answer then
        with suppress(OSError):
            self.send_response(status)
            if content_type is not None:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(lead + len(body)))
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            for _ in range(lead):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(TRICKLE_GAP)
            self.wfile.write(body)

    def drop(self) -> None:
        """Close the connection without an answer."""
        self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, routes: dict[str, Route], protocol: str) -> None:
        super().__init__(("127.0.0.1", 0), Exchange)
        self.routes = routes
        self.protocol = protocol


class LoopbackFake:
    """The lifecycle of a fake server; subclasses call `_listen` in their constructor."""

    _server: _Server
    _thread: threading.Thread
    _stopping: threading.Event

    def _listen(self, *, get: Route | None = None, post: Route | None = None,
                protocol: str = "HTTP/1.0") -> None:
        routes = {m: r for m, r in (("GET", get), ("POST", post)) if r is not None}
        self._server = _Server(routes, protocol)
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": POLL_SECONDS}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving; answers still waiting in `pause` go out at once."""
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def pause(self, seconds: float) -> None:
        """Sleep `seconds` while answering (a slow or hung server), cut short by `close()`."""
        self._stopping.wait(seconds)


class Steps(Generic[Step]):
    """A thread-safe first-in-first-out queue of scripted steps, one taken per request."""

    def __init__(self) -> None:
        self._queue: deque[Step] = deque()
        self._lock = threading.Lock()

    def add(self, steps: Iterable[Step]) -> None:
        with self._lock:
            self._queue.extend(steps)

    def take(self, default: Default) -> Step | Default:
        """The next step, or `default` when none is queued."""
        with self._lock:
            return self._queue.popleft() if self._queue else default

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._queue)
