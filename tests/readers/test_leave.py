"""One-click unsubscribe (GET/POST /unsubscribe/{token}) and the leave actions behind it."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsletter.db import DatabaseError, delivery_transitions
from newsletter.db import deliveries as delivery_store
from newsletter.db import subscribers as subs
from newsletter.mail.sendgrid import SendGridTransport
from newsletter.readers import leave
from tests.fakes.inbound import NOW, LeaveApp, make_leave_app
from tests.fakes.sendgrid_server import FakeSendGrid

ADA = "ada@example.org"
BOB = "bob@example.org"


def test_get_shows_a_button_and_changes_nothing(leave_app: LeaveApp) -> None:
    token = leave_app.token(ADA)
    response = leave_app.client.get(f"/unsubscribe/{token}")
    assert response.status_code == 200
    assert '<form method="post"' in response.text
    assert "<button" in response.text
    assert "a***@example.org" in response.text
    assert ADA not in response.text
    assert "set-cookie" not in response.headers
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert leave_app.client.head(f"/unsubscribe/{token}").status_code == 200
    assert subs.suppressions(leave_app.db) == {}
    assert leave_app.outbox_files() == []


def test_post_unsubscribes_and_is_safe_to_repeat(leave_app: LeaveApp) -> None:
    ada = leave_app.token(ADA)
    leave_app.token(BOB)
    first = leave_app.client.post(f"/unsubscribe/{ada}", data={"List-Unsubscribe": "One-Click"},
                                  follow_redirects=False)
    recorded = subs.suppressions(leave_app.db)[ADA]
    second = leave_app.client.post(f"/unsubscribe/{ada}", data={"List-Unsubscribe": "One-Click"},
                                   follow_redirects=False)

    for response in (first, second):
        assert response.status_code == 200  # RFC 8058: no redirect
        assert "location" not in response.headers
        assert "will get no more digests" in response.text
    assert first.text == second.text
    assert subs.suppressions(leave_app.db) == {ADA: recorded}  # the first record stands
    assert (recorded.source, recorded.at) == ("one-click", NOW.isoformat())
    assert not subs.is_suppressed(leave_app.db, BOB)
    assert [p.name for p in leave_app.outbox_files()] == [f"{ADA}.confirmation.eml"]
    # Now the page says so instead of offering the button again.
    page = leave_app.client.get(f"/unsubscribe/{ada}")
    assert "You are unsubscribed" in page.text
    for shown in (first.text, page.text):  # and says the way back (never a button that re-subscribes)
        assert "Changed your mind? Reply to any digest" in shown and "<form" not in shown
    assert "<form" not in page.text


def test_every_page_keeps_the_token_out_of_indexes_referrers_and_scripts(leave_app: LeaveApp) -> None:
    token = leave_app.token(ADA)
    for response in (leave_app.client.get(f"/unsubscribe/{token}"),
                     leave_app.client.post(f"/unsubscribe/{token}"),
                     leave_app.client.get(f"/unsubscribe/{token}"),
                     leave_app.client.post(f"/unsubscribe/{'b' * 32}")):
        assert response.headers["x-robots-tag"] == "noindex, nofollow"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["content-security-policy"] == (
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")


def test_a_database_error_asks_to_try_again_later(leave_app: LeaveApp) -> None:
    token = leave_app.token(ADA)
    with leave_app.db.tx() as conn:
        conn.execute("DROP TABLE suppressions")
    for response in (leave_app.client.get(f"/unsubscribe/{token}"),
                     leave_app.client.post(f"/unsubscribe/{token}")):
        assert response.status_code == 503
        assert "Try again later" in response.text
        assert response.headers["cache-control"] == "no-store"
    assert leave_app.outbox_files() == []


def test_post_without_a_body_works_too(leave_app: LeaveApp) -> None:
    token = leave_app.token(ADA)
    assert leave_app.client.post(f"/unsubscribe/{token.upper()}").status_code == 200
    assert subs.is_suppressed(leave_app.db, ADA)


@pytest.mark.parametrize("token", ["a" * 32, "short", "x" * 500, "not-a-token!", "%00"])
def test_unknown_token_is_a_404_that_reveals_nothing(leave_app: LeaveApp, token: str) -> None:
    leave_app.token(ADA)
    reference = leave_app.client.get(f"/unsubscribe/{'b' * 32}")
    for response in (leave_app.client.get(f"/unsubscribe/{token}"),
                     leave_app.client.post(f"/unsubscribe/{token}")):
        assert response.status_code == 404
        assert response.text == reference.text
    assert subs.suppressions(leave_app.db) == {}


def test_resubscribe_rotates_the_token(leave_app: LeaveApp) -> None:
    old = leave_app.token(ADA)
    leave_app.client.post(f"/unsubscribe/{old}")
    assert leave.resubscribe(leave_app.db, ADA, NOW) is True
    assert not subs.is_suppressed(leave_app.db, ADA)
    new = leave_app.token(ADA)
    assert new != old
    assert leave_app.client.post(f"/unsubscribe/{old}").status_code == 404  # old links are dead
    assert not subs.is_suppressed(leave_app.db, ADA)
    assert leave_app.client.post(f"/unsubscribe/{new}").status_code == 200
    assert subs.is_suppressed(leave_app.db, ADA)
    assert leave.resubscribe(leave_app.db, BOB, NOW) is False


def test_resubscribe_is_one_transaction(leave_app: LeaveApp, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure while rotating the token must leave the address suppressed, not back on the
    list with its old (leaked) unsubscribe link still working."""
    old = leave_app.token(ADA)
    leave_app.client.post(f"/unsubscribe/{old}")

    def broken(*args: object, **kwargs: object) -> str:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(subs, "rotate_token", broken)
    with pytest.raises((DatabaseError, sqlite3.OperationalError), match="disk I/O error"):
        leave.resubscribe(leave_app.db, ADA, NOW)
    assert subs.is_suppressed(leave_app.db, ADA)
    assert subs.email_for_token(leave_app.db, old) == ADA


