"""A loopback fake of SendGrid's v3 Mail Send API, for driving the real `sendgrid` client.

Use it through the `fake_sendgrid` pytest fixture (loaded by conftest via `pytest_plugins`):

    def test_something(fake_sendgrid):
        transport = SendGridTransport(fake_sendgrid.api_key, host=fake_sendgrid.url, timeout=2)
        fake_sendgrid.script("429", "500")     # the next two requests fail like this, then 202s
        ...
        assert fake_sendgrid.sent_to("a@example.org") == 1   # exactly one mail accepted for a@

Or point the settings at it: `SENDGRID_API_KEY=fake_sendgrid.api_key`,
`NEWSLETTER_SENDGRID_HOST=fake_sendgrid.url`. Outside pytest: `with FakeSendGrid() as fake: ...`.

What it serves: `POST /v3/mail/send`, checked like SendGrid does it: a wrong or missing
`Authorization: Bearer <api_key>` answers 401, a body that is not JSON or lacks personalizations /
from / subject / content answers 400, both with SendGrid's `{"errors": [{"message", "field",
"help"}]}` shape. A good request answers **202** with a unique `X-Message-Id` and counts as a
mail sent to its recipients; with `mail_settings.sandbox_mode.enable` it answers **200** and sends
nothing (SendGrid's sandbox).

Every request is recorded in `fake_sendgrid.requests` (a list of `Recorded`: method, path,
headers, parsed JSON `body` (None if not JSON), the `status` it was answered with, `message_id`,
and `accepted` — whether SendGrid "took" the mail). `fake_sendgrid.accepted` is the accepted
ones, `fake_sendgrid.sent_to(address)` counts accepted mails per recipient (case-insensitive).

`fake_sendgrid.script(*steps)` queues one step per coming request (first in, first out); when
the queue is empty the normal checks and 202 apply. A step is one of:
  "202"            accept it (after the normal checks)
  "429"            HTTP 429 with `X-RateLimit-Limit/Remaining/Reset`; Reset is the epoch second
                   `clock() + fake.reset_in` (default 1 s; set `fake.reset_in`, `fake.clock`)
  "500" / "502" / "503"  a server error (not accepted)
  "400" / "403" / "413"  SendGrid's errors array (message in `fake.error_messages[status]`)
  "401"            bad credentials, whatever the Authorization header says
  "hang"           SendGrid takes the mail (it is *accepted*) but answers 202 only after
                   `fake.hang_seconds` (default 10; cut short when the fake closes): a client
                   timeout here is the "maybe sent" case
  "drop"           closes the connection without an answer and without accepting
  "accept_drop"    accepts the mail, then closes the connection without an answer
  a callable       `fn(recorded_body: dict | None) -> (status, headers, body_bytes_or_dict)`;
                   a 2xx status counts as accepted
Knobs: `latency` (seconds added before every answer, for benches), `hang_seconds`, `reset_in`,
`clock`, `api_key`, `error_messages`, `keep_bodies` (False keeps only the recipients: for
benches). `GET /_fake/stats` answers `stats()` (requests, accepted count per recipient,
max_in_flight); `python -m tests.fakes.sendgrid_server --latency 0.002` runs it in its own process
and prints `{"url", "api_key"}` as its first line. `max_in_flight` is the most requests it was answering at
once (with some `latency`, it shows a sender pool's bound).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.fakes.loopback import Exchange, LoopbackFake, Steps

Answer = tuple[int, dict[str, str], "dict[str, Any] | bytes"]


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None
    raw: bytes
    status: int = 0
    message_id: str | None = None
    accepted: bool = False

    @property
    def recipients(self) -> list[str]:
        if not self.body:
            return []
        return [
            str(to.get("email", "")).lower()
            for p in self.body.get("personalizations", [])
            for to in p.get("to", [])
        ]

    @property
    def sandbox(self) -> bool:
        settings = (self.body or {}).get("mail_settings", {})
        return bool(settings.get("sandbox_mode", {}).get("enable"))

    def header(self, name: str) -> str | None:
        """A mail header from the request body's `headers` (not the HTTP headers)."""
        value = (self.body or {}).get("headers", {}).get(name)
        return None if value is None else str(value)


def _errors(message: str, field: str | None = None) -> dict[str, Any]:
    return {"errors": [{"message": message, "field": field, "help": None}]}


