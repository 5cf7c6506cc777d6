"""POST /inbound end to end: real-shaped Inbound Parse posts through Starlette's TestClient."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from newsletter.db.subscribers import email_for_token, is_suppressed, suppressions, token_for
from newsletter.mail.base import TransientSendError
from newsletter.models import OutgoingEmail
from newsletter.readers.feedback import list_feedback
from newsletter.web.inbound_parse import _recode
from tests.fakes.inbound import (
    NOW,
    REPLY_DOMAIN,
    InboundPost,
    LeaveApp,
    default_post,
    make_leave_app,
    raw_post,
    reply,
    sample_post,
)

ADA = "ada@example.org"
BOB = "bob@example.org"


def assert_nothing_changed(env: LeaveApp) -> None:
    assert suppressions(env.db) == {}
    assert list_feedback(env.db) == []
    assert env.outbox_files() == []


@pytest.fixture
def both(leave_app: LeaveApp) -> LeaveApp:
    """Ada and Bob both have tokens (both got digests)."""
    leave_app.token(ADA)
    leave_app.token(BOB)
    return leave_app


@pytest.mark.parametrize("mode", ["default", "raw"])
def test_unsubscribe_reply_suppresses_exactly_that_subscriber(both: LeaveApp, mode: str) -> None:
    message = reply(to=both.reply_address(ADA), text="Please unsubscribe me.\n\nAda",
                    message_id="<reply-1@mail.example.org>")
    post = default_post(message) if mode == "default" else raw_post(message)

    response = both.post(post)

    assert response.status_code == 200
    assert response.text.strip() == "ok: unsubscribed"
    assert is_suppressed(both.db, ADA)
    assert not is_suppressed(both.db, BOB)
    entry = suppressions(both.db)[ADA]
    assert (entry.source, entry.message_id, entry.at) == ("reply", "<reply-1@mail.example.org>",
                                                         NOW.isoformat())
    assert "unsubscribe" in entry.detail
    assert list_feedback(both.db) == []
    # The one confirmation, to Ada, written by the real outbox transport.
    [confirmation] = both.outbox_files()
    assert confirmation.name == f"{ADA}.confirmation.eml"
    assert b"will get no more digests" in confirmation.read_bytes()


def test_repeated_unsubscribe_reply_confirms_once(both: LeaveApp) -> None:
    message = reply(to=both.reply_address(ADA), subject="unsubscribe", text="", quote=None)
    assert both.post(default_post(message)).text.strip() == "ok: unsubscribed"
    again = reply(to=both.reply_address(ADA), subject="STOP", text="", quote=None)
    assert both.post(default_post(again)).text.strip() == "ok: already-unsubscribed"
    assert len(both.outbox_files()) == 1
    assert suppressions(both.db)[ADA].message_id == str(message["Message-ID"])


def test_a_second_unsubscribe_reply_retries_a_failed_confirmation(tmp_path: Path) -> None:
    class FailsOnce:
        def __init__(self) -> None:
            self.tries: list[str] = []

        def send(self, email: OutgoingEmail) -> str:
            self.tries.append(email.to)
            if len(self.tries) == 1:
                raise TransientSendError("HTTP 503 from SendGrid")
            return "id"

    transport = FailsOnce()
    env = make_leave_app(tmp_path, transport=transport)
    with env.client:
        first = reply(to=env.reply_address(ADA), subject="unsubscribe", text="", quote=None)
        assert env.post(default_post(first)).text.strip() == "ok: unsubscribed"
        assert suppressions(env.db)[ADA].confirmation_sent_at is None  # given back for a retry
        again = reply(to=env.reply_address(ADA), subject="unsubscribe", text="", quote=None)
        assert env.post(default_post(again)).text.strip() == "ok: already-unsubscribed"
    assert transport.tries == [ADA, ADA]
    assert suppressions(env.db)[ADA].confirmation_sent_at == NOW.isoformat()
    env.db.close()


def test_token_in_envelope_is_case_insensitive(both: LeaveApp) -> None:
    address = f"U-{both.token(ADA).upper()}@{REPLY_DOMAIN.upper()}"
    message = reply(to=address, text="unsubscribe")
    assert both.post(default_post(message)).status_code == 200
    assert is_suppressed(both.db, ADA)


def test_to_header_is_the_fallback_without_an_envelope(both: LeaveApp) -> None:
    message = reply(to=f"Digest <{both.reply_address(ADA)}>", text="unsubscribe")
    post = default_post(message)
    body = post.body.replace(b'name="envelope"', b'name="x-no-envelope"')
    response = both.post(type(post)(body, post.content_type))
    assert response.status_code == 200
    assert is_suppressed(both.db, ADA)


def test_envelope_wins_over_the_to_header(both: LeaveApp) -> None:
    # The To header names Ada's reply address, but SendGrid delivered it to Bob's.
    message = reply(to=both.reply_address(ADA), sender=BOB, text="unsubscribe")
    both.post(default_post(message, envelope_to=[both.reply_address(BOB)]))
    assert not is_suppressed(both.db, ADA)
    assert is_suppressed(both.db, BOB)


def test_html_only_raw_reply_with_gmail_quote(both: LeaveApp) -> None:
    message = EmailMessage(policy=policy.default)
    message["From"] = ADA
    message["To"] = both.reply_address(ADA)
    message["Subject"] = "Re: arXiv digest · Thu 28 Aug 2025 · 2 papers"
    message["Message-ID"] = "<html-1@mail.example.org>"
    message.set_content('<div dir="ltr">Unsubscribe&nbsp;please</div><div class="gmail_quote">'
                        "<blockquote>STOP-gradient remove</blockquote></div>", subtype="html")
    assert both.post(raw_post(message)).text.strip() == "ok: unsubscribed"


def html_reply(env: LeaveApp, markup: str, number: int = 0) -> EmailMessage:
    message = EmailMessage(policy=policy.default)
    message["From"] = ADA
    message["To"] = env.reply_address(ADA)
    message["Subject"] = "Re: arXiv digest"
    message["Message-ID"] = f"<html-{number}@mail.example.org>"
    message.set_content(markup, subtype="html")
    return message


def test_an_html_only_reply_keeps_the_readers_words_and_drops_styles_quotes_and_comments(
    both: LeaveApp,
) -> None:
    markup = ("<html><head><title>t</title><style>p {color: red}</style></head><body>"
              "<p>More <b>3D</b> papers&amp;fewer surveys</p>please<br>thanks<!-- hidden -->!"
              "<blockquote>quoted digest</blockquote>Ada<div class='gmail_quote'>On Thu wrote:</div>"
              "after the quote</body></html>")
    assert both.post(default_post(html_reply(both, markup))).text.strip() == "ok: feedback"
    [kept] = list_feedback(both.db)
    assert kept.body.split() == ["More", "3D", "papers&fewer", "surveys", "please", "thanks!", "Ada"]


def test_a_crafted_html_mail_is_answered_at_once(both: LeaveApp) -> None:
    """Unclosed tags made the old regexes backtrack for minutes, stalling every route; any sender
    can post one (no token needed). The thread bound is a hang guard, not a speed test."""
    results: list[str] = []
    for number, markup in enumerate(('<div class="' * 8000, "<" * 100_000, "<blockquote" * 40_000)):
        worker = threading.Thread(daemon=True, target=lambda m=markup, n=number: results.append(
            both.post(default_post(html_reply(both, m, n))).text.strip()))
        worker.start()
        worker.join(timeout=60)
        assert not worker.is_alive(), f"still parsing {markup[:12]!r}…"
    assert results == ["ok: feedback", "ok: feedback", "ok: feedback"]


def test_other_reply_is_kept_as_feedback_once(both: LeaveApp) -> None:
    message = reply(to=both.reply_address(ADA), text="Great picks today!\nMore 3D papers please.",
                    message_id="<fb-1@mail.example.org>")
    post = default_post(message, attachments=[("plot.png", "image/png", b"\x89PNG\r\n\x1a\n" * 100)])

    first = both.post(post)
    second = both.post(post)  # SendGrid re-posts when unsure we got it

    assert (first.status_code, first.text.strip()) == (200, "ok: feedback")
    assert (second.status_code, second.text.strip()) == (200, "ok: duplicate")
    [kept] = list_feedback(both.db)
    assert kept.email == ADA
    assert kept.body == "Great picks today!\nMore 3D papers please."  # not the quoted digest
    assert kept.subject.startswith("Re: arXiv digest")
    assert kept.message_id == "<fb-1@mail.example.org>"
    assert suppressions(both.db) == {}  # "Remove"/"Stop" in the quoted digest and subject count for nothing


def _ooo(env: LeaveApp) -> InboundPost:
    return default_post(reply(to=env.reply_address(ADA), subject="Out of Office: Re: arXiv digest",
                              text="I am away until Monday. unsubscribe", quote=None))


def _header(name: str, value: str) -> Callable[[LeaveApp], InboundPost]:
    def build(env: LeaveApp) -> InboundPost:
        return default_post(reply(to=env.reply_address(ADA), text="unsubscribe", headers=[(name, value)]))
    return build


def _report(env: LeaveApp) -> InboundPost:
    message = reply(to=env.reply_address(ADA), text="unsubscribe", quote=None,
                    content_type='multipart/report; report-type=delivery-status; boundary="b1"')
    return raw_post(message)


def _empty_sender(env: LeaveApp) -> InboundPost:
    return default_post(reply(to=env.reply_address(ADA), text="unsubscribe"), envelope_from="")


def _forged_token(env: LeaveApp) -> InboundPost:
    return default_post(reply(to=f"u-{'a' * 32}@{REPLY_DOMAIN}", text="unsubscribe"))


def _wrong_token_from_subscriber(env: LeaveApp) -> InboundPost:
    token = env.token(ADA)
    wrong = ("b" if token[0] != "b" else "c") + token[1:]
    return default_post(reply(to=f"u-{wrong}@{REPLY_DOMAIN}", sender=f"Ada <{ADA}>", text="unsubscribe"))


def _token_only_in_from(env: LeaveApp) -> InboundPost:
    # Someone who learnt Ada's reply address forges it as the sender: From is never trusted.
    return default_post(reply(to=f"u-{'q' * 32}@{REPLY_DOMAIN}", sender=env.reply_address(ADA),
                              text="unsubscribe"))


def _other_domain(env: LeaveApp) -> InboundPost:
    return default_post(reply(to=f"u-{env.token(ADA)}@evil.example.com", text="unsubscribe"))


@pytest.mark.parametrize(("build", "outcome"), [
    (_ooo, "automatic"),
    (_header("Auto-Submitted", "auto-replied"), "automatic"),
    (_header("Precedence", "bulk"), "automatic"),
    (_header("Precedence", "auto_reply"), "automatic"),
    (_header("X-Autoreply", "yes"), "automatic"),
    (_report, "automatic"),
    (_empty_sender, "automatic"),
    (_forged_token, "unknown-token"),
    (_wrong_token_from_subscriber, "unknown-token"),
    (_token_only_in_from, "unknown-token"),
    (_other_domain, "not-for-us"),
], ids=["out-of-office", "auto-submitted", "precedence-bulk", "precedence-auto-reply", "x-autoreply",
        "multipart-report", "empty-envelope-sender", "forged-token", "wrong-token-from-subscriber",
        "token-only-in-from", "other-domain"])
def test_mail_that_must_change_nothing_gets_200(
    both: LeaveApp, build: Callable[[LeaveApp], InboundPost], outcome: str
) -> None:
    response = both.post(build(both))
    assert (response.status_code, response.text.strip()) == (200, f"ok: {outcome}")
    assert_nothing_changed(both)


def test_auto_submitted_no_is_a_person(both: LeaveApp) -> None:
    both.post(default_post(reply(to=both.reply_address(ADA), text="unsubscribe",
                                 headers=[("Auto-Submitted", "no")])))
    assert is_suppressed(both.db, ADA)


@pytest.mark.parametrize("auth", [None, ("sendgrid", "wrong"), ("someone", "correct horse battery staple"),
                                  ("", "")], ids=["missing", "wrong-password", "wrong-user", "empty"])
def test_bad_credentials_get_401_and_change_nothing(both: LeaveApp, auth: tuple[str, str] | None) -> None:
    response = both.post(default_post(reply(to=both.reply_address(ADA), text="unsubscribe")), auth=auth)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Basic realm=")
    assert_nothing_changed(both)


def test_unset_webhook_credentials_refuse_everything(tmp_path: Path) -> None:
    env = make_leave_app(tmp_path, webhook_username="", webhook_password="")
    env.token(ADA)
    with env.client:
        for auth in [None, ("", ""), ("sendgrid", "")]:
            response = env.post(default_post(reply(to=env.reply_address(ADA), text="unsubscribe")), auth=auth)
            assert response.status_code == 401
    assert_nothing_changed(env)
    env.db.close()


def test_a_reply_over_5_mb_is_read_not_refused(both: LeaveApp) -> None:
    """It got a 413, and SendGrid drops a mail on any 4xx: the unsubscribe was lost."""
    big = reply(to=both.reply_address(ADA), text="unsubscribe\n" + "x" * (6 * 1024 * 1024))
    response = both.post(default_post(big))
    assert (response.status_code, response.text.strip()) == (200, "ok: unsubscribed")


def test_hundreds_of_attachments_and_fields_are_read_not_refused(both: LeaveApp) -> None:
    """Over 100 attachments or 200 fields got a 400 (and so was dropped)."""
    message = reply(to=both.reply_address(ADA), text="Please unsubscribe me")
    attachments = [(f"scan{i}.png", "image/png", b"\x89PNG" * 50) for i in range(150)]
    extra = [(f"content-id{i}", f"<cid{i}@example.org>") for i in range(250)]
    response = both.post(default_post(message, attachments=attachments, extra_fields=extra))
    assert (response.status_code, response.text.strip()) == (200, "ok: unsubscribed")


def test_a_30_mb_raw_mail_with_an_attachment_is_read(both: LeaveApp) -> None:
    """Raw mode carries the attachments inside `email`: its start (headers, text) is what counts."""
    message = reply(to=both.reply_address(ADA), text="unsubscribe", quote=None)
    message.add_attachment(b"\0" * (22 * 1024 * 1024), maintype="application", subtype="octet-stream",
                           filename="thesis.pdf")  # 22 MB, about 30 MB once in base64
    post = raw_post(message)
    assert len(post.body) > 29 * 1024 * 1024
    response = both.post(post)
    assert (response.status_code, response.text.strip()) == (200, "ok: unsubscribed")


def _asgi_post(env: LeaveApp, receive: Any, *headers: tuple[bytes, bytes],
               content_type: str | None = None) -> list[dict[str, Any]]:
    """POST /inbound straight into the ASGI app, so a test sees how much of the body it pulled."""
    post = default_post(reply(to=env.reply_address(ADA), text="unsubscribe"))
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/inbound", "raw_path": b"/inbound", "query_string": b"",
             "root_path": "", "client": ("127.0.0.1", 5000), "server": ("testserver", 80),
             "headers": [(b"content-type", (content_type or post.content_type).encode()),
                         *((k.lower().encode(), v.encode()) for k, v in _auth().items()), *headers]}
    asyncio.run(env.client.app(scope, receive, send))
    return sent


def _endless(first: bytes, counter: list[int], chunks: int = 64) -> Any:
    """An ASGI receive: `first`, then 16 KiB chunks of junk (1 MiB in all: a broken cap fails
    instead of hanging); `counter` counts the pulls."""
    async def receive() -> dict[str, Any]:
        counter.append(1)
        if len(counter) == 1:
            return {"type": "http.request", "body": first, "more_body": True}
        return {"type": "http.request", "body": b"y" * 16 * 1024, "more_body": len(counter) < chunks}
    return receive


def test_a_body_past_the_read_cap_is_acted_on_from_what_was_read(tmp_path: Path) -> None:
    """Reading stops at the cap (here 64 KiB; by default twice SendGrid's 30 MB), even when the
    declared length is larger; the reply in the fields read so far still counts: no 4xx."""
    env = make_leave_app(tmp_path)
    env.client.app.state.inbound_max_bytes = 64 * 1024
    body = default_post(reply(to=env.reply_address(ADA), text="unsubscribe")).body
    pulled: list[int] = []
    # The last field (SPF) never ends: the junk that follows is its data.
    assert body.endswith(b'name="SPF"\r\n\r\npass\r\n--xYzZY--\r\n')
    first = body[: -len(b"pass\r\n--xYzZY--\r\n")]
    sent = _asgi_post(env, _endless(first, pulled), (b"content-length", str(10**9).encode()))
    assert sent[0]["status"] == 200
    assert b"".join(m.get("body", b"") for m in sent).strip() == b"ok: unsubscribed"
    assert len(pulled) <= 6  # 64 KiB cap / 16 KiB chunks, plus the first part: not the endless rest
    assert is_suppressed(env.db, ADA)
    env.db.close()


def test_a_body_past_the_read_cap_without_a_reply_is_413(tmp_path: Path) -> None:
    env = make_leave_app(tmp_path)
    env.client.app.state.inbound_max_bytes = 64 * 1024
    pulled: list[int] = []
    first = b'--xYzZY\r\nContent-Disposition: form-data; name="padding"\r\n\r\n'
    sent = _asgi_post(env, _endless(first, pulled))
    assert sent[0]["status"] == 413
    assert len(pulled) <= 6
    assert_nothing_changed(env)
    env.db.close()


def test_an_unauthenticated_post_is_refused_before_its_body_is_read(tmp_path: Path) -> None:
    env = make_leave_app(tmp_path)
    pulled: list[int] = []
    scope_auth = {"Authorization": "Basic " + "eDp5"}  # x:y

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    sent: list[dict[str, Any]] = []
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/inbound", "raw_path": b"/inbound", "query_string": b"",
             "root_path": "", "client": ("127.0.0.1", 5000), "server": ("testserver", 80),
             "headers": [(b"content-type", b"multipart/form-data; boundary=xYzZY"),
                         *((k.lower().encode(), v.encode()) for k, v in scope_auth.items())]}
    asyncio.run(env.client.app(scope, _endless(b"--xYzZY\r\n", pulled), send))
    assert sent[0]["status"] == 401
    assert pulled == []
    env.db.close()


def _auth() -> dict[str, str]:
    from tests.fakes.inbound import WEBHOOK_PASSWORD, WEBHOOK_USER, basic_auth

    return basic_auth(WEBHOOK_USER, WEBHOOK_PASSWORD)


# (The package's default_data_with_attachments.txt is an empty file, so it is left out.)
@pytest.mark.parametrize("name", ["default_data.txt", "raw_data.txt", "raw_data_with_attachments.txt"])
def test_sendgrid_package_samples_are_accepted(both: LeaveApp, name: str) -> None:
    response = both.post(sample_post(name))
    assert (response.status_code, response.text.strip()) == (200, "ok: not-for-us")
    assert_nothing_changed(both)


def test_not_a_form_is_400(both: LeaveApp) -> None:
    response = both.client.post("/inbound", content=b'{"hello": 1}',
                                headers={"Content-Type": "application/json", **_auth()})
    assert response.status_code == 400
    broken = both.client.post("/inbound", content=b"--xYzZY\r\ngarbage",
                              headers={"Content-Type": "multipart/form-data", **_auth()})
    assert broken.status_code == 400
    assert_nothing_changed(both)


def test_500_only_when_it_could_not_be_stored(both: LeaveApp) -> None:
    with both.db.tx() as conn:
        conn.execute("DROP TABLE feedback")
    response = both.post(default_post(reply(to=both.reply_address(ADA), text="Nice!")))
    assert response.status_code == 500  # SendGrid retries for three days
    # An unknown token needs no storage: still 200.
    assert both.post(default_post(reply(to=f"u-{'a' * 32}@{REPLY_DOMAIN}", text="hi"))).status_code == 200


def test_tokens_never_reach_the_logs(both: LeaveApp, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    ada, bob = both.token(ADA), both.token(BOB)
    both.post(default_post(reply(to=both.reply_address(ADA), text="unsubscribe")))
    both.post(default_post(reply(to=both.reply_address(BOB), text="Lovely digest")))
    both.post(default_post(reply(to=f"u-{'z' * 32}@{REPLY_DOMAIN}", text="unsubscribe")))
    both.post(default_post(reply(to=both.reply_address(BOB), text="x")), auth=("sendgrid", "nope"))
    both.client.get(f"/unsubscribe/{bob}")
    both.client.post(f"/unsubscribe/{bob}")
    both.client.post(f"/unsubscribe/{'z' * 32}")
    ours = [r for r in caplog.records if not r.name.startswith("httpx")]  # the test client's own log
    assert ours  # the server did log what happened
    text = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in ours)
    for token in (ada, bob, "z" * 32):
        assert token not in text.lower()
    assert is_suppressed(both.db, ADA)
    assert is_suppressed(both.db, BOB)


def test_field_in_another_charset_is_decoded() -> None:
    as_parsed = "退订".encode("gb2312").decode("latin-1")  # what the form parser falls back to
    assert _recode(as_parsed, "gb2312") == "退订"
    assert _recode("café", "utf-8") == "café"
    assert _recode("café", "no-such-charset") == "café"


def test_tokens_are_created_lazily_and_stable(leave_app: LeaveApp) -> None:
    def stored() -> list[str]:
        return [row["email"] for row in leave_app.db.read().execute(
            "SELECT email FROM subscriber_tokens ORDER BY email")]

    assert stored() == []  # none until a digest (here: the test) asks for one
    ada = token_for(leave_app.db, ADA, NOW)
    assert stored() == [ADA]
    assert token_for(leave_app.db, ADA, NOW.replace(hour=12)) == ada
    assert email_for_token(leave_app.db, ada) == ADA
    assert token_for(leave_app.db, BOB, NOW) != ada
    assert stored() == [ADA, BOB]


def test_list_feedback_newest_first_per_address_and_limited(both: LeaveApp) -> None:
    from newsletter.readers.feedback import MAX_BODY_CHARS, record_feedback

    later = NOW.replace(hour=11)
    assert record_feedback(both.db, email=ADA, subject="first", body="a", now=NOW, message_id="<1@x>")
    assert record_feedback(both.db, email=BOB, subject="second", body="b" * (MAX_BODY_CHARS + 5), now=later)
    assert not record_feedback(both.db, email=ADA, subject="again", body="a", now=later, message_id="<1@x>")
    assert [f.subject for f in list_feedback(both.db)] == ["second", "first"]
    assert [f.subject for f in list_feedback(both.db, limit=1)] == ["second"]
    assert [f.subject for f in list_feedback(both.db, email="ADA@example.org")] == ["first"]
    assert len(list_feedback(both.db, email=BOB)[0].body) == MAX_BODY_CHARS
    assert list_feedback(both.db, email=BOB)[0].received_at == later


# -- issue 22: replies that lost their unsubscribe -------------------------------------------

@pytest.mark.parametrize("mode", ["default", "raw"])
@pytest.mark.parametrize("title", ["On Leave-One-Out Conformal Prediction", "Automatic Answer Grading",
                                   "Mail Delivery Networks", "Undelivered Packets in Lossy Networks"])
def test_a_paper_title_in_our_subject_does_not_make_a_reply_automatic(
    both: LeaveApp, title: str, mode: str
) -> None:
    message = reply(to=both.reply_address(ADA), text="Unsubscribe",
                    subject=f"Re: arXiv digest · Thu 28 Aug 2025 · 3 papers · {title}…")
    post = default_post(message) if mode == "default" else raw_post(message)
    assert both.post(post).text.strip() == "ok: unsubscribed"


def test_an_unsubscribe_said_in_the_negative_is_kept_as_feedback(both: LeaveApp) -> None:
    words = "I do not want to unsubscribe, just fewer papers on robotics."
    response = both.post(default_post(reply(to=both.reply_address(ADA), text=words)))
    assert response.text.strip() == "ok: feedback"
    assert not is_suppressed(both.db, ADA)
    assert [f.body for f in list_feedback(both.db)] == [words]


XML_HTML = ('<?xml version="1.0" encoding="utf-8"?>\n'
            '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
            '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n<html xmlns="http://www.w3.org/1999/xhtml">'
            "<body><p>Unsubscribe</p></body></html>")


@pytest.mark.parametrize("mode", ["default", "raw"])
def test_an_html_reply_with_an_xml_declaration_is_read(both: LeaveApp, mode: str) -> None:
    """lxml refuses a str that declares an encoding: the reply read as empty."""
    message = html_reply(both, XML_HTML)
    post = default_post(message) if mode == "default" else raw_post(message)
    assert both.post(post).text.strip() == "ok: unsubscribed"


@pytest.mark.parametrize("encoding", ["8bit", "quoted-printable", "base64"])
def test_a_raw_reply_in_an_unknown_charset_is_read(both: LeaveApp, encoding: str) -> None:
    """charset=unknown-8bit raised LookupError: the reply read as empty."""
    body = {"8bit": "Unsubscribe, s'il vous pla\xeet\r\n",
            "quoted-printable": "Unsubscribe, s'il vous pla=EEt\r\n",
            "base64": "VW5zdWJzY3JpYmUsIHMnaWwgdm91cyBwbGHudA==\r\n"}[encoding]
    raw = (f"From: Ada <{ADA}>\r\nTo: {both.reply_address(ADA)}\r\nSubject: Re: arXiv digest\r\n"
           "Message-ID: <u8@mail.example.org>\r\nMIME-Version: 1.0\r\n"
           f"Content-Type: text/plain; charset=unknown-8bit\r\nContent-Transfer-Encoding: {encoding}\r\n"
           f"\r\n{body}")
    assert both.post(raw_post(raw)).text.strip() == "ok: unsubscribed"


def test_a_feedback_reply_in_an_unknown_charset_keeps_its_words(both: LeaveApp) -> None:
    raw = (f"From: Ada <{ADA}>\r\nTo: {both.reply_address(ADA)}\r\nSubject: Re: arXiv digest\r\n"
           "Message-ID: <u9@mail.example.org>\r\nMIME-Version: 1.0\r\n"
           "Content-Type: text/plain; charset=unknown-8bit\r\nContent-Transfer-Encoding: quoted-printable\r\n"
           "\r\nMore papers on r=C3=A9seaux please\r\n")
    assert both.post(raw_post(raw)).text.strip() == "ok: feedback"
    assert [f.body for f in list_feedback(both.db)] == ["More papers on réseaux please"]