@pytest.fixture
def sendgrid_app(tmp_path: Path, fake_sendgrid: FakeSendGrid) -> Iterator[tuple[LeaveApp, FakeSendGrid]]:
    transport = SendGridTransport(fake_sendgrid.api_key, host=fake_sendgrid.url, timeout=5)
    env = make_leave_app(tmp_path, transport=transport)
    with env.client:
        yield env, fake_sendgrid
    env.db.close()


def test_confirmation_goes_out_once_through_sendgrid(sendgrid_app: tuple[LeaveApp, FakeSendGrid]) -> None:
    env, fake = sendgrid_app
    token = env.token(ADA)
    for _ in range(3):
        assert env.client.post(f"/unsubscribe/{token}").status_code == 200
    assert fake.sent_to(ADA) == 1
    [mail] = fake.accepted
    assert mail.body["subject"] == "You have left arXiv Digest"
    assert subs.suppressions(env.db)[ADA].confirmation_sent_at == NOW.isoformat()


def test_a_failed_confirmation_is_retried_later_not_lost(sendgrid_app: tuple[LeaveApp, FakeSendGrid]) -> None:
    env, fake = sendgrid_app
    fake.script("500")
    token = env.token(ADA)
    assert env.client.post(f"/unsubscribe/{token}").status_code == 200  # the unsubscribe itself stands
    assert subs.is_suppressed(env.db, ADA)
    assert fake.sent_to(ADA) == 0
    assert subs.suppressions(env.db)[ADA].confirmation_sent_at is None

    assert leave.send_pending_confirmations(env.db, NOW, settings=env.settings,
                                            transport=env.client.app.state.transport) == 1
    assert leave.send_pending_confirmations(env.db, NOW, settings=env.settings,
                                            transport=env.client.app.state.transport) == 0
    assert fake.sent_to(ADA) == 1


