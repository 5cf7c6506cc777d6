"""The SendGrid transport drives the real `sendgrid` client against the loopback fake."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

import pytest

from newsletter.mail.base import AuthSendError, PermanentSendError, TransientSendError
from newsletter.mail.sendgrid import (
    AUTH_REJECTED,
    SendGridTransport,
    UncertainSendError,
    build_mail,
    sandbox_check,
)
from newsletter.models import OutgoingEmail
from newsletter.settings import load_settings
from tests.fakes.sendgrid_server import FakeSendGrid

NOW = dt.datetime(2025, 8, 28, 11, 0, tzinfo=dt.UTC)


def make_email(to: str = "reader@example.org", digest_id: str = "20250828-abc") -> OutgoingEmail:
    return OutgoingEmail(
        to=to,
        from_email="digest@lab.example",
        from_name="Lab arXiv Digest",
        subject="arXiv digest 08/28/2025: 3 papers",
        text="# Personalized Daily ArXiv Papers 08/28/2025\n\nTotal relevant papers: 3\n",
        html="<h1>Personalized Daily ArXiv Papers 08/28/2025</h1><p>a &lt;b&gt; c</p>",
        reply_to="u-tok123@reply.lab.example",
        unsubscribe_url="https://digest.lab.example/unsubscribe/tok123",
        message_id="<20250828-abc@digest.lab.example>",
        date=NOW,
        digest_id=digest_id,
    )


def transport(fake: FakeSendGrid, timeout: float = 2.0, key: str | None = None) -> SendGridTransport:
    return SendGridTransport(key or fake.api_key, host=fake.url, timeout=timeout, clock=fake.clock)


def test_send_carries_every_part_and_header(fake_sendgrid: FakeSendGrid) -> None:
    message_id = transport(fake_sendgrid).send(make_email())

    (request,) = fake_sendgrid.requests
    assert request.status == 202
    assert request.accepted
    assert message_id == request.message_id
    assert message_id
    assert request.headers["authorization"] == f"Bearer {fake_sendgrid.api_key}"
    body = request.body
    assert body is not None
    assert body["from"] == {"email": "digest@lab.example", "name": "Lab arXiv Digest"}
    assert body["reply_to"] == {"email": "u-tok123@reply.lab.example"}
    assert body["personalizations"][0]["to"] == [{"email": "reader@example.org"}]
    assert body["subject"] == "arXiv digest 08/28/2025: 3 papers"
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    assert body["content"][1]["value"].endswith("<p>a &lt;b&gt; c</p>")
    assert request.header("List-Unsubscribe") == (
        "<https://digest.lab.example/unsubscribe/tok123>,"
        " <mailto:u-tok123@reply.lab.example?subject=unsubscribe>"
    )
    assert request.header("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    assert request.header("Message-ID") == "<20250828-abc@digest.lab.example>"
    assert body["categories"] == ["digest"]
    assert body["custom_args"] == {"digest_id": "20250828-abc"}
    tracking = body["tracking_settings"]
    assert tracking["click_tracking"]["enable"] is False
    assert tracking["open_tracking"]["enable"] is False
    assert tracking["subscription_tracking"]["enable"] is False
    assert "mail_settings" not in body
    assert fake_sendgrid.sent_to("READER@example.org") == 1


def test_the_readers_name_goes_with_the_address(fake_sendgrid: FakeSendGrid) -> None:
    transport(fake_sendgrid).send(dataclasses.replace(make_email(), to_name="Ada Lovelace"))
    body = fake_sendgrid.requests[0].body
    assert body is not None
    assert body["personalizations"][0]["to"] == [{"email": "reader@example.org", "name": "Ada Lovelace"}]
    transport(fake_sendgrid).send(dataclasses.replace(make_email(), to_name='Lovelace, "Ada";\nBcc: x'))
    body = fake_sendgrid.requests[1].body
    assert body is not None  # a comma or semicolon would make SendGrid drop the mail after a 202
    (to,) = body["personalizations"][0]["to"]
    assert to == {"email": "reader@example.org", "name": "Lovelace Ada Bcc: x"}


def test_rate_limit_reports_the_wait_until_reset(fake_sendgrid: FakeSendGrid) -> None:
    fake_sendgrid.clock = lambda: 1_750_000_000.0
    fake_sendgrid.reset_in = 7
    fake_sendgrid.script("429")
    with pytest.raises(TransientSendError) as caught:
        transport(fake_sendgrid).send(make_email())
    assert not isinstance(caught.value, UncertainSendError)
    assert caught.value.retry_after == pytest.approx(7.0)
    assert "429" in str(caught.value)
    assert fake_sendgrid.accepted == []


def test_rate_limit_wait_is_bounded(fake_sendgrid: FakeSendGrid) -> None:
    fake_sendgrid.reset_in = 86_400  # a broken clock on either side must not stall the run a day
    fake_sendgrid.script("429")
    with pytest.raises(TransientSendError) as caught:
        transport(fake_sendgrid).send(make_email())
    assert caught.value.retry_after is not None
    assert caught.value.retry_after <= 120


@pytest.mark.parametrize("step", ["500", "502", "503"])
def test_server_errors_are_transient(fake_sendgrid: FakeSendGrid, step: str) -> None:
    fake_sendgrid.script(step)
    with pytest.raises(TransientSendError) as caught:
        transport(fake_sendgrid).send(make_email())
    assert type(caught.value) is TransientSendError
    assert step in str(caught.value)


@pytest.mark.parametrize("step", ["400", "403", "413"])
def test_client_errors_are_permanent_with_sendgrids_message(
    fake_sendgrid: FakeSendGrid, step: str
) -> None:
    fake_sendgrid.script(step)
    with pytest.raises(PermanentSendError) as caught:
        transport(fake_sendgrid).send(make_email())
    assert fake_sendgrid.error_messages[int(step)] in str(caught.value)
    assert f"HTTP {step}" in str(caught.value)


@pytest.mark.parametrize("step", ["400", "403"])
def test_an_error_text_that_quotes_the_key_never_shows_it(fake_sendgrid: FakeSendGrid, step: str) -> None:
    """A proxy or gateway may echo the request's Authorization header in its error text; that
    text reaches the run summary, the database and the admin's alert."""
    fake_sendgrid.error_messages[int(step)] = f"bad request (Authorization: Bearer {fake_sendgrid.api_key})"
    fake_sendgrid.script(step)
    with pytest.raises(PermanentSendError) as caught:
        transport(fake_sendgrid).send(make_email())
    assert fake_sendgrid.api_key not in str(caught.value)
    assert "Authorization: Bearer ***" in str(caught.value)