@dataclass
class FakeSendGrid(LoopbackFake):
    api_key: str = "SG.fake-key.for-tests"
    latency: float = 0.0
    hang_seconds: float = 10.0
    reset_in: float = 1.0
    clock: Callable[[], float] = time.time
    error_messages: dict[int, str] = field(default_factory=lambda: {
        400: "The to array is required for all personalization objects",
        403: "The from address does not match a verified Sender Identity.",
        413: "The JSON payload you have included in your request is too large.",
    })
    keep_bodies: bool = True
    requests: list[Recorded] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._steps: Steps[Any] = Steps()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.in_flight = 0
        self.max_in_flight = 0  # the most requests it was answering at once (a pool's bound)
        self._listen(get=self._get, post=self._post)

    def script(self, *steps: Any) -> None:
        self._steps.add(steps)

    def clear_script(self) -> None:
        """Drop the steps not yet played: from now on every request is accepted."""
        self._steps.clear()

    @property
    def pending_steps(self) -> int:
        return len(self._steps)

    @property
    def accepted(self) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.accepted]

    def sent_to(self, address: str) -> int:
        return sum(r.recipients.count(address.lower()) for r in self.accepted)

    def stats(self) -> dict[str, Any]:
        """What `GET /_fake/stats` answers: for a fake running in another process (bench)."""
        per_recipient: dict[str, int] = {}
        for record in self.accepted:
            for address in record.recipients:
                per_recipient[address] = per_recipient.get(address, 0) + 1
        with self._lock:
            return {"requests": len(self.requests), "accepted": per_recipient,
                    "max_in_flight": self.max_in_flight}

    # -- serving ---------------------------------------------------------------------------
    def _accept(self, record: Recorded) -> str:
        with self._lock:
            record.accepted = True
            record.message_id = f"fake{next(self._ids):08d}.filterdrecv-0"
            return record.message_id

    def _check(self, record: Recorded) -> Answer | None:
        """SendGrid's own validation: auth, JSON, required fields. None when the request is fine."""
        if record.headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, {}, _errors("The provided authorization grant is invalid, expired, or revoked")
        body = record.body
        if body is None:
            return 400, {}, _errors("Bad Request", None)
        for name in ("personalizations", "from", "subject", "content"):
            if not body.get(name):
                return 400, {}, _errors(f"The {name} parameter is required.", name)
        return None

    def _answer(self, record: Recorded) -> Answer | str:
        with self._lock:
            self.requests.append(record)
            step = self._steps.take("202")
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return self._step(record, step)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _step(self, record: Recorded, step: Any) -> Answer | str:
        if self.latency:
            self.pause(self.latency)
        if callable(step):
            status, headers, body = step(record.body)
            if 200 <= status < 300:
                headers = {"X-Message-Id": self._accept(record), **headers}
            return status, headers, body
        if step == "drop":
            return "drop"
        if step == "401":
            return 401, {}, _errors("The provided authorization grant is invalid, expired, or revoked")
        if step == "429":
            reset = int(self.clock() + self.reset_in)
            headers = {"X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "0",
                       "X-RateLimit-Reset": str(reset)}
            return 429, headers, _errors("too many requests")
        if step in ("500", "502", "503"):
            return int(step), {}, _errors("internal error")
        if step in ("400", "403", "413"):
            status = int(step)
            field_name = {400: "personalizations.0.to", 403: "from", 413: None}[status]
            return status, {}, _errors(self.error_messages[status], field_name)
        problem = self._check(record)
        if problem is not None:
            return problem
        if record.sandbox:
            return 200, {}, b""
        message_id = self._accept(record)
        if step == "accept_drop":
            return "drop"
        if step == "hang":
            self.pause(self.hang_seconds)
        return 202, {"X-Message-Id": message_id}, b""

    @staticmethod
    def _reply(exchange: Exchange, status: int, headers: dict[str, str],
               body: dict[str, Any] | bytes) -> None:
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        exchange.reply(status, data, "application/json" if data else None, headers.items())

    def _get(self, exchange: Exchange) -> None:
        if exchange.path != "/_fake/stats":
            self._reply(exchange, 404, {}, _errors("not found"))
            return
        self._reply(exchange, 200, {}, self.stats())

    def _post(self, exchange: Exchange) -> None:
        raw = exchange.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        record = Recorded("POST", exchange.path, {k.lower(): v for k, v in exchange.headers.items()},
                          body if isinstance(body, dict) else None, raw)
        if not self.keep_bodies and record.body is not None:
            # Keep only what counting needs: a bench sends ~100 KB per request.
            record.body = {"personalizations": record.body.get("personalizations", []),
                           "mail_settings": record.body.get("mail_settings", {}),
                           "from": 1, "subject": 1, "content": 1}
            record.raw = b""
        if exchange.path.rstrip("/") != "/v3/mail/send":
            with self._lock:
                self.requests.append(record)
            record.status = 404
            self._reply(exchange, 404, {}, _errors("not found"))
            return
        answer = self._answer(record)
        if answer == "drop":
            exchange.drop()
            return
        assert not isinstance(answer, str)
        status, headers, payload = answer
        record.status = status
        self._reply(exchange, status, headers, payload)


@pytest.fixture
def fake_sendgrid() -> Iterator[FakeSendGrid]:
    with FakeSendGrid() as fake:
        yield fake


def main() -> None:
    """Run the fake in its own process (bench): prints its URL and API key, serves until killed."""
    import argparse

    parser = argparse.ArgumentParser(description="loopback fake SendGrid")
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()
    with FakeSendGrid(latency=args.latency, keep_bodies=False) as fake:
        print(json.dumps({"url": fake.url, "api_key": fake.api_key}), flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