def test_an_unexpected_transport_error_gives_the_confirmation_back_for_a_retry(leave_app: LeaveApp) -> None:
    class Broken:
        def send(self, email: object) -> str:
            raise RuntimeError("library bug")

    leave.unsubscribe(leave_app.db, ADA, "one-click", NOW)
    with pytest.raises(RuntimeError, match="library bug"):
        leave.send_confirmation(leave_app.db, ADA, NOW, settings=leave_app.settings, transport=Broken())
    assert subs.suppressions(leave_app.db)[ADA].confirmation_sent_at is None
    assert subs.awaiting_confirmation(leave_app.db, leave.CONFIRMED_SOURCES) == [ADA]


def test_the_confirmation_escapes_the_address_in_its_html(leave_app: LeaveApp) -> None:
    address = "a<b>&c@example.org"
    message = leave.confirmation_email(address, "reply", token="t" * 32, settings=leave_app.settings, now=NOW)
    assert "a&lt;b&gt;&amp;c@example.org will get no more digests" in message.html
    assert address not in message.html
    assert f"{address} will get no more digests" in message.text


def test_bounces_and_complaints_get_no_confirmation(sendgrid_app: tuple[LeaveApp, FakeSendGrid]) -> None:
    env, fake = sendgrid_app
    subs.suppress(env.db, ADA, "bounce", NOW)
    subs.suppress(env.db, BOB, "complaint", NOW)
    transport = env.client.app.state.transport
    assert leave.send_pending_confirmations(env.db, NOW, settings=env.settings, transport=transport) == 0
    assert not leave.send_confirmation(env.db, ADA, NOW, settings=env.settings, transport=transport)
    assert fake.requests == []


def test_without_a_transport_the_leave_is_only_recorded(tmp_path: Path) -> None:
    env = make_leave_app(tmp_path, transport=None)
    with env.client:
        assert env.client.post(f"/unsubscribe/{env.token(ADA)}").status_code == 200
    assert subs.is_suppressed(env.db, ADA)
    assert env.outbox_files() == []
    assert subs.awaiting_confirmation(env.db, leave.CONFIRMED_SOURCES) == [ADA]
    env.db.close()


def test_the_next_delivery_is_refused_once_suppressed(leave_app: LeaveApp) -> None:
    day = dt.date(2025, 8, 28)
    leave_app.client.post(f"/unsubscribe/{leave_app.token(ADA)}")
    assert not delivery_transitions.begin(leave_app.db, ADA, day, paper_ids=("2508.00001",),
                                          message_id="<m@x>", now=NOW)
    assert delivery_transitions.begin(leave_app.db, BOB, day, paper_ids=("2508.00001",), message_id="<m2@x>",
                                      now=NOW)


def test_an_unsubscribe_during_a_run_stops_the_rest_of_that_run(leave_app: LeaveApp) -> None:
    """Bob clicks the button while the run is sending to Ada: the run skips him afterwards."""
    from newsletter.daily.send import ComposedDigest, deliver_all
    from newsletter.mail.compose import compose
    from newsletter.models import OutgoingEmail, RenderedDigest

    day = dt.date(2025, 8, 28)
    bob_token = leave_app.token(BOB)

    class ClickingTransport:
        def __init__(self) -> None:
            self.sent: list[str] = []

        def send(self, email: OutgoingEmail) -> str:
            if not self.sent:  # mid-run, a real request through the web app
                assert leave_app.client.post(f"/unsubscribe/{bob_token}").status_code == 200
            self.sent.append(email.to)
            return "id"

    rendered = RenderedDigest("arXiv digest", "text", "<p>html</p>")
    jobs = [ComposedDigest(compose(rendered, to=address, token=leave_app.token(address),
                                settings=leave_app.settings, now=NOW,
                                digest_id=delivery_store.digest_id_for(address, day)), day, ("2508.1",))
            for address in (ADA, BOB)]
    transport = ClickingTransport()
    report = deliver_all(jobs, db=leave_app.db, transport=transport, clock=lambda: NOW, concurrency=1)
    assert transport.sent == [ADA]
    assert report.sent == (ADA,)
    assert report.skipped == (BOB,)
