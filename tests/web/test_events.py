"""POST /events: signed SendGrid Event Webhook batches, verified with a key pair made here."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.applications import Starlette
from starlette.testclient import TestClient

from newsletter.db import Database, deliveries, delivery_transitions, subscribers
from newsletter.db import events as event_store
from newsletter.settings import load_settings
from newsletter.web.events import SIGNATURE_HEADER, TIMESTAMP_HEADER, routes

NOW = dt.datetime(2025, 8, 28, 12, 0, tzinfo=dt.UTC)
DAY = dt.date(2025, 8, 28)
READER = "reader@example.org"


@dataclass
class Signer:
    key: ec.EllipticCurvePrivateKey

    @classmethod
    def new(cls) -> Signer:
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @property
    def public_key(self) -> str:
        """As SendGrid shows it in the settings page: base64 DER, no PEM armour."""
        der = self.key.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
        return base64.b64encode(der).decode()

    def headers(self, body: bytes, at: dt.datetime = NOW) -> dict[str, str]:
        timestamp = str(int(at.timestamp()))
        signature = self.key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {SIGNATURE_HEADER: base64.b64encode(signature).decode(), TIMESTAMP_HEADER: timestamp,
                "Content-Type": "application/json"}


@dataclass
class Hook:
    client: TestClient
    db: Database
    signer: Signer

    def post(self, events: list[dict[str, Any]], *, at: dt.datetime = NOW,
             signer: Signer | None = None) -> Any:
        body = json.dumps(events).encode()
        return self.client.post("/events", content=body, headers=(signer or self.signer).headers(body, at))


def make_app(db: Database, public_key: str) -> TestClient:
    app = Starlette(routes=routes)
    app.state.settings = load_settings(SENDGRID_WEBHOOK_PUBLIC_KEY=public_key)
    app.state.db = db
    app.state.clock = lambda: NOW
    return TestClient(app)


@pytest.fixture
def hook(tmp_path: Path) -> Iterator[Hook]:
    db = Database.open(tmp_path / "state.db")
    signer = Signer.new()
    with make_app(db, signer.public_key) as client:
        yield Hook(client, db, signer)
    db.close()


def event(kind: str, *, email: str = READER, digest_id: str | None = None, eid: str = "ev-1",
          **extra: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {"email": email, "event": kind, "sg_event_id": eid,
                           "sg_message_id": "fake00000001.filterdrecv-0.0",
                           "timestamp": int(NOW.timestamp()) - 30, "category": ["digest"]}
    if digest_id:
        raw["digest_id"] = digest_id
    return {**raw, **extra}


def unknown_delivery(db: Database, email: str = READER) -> str:
    """A delivery left in `sending` by a crash, then found by the next run: `unknown`."""
    assert delivery_transitions.begin(db, email, DAY, paper_ids=("2508.00001",), message_id="<m@x>", now=NOW)
    delivery_transitions.recover_interrupted(db, NOW)
    row = deliveries.get(db, email, DAY)
    assert row is not None
    assert row.status == "unknown"
    return row.digest_id


def test_processed_event_settles_an_unknown_delivery_as_sent(hook: Hook) -> None:
    digest_id = unknown_delivery(hook.db)
    answer = hook.post([event("processed", digest_id=digest_id)])
    assert answer.status_code == 200
    assert answer.json() == {"recorded": 1, "duplicates": 0, "ignored": 0, "resolved": 1, "suppressed": 0}
    row = deliveries.get(hook.db, READER, DAY)
    assert row is not None
    assert row.status == "sent"
    assert deliveries.delivered_paper_ids(hook.db, READER) == {"2508.00001"}
    (stored,) = event_store.for_digest(hook.db, digest_id)
    assert stored.event == "processed"
    assert stored.sg_message_id == "fake00000001.filterdrecv-0.0"


def test_a_replayed_event_is_recorded_once(hook: Hook) -> None:
    digest_id = unknown_delivery(hook.db)
    batch = [event("delivered", digest_id=digest_id, eid="ev-7")]
    assert hook.post(batch).json()["recorded"] == 1
    again = hook.post(batch).json()
    assert again["recorded"] == 0
    assert again["duplicates"] == 1
    assert len(event_store.for_digest(hook.db, digest_id)) == 1


def test_hard_bounce_suppresses_the_address(hook: Hook) -> None:
    answer = hook.post([event("bounce", type="bounce", eid="ev-b",
                              reason="550 5.1.1 The email account does not exist")])
    assert answer.status_code == 200
    assert answer.json()["suppressed"] == 1
    entry = subscribers.suppressions(hook.db)[READER]
    assert entry.source == "bounce"
    assert entry.message_id == "ev-b"
    assert "does not exist" in entry.detail
    # and the next run's claim is refused right there
    assert not delivery_transitions.begin(hook.db, READER, DAY, paper_ids=(), message_id="<m>", now=NOW)


def test_blocked_bounce_is_recorded_but_does_not_suppress(hook: Hook) -> None:
    answer = hook.post([event("bounce", type="blocked", reason="421 try again later")])
    assert answer.json()["recorded"] == 1
    assert not subscribers.is_suppressed(hook.db, READER)


def test_spam_report_suppresses_as_a_complaint(hook: Hook) -> None:
    hook.post([event("spamreport")])
    assert subscribers.suppressions(hook.db)[READER].source == "complaint"


def test_dropped_for_a_bounced_address_suppresses(hook: Hook) -> None:
    hook.post([event("dropped", reason="Bounced Address", eid="d1"),
               event("dropped", email="other@example.org", reason="Invalid SMTPAPI header", eid="d2")])
    assert subscribers.suppressions(hook.db)[READER].source == "bounce"
    assert not subscribers.is_suppressed(hook.db, "other@example.org")


def test_other_event_kinds_are_ignored(hook: Hook) -> None:
    answer = hook.post([event("open", eid="o"), event("click", eid="c")])
    assert answer.json() == {"recorded": 0, "duplicates": 0, "ignored": 2, "resolved": 0, "suppressed": 0}


def test_forged_signature_is_refused_and_nothing_is_stored(hook: Hook) -> None:
    answer = hook.post([event("spamreport")], signer=Signer.new())
    assert answer.status_code == 403
    assert not subscribers.is_suppressed(hook.db, READER)
    assert event_store.counts(hook.db) == {}


def test_tampered_body_is_refused(hook: Hook) -> None:
    body = json.dumps([event("delivered")]).encode()
    headers = hook.signer.headers(body)
    forged = json.dumps([event("spamreport")]).encode()
    assert hook.client.post("/events", content=forged, headers=headers).status_code == 403
    assert not subscribers.is_suppressed(hook.db, READER)


@pytest.mark.parametrize("offset", [dt.timedelta(minutes=-11), dt.timedelta(minutes=11),
                                    dt.timedelta(days=-30)])
def test_stale_or_future_batches_are_refused(hook: Hook, offset: dt.timedelta) -> None:
    answer = hook.post([event("spamreport")], at=NOW + offset)
    assert answer.status_code == 403
    assert not subscribers.is_suppressed(hook.db, READER)


def test_a_batch_signed_minutes_ago_is_fresh(hook: Hook) -> None:
    assert hook.post([event("delivered")], at=NOW - dt.timedelta(minutes=9)).status_code == 200


@pytest.mark.parametrize("drop", [SIGNATURE_HEADER, TIMESTAMP_HEADER])
def test_missing_headers_are_refused(hook: Hook, drop: str) -> None:
    body = json.dumps([event("delivered")]).encode()
    headers = hook.signer.headers(body)
    del headers[drop]
    assert hook.client.post("/events", content=body, headers=headers).status_code == 403


def test_garbage_signature_is_refused(hook: Hook) -> None:
    body = json.dumps([event("delivered")]).encode()
    headers = {**hook.signer.headers(body), SIGNATURE_HEADER: "not base64!!"}
    assert hook.client.post("/events", content=body, headers=headers).status_code == 403


def test_without_a_configured_key_everything_is_refused(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "s.db")
    signer = Signer.new()
    body = json.dumps([event("spamreport")]).encode()
    with make_app(db, "") as client:
        assert client.post("/events", content=body, headers=signer.headers(body)).status_code == 403
    with make_app(db, "bm90IGEga2V5") as client:  # "not a key", base64
        assert client.post("/events", content=body, headers=signer.headers(body)).status_code == 403
    assert not subscribers.is_suppressed(db, READER)


def test_pem_armoured_key_is_accepted(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "s.db")
    signer = Signer.new()
    pem = signer.key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    body = json.dumps([event("delivered")]).encode()
    with make_app(db, pem) as client:
        assert client.post("/events", content=body, headers=signer.headers(body)).status_code == 200


@pytest.mark.parametrize(("payload", "needle"), [
    (b"{not json", "bad event batch"),
    (b'{"event": "delivered"}', "JSON array"),
    (b'[{"event": "delivered", "email": "a@b.c"}, {"email": "x@y.z"}]', "event 1: the 'event' field"),
    (b'[{"event": "bounce", "email": "nobody"}]', "event 0 (bounce): the 'email' field"),
])
def test_signed_but_malformed_batches_are_a_400_naming_the_problem(
    hook: Hook, payload: bytes, needle: str
) -> None:
    answer = hook.client.post("/events", content=payload, headers=hook.signer.headers(payload))
    assert answer.status_code == 400
    assert needle in answer.text
    assert event_store.counts(hook.db) == {}  # all or nothing


def test_events_that_arrived_while_the_row_was_sending_settle_it_later(hook: Hook) -> None:
    # SendGrid's event can beat the next run's recovery: the row is still `sending` then.
    assert delivery_transitions.begin(hook.db, READER, DAY, paper_ids=(), message_id="<m>", now=NOW)
    digest_id = deliveries.digest_id_for(READER, DAY)
    assert hook.post([event("processed", digest_id=digest_id)]).json()["resolved"] == 0
    # the next run's recovery finds SendGrid's word and settles it instead of reporting `unknown`
    assert delivery_transitions.recover_interrupted(hook.db, NOW) == []
    assert event_store.settle_unknown(hook.db, NOW) == []  # nothing left to settle
    row = deliveries.get(hook.db, READER, DAY)
    assert row is not None
    assert row.status == "sent"


def test_a_long_chunked_body_is_refused_before_it_fills_the_memory(hook: Hook) -> None:
    """At the ASGI level, so we see how much the app pulled (no Content-Length, no signature)."""
    pulled = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": b"[" * 1024 * 1024, "more_body": pulled < 20}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/events", "raw_path": b"/events", "query_string": b"",
             "root_path": "", "headers": [(b"content-type", b"application/json")],
             "client": ("127.0.0.1", 5000), "server": ("testserver", 80)}
    asyncio.run(hook.client.app(scope, receive, send))  # type: ignore[arg-type]

    assert sent[0]["status"] == 413
    assert pulled <= 6  # the 5 MiB cap in 1 MiB chunks, not all 20 (an endless body never ends)


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        # far past Python's recursion limit: the decoder itself used to raise RecursionError (a 500)
        (_nested(100_000).encode(), "the body is nested deeper than 16 levels"),
        (b'{"a": ' * 50_000 + b"1" + b"}" * 50_000, "the body is nested deeper than 16 levels"),
        # one poison event among good ones, shallow enough to decode: refused by the bound
        (json.dumps([event("bounce"), {**event("processed", eid="ev-2"), "x": json.loads(_nested(600))}])
         .encode(), "event 1 is nested deeper than 16 levels"),
    ],
)
def test_a_signed_poison_batch_is_a_400_with_a_log_line_and_stores_nothing(
    hook: Hook, payload: bytes, needle: str, caplog: pytest.LogCaptureFixture
) -> None:
    answer = hook.client.post("/events", content=payload, headers=hook.signer.headers(payload))
    assert answer.status_code == 400
    assert needle in answer.text
    assert any(needle in r.getMessage() and r.levelname == "ERROR" for r in caplog.records)
    assert event_store.counts(hook.db) == {}
    assert not subscribers.is_suppressed(hook.db, READER)


def test_events_nested_up_to_the_bound_are_read(hook: Hook) -> None:
    deep = json.loads(_nested(14))  # batch → event → 14 levels of lists: 16 in all
    answer = hook.post([event("delivered", category=deep)])
    assert answer.status_code == 200
    assert answer.json()["recorded"] == 1
    assert hook.post([event("delivered", eid="ev-2", category=[deep])]).status_code == 400