def test_wrong_key_is_an_auth_error_that_never_shows_the_key(
    fake_sendgrid: FakeSendGrid, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "SG.wrong-key.very-secret"
    with pytest.raises(AuthSendError) as caught:
        transport(fake_sendgrid, key=secret).send(make_email())
    assert AUTH_REJECTED in str(caught.value)
    assert secret not in str(caught.value)
    assert secret not in caplog.text  # python_http_client logs headers at DEBUG otherwise
    assert secret not in repr(transport(fake_sendgrid, key=secret))


def test_hang_is_uncertain_not_retryable_blindly(fake_sendgrid: FakeSendGrid) -> None:
    fake_sendgrid.script("hang")
    with pytest.raises(UncertainSendError):
        transport(fake_sendgrid, timeout=0.3).send(make_email())
    # SendGrid did take it: a blind retry would mail the reader twice.
    assert fake_sendgrid.sent_to("reader@example.org") == 1


def test_dropped_connection_after_the_request_is_uncertain(fake_sendgrid: FakeSendGrid) -> None:
    fake_sendgrid.script("accept_drop")
    with pytest.raises(UncertainSendError):
        transport(fake_sendgrid).send(make_email())


def test_refused_connection_is_transient_and_certain() -> None:
    with FakeSendGrid() as fake:
        url = fake.url
    with pytest.raises(TransientSendError) as caught:
        SendGridTransport("SG.k.k", host=url, timeout=1).send(make_email())
    assert not isinstance(caught.value, UncertainSendError)
    assert "cannot reach SendGrid" in str(caught.value)


def test_empty_key_is_refused_up_front() -> None:
    with pytest.raises(ValueError, match="SENDGRID_API_KEY"):
        SendGridTransport("", host="http://127.0.0.1:9")


def test_extra_headers_are_passed_through() -> None:
    email = make_email()
    email = OutgoingEmail(**{**{f: getattr(email, f) for f in email.__dataclass_fields__},
                             "headers": (("X-Entity-Ref-ID", "abc"),)})
    body = build_mail(email)
    assert body["headers"]["X-Entity-Ref-ID"] == "abc"


def test_sandbox_check_sends_nothing(fake_sendgrid: FakeSendGrid) -> None:
    settings = load_settings(SENDGRID_API_KEY=fake_sendgrid.api_key, sendgrid_host=fake_sendgrid.url,
                             http_timeout=2)
    sandbox_check(settings, now=NOW)
    (request,) = fake_sendgrid.requests
    assert request.sandbox
    assert request.status == 200
    assert fake_sendgrid.accepted == []


def test_sandbox_check_names_the_reason(fake_sendgrid: FakeSendGrid) -> None:
    settings = load_settings(SENDGRID_API_KEY="SG.not.it", sendgrid_host=fake_sendgrid.url,
                             http_timeout=2)
    with pytest.raises(AuthSendError, match="sandbox check failed: SENDGRID_API_KEY was rejected"):
        sandbox_check(settings, now=NOW)
