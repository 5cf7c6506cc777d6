"""Leaving and coming back: the unsubscribe action shared by the reply and one-click routes.

An unsubscribe is one committed row on the suppression list (which `delivery_transitions.begin`
reads in the same transaction as it claims a send, so a run in progress stops at once). The one
confirmation email is claimed in the database before it is sent, so repeats never send twice;
a failed send gives the claim back for `send_pending_confirmations` to retry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import logging
from dataclasses import dataclass

from newsletter.db import Database
from newsletter.db import subscribers as subs
from newsletter.db.subscribers import SuppressionSource
from newsletter.mail.base import SendError, Transport
from newsletter.mail.compose import compose
from newsletter.models import OutgoingEmail, RenderedDigest
from newsletter.settings import Settings

log = logging.getLogger(__name__)

# Only a person's own request is confirmed: mail to a bounced address or to someone who
# reported us as spam would only make things worse.
CONFIRMED_SOURCES: tuple[SuppressionSource, ...] = ("reply", "one-click")

_HOW = {"reply": "your reply", "one-click": "the unsubscribe button"}


@dataclass(frozen=True, slots=True)
class LeaveResult:
    email: str
    newly_suppressed: bool  # False: the address was already on the suppression list


def unsubscribe(
    db: Database,
    email: str,
    source: SuppressionSource,
    now: dt.datetime,
    *,
    message_id: str | None = None,
    detail: str = "",
) -> LeaveResult:
    """Put the address on the suppression list (idempotent: the first record is kept)."""
    newly = subs.suppress(db, email, source, now, message_id=message_id, detail=detail)
    if newly:
        log.info("unsubscribed %s (source %s)", email, source)
    else:
        log.info("%s was already unsubscribed (source %s)", email, source)
    return LeaveResult(email=email, newly_suppressed=newly)


def confirmation_email(
    email: str, source: SuppressionSource, *, token: str, settings: Settings, now: dt.datetime
) -> OutgoingEmail:
    """The one "you will get no more digests" message."""
    how = _HOW.get(source, "a request")
    name = settings.from_name
    text = (
        f"You have left {name}.\n\n"
        f"Because of {how}, {email} will get no more digests. Nothing else is needed.\n\n"
        "If this was a mistake, reply to this email and the admin will add you back.\n"
    )
    page = (
        '<!doctype html><html><body style="font-family:sans-serif;line-height:1.5">'
        f"<p><strong>You have left {html.escape(name)}.</strong></p>"
        f"<p>Because of {html.escape(how)}, {html.escape(email)} will get no more digests."
        " Nothing else is needed.</p>"
        "<p>If this was a mistake, reply to this email and the admin will add you back.</p>"
        "</body></html>"
    )
    rendered = RenderedDigest(subject=f"You have left {name}", markdown=text, html=page)
    # Dated like a digest id so the outbox files it under today's folder, unique per leave.
    digest = hashlib.sha256(f"{email.lower()}|leave|{now.isoformat()}".encode()).hexdigest()[:16]
    return compose(rendered, to=email, token=token, settings=settings, now=now,
                   digest_id=f"{now:%Y%m%d}-{digest}", category="confirmation")


def send_confirmation(
    db: Database, email: str, now: dt.datetime, *, settings: Settings, transport: Transport
) -> bool:
    """Send the confirmation unless it was already sent (or is being sent); True when sent now."""
    suppression = subs.suppressions(db).get(email.lower())
    if suppression is None or suppression.source not in CONFIRMED_SOURCES:
        return False
    if not subs.mark_confirmation_sent(db, email, now):
        return False
    try:
        message = confirmation_email(email, suppression.source, token=subs.token_for(db, email, now),
                                     settings=settings, now=now)
        transport.send(message)
    except SendError as exc:
        subs.release_confirmation(db, email)
        log.warning("could not send the unsubscribe confirmation to %s: %s", email, exc)
        return False
    except BaseException:
        subs.release_confirmation(db, email)
        raise
    log.info("sent the unsubscribe confirmation to %s", email)
    return True


def send_pending_confirmations(
    db: Database, now: dt.datetime, *, settings: Settings, transport: Transport
) -> int:
    """Retry the confirmations that have not gone out (no transport then, or a failed send)."""
    return sum(
        send_confirmation(db, email, now, settings=settings, transport=transport)
        for email in subs.awaiting_confirmation(db, CONFIRMED_SOURCES)
    )


def leave(
    db: Database,
    email: str,
    source: SuppressionSource,
    now: dt.datetime,
    *,
    settings: Settings,
    transport: Transport | None,
    message_id: str | None = None,
    detail: str = "",
) -> LeaveResult:
    """Unsubscribe and, with a transport, send the confirmation right away."""
    result = unsubscribe(db, email, source, now, message_id=message_id, detail=detail)
    if transport is not None:
        send_confirmation(db, email, now, settings=settings, transport=transport)
    return result


def resubscribe(db: Database, email: str, now: dt.datetime) -> bool:
    """Take the address off the suppression list and give it a new token (old links stop working).

    True when it was suppressed. For `newsletter subscribers add --resubscribe`.
    """
    with db.tx():  # one transaction: never unsuppressed with the old token still valid
        was_suppressed = subs.unsuppress(db, email)
        subs.rotate_token(db, email, now)
    log.info("resubscribed %s", email)
    return was_suppressed
