"""A loopback fake of chat webhooks (Slack's and Discord's incoming webhooks, and any JSON
webhook), for driving the real `apprise` package at them.

Apprise's Slack and Discord plugins post to fixed hosts (`hooks.slack.com`, `discord.com`); the
`aim_apprise` fixture points their class attributes (`NotifySlack.webhook_url`,
`NotifyDiscord.notify_url`) at the fake for one test, so the plugin's own request building,
status handling and Discord's rate-limit logic all run for real. `json://127.0.0.1:PORT/path`
reaches it without any patch.

`fake.script(*steps)` queues one step per coming request; with none queued a request is accepted
(200 "ok", as Slack answers; Discord's 204 is `"204"`). Steps:
  "200" / "204"   accept
  "429"           Too Many Requests with `Retry-After: fake.retry_after` (not accepted)
  "500" / "502" / "503"  a server error (not accepted)
  "400" / "403" / "404"  refused (not accepted)
  "hang"          accepted, but the answer comes only after `fake.hang_seconds` (a client read
                  timeout: the "maybe posted" case)
  "drop"          closes the connection without an answer, not accepted
`fake.broken[path_part] = step` answers every request to such a path with that step.
`fake.requests` records every request (path, parsed JSON body or None, status, accepted);
`fake.accepted` the accepted ones; `fake.posted_to(path_part)` counts them per target.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.fakes.loopback import Exchange, LoopbackFake, Steps


@dataclass(frozen=True)
class Posted:
    path: str
    body: Any
    status: int
    accepted: bool


class FakeChat(LoopbackFake):
    def __init__(self) -> None:
        self.requests: list[Posted] = []
        self.steps: Steps[str] = Steps()
        self.retry_after = 1
        self.hang_seconds = 5.0
        self.broken: dict[str, str] = {}  # path part → the step every request to it gets
        self._lock = threading.Lock()
        self._listen(post=self._post)

    def script(self, *steps: str) -> None:
        self.steps.add(steps)

    @property
    def accepted(self) -> list[Posted]:
        with self._lock:
            return [r for r in self.requests if r.accepted]

    def posted_to(self, part: str) -> int:
        return sum(1 for r in self.accepted if part in r.path)

    def _record(self, exchange: Exchange, raw: bytes, status: int, accepted: bool) -> None:
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        with self._lock:
            self.requests.append(Posted(exchange.path, body, status, accepted))

    def _post(self, exchange: Exchange) -> None:
        raw = exchange.body()
        fixed = next((s for part, s in self.broken.items() if part in exchange.path), None)
        step = fixed if fixed is not None else self.steps.take("200")
        if step == "drop":
            self._record(exchange, raw, 0, False)
            exchange.drop()
            return
        if step == "hang":
            self._record(exchange, raw, 200, True)
            self.pause(self.hang_seconds)
            exchange.reply(200, b"ok", "text/plain")
            return
        status = int(step)
        accepted = status in (200, 204)
        self._record(exchange, raw, status, accepted)
        headers = [("Retry-After", str(self.retry_after))] if status == 429 else []
        body = b"" if status == 204 else (b"ok" if accepted else b'{"message": "no"}')
        exchange.reply(status, body, "text/plain" if accepted else "application/json", headers)


@pytest.fixture
def fake_chat() -> Iterator[FakeChat]:
    with FakeChat() as fake:
        yield fake


@pytest.fixture
def aim_apprise(fake_chat: FakeChat, monkeypatch: pytest.MonkeyPatch) -> FakeChat:
    """Apprise's Slack and Discord plugins post to the fake instead of their fixed hosts."""
    from apprise.plugins.discord import NotifyDiscord
    from apprise.plugins.slack import NotifySlack

    monkeypatch.setattr(NotifySlack, "webhook_url", f"{fake_chat.url}/services")
    monkeypatch.setattr(NotifyDiscord, "notify_url", f"{fake_chat.url}/api/webhooks")
    return fake_chat
