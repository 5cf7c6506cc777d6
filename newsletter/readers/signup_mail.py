"""The two mails of a sign-up, both built by `compose` like every mail: the confirmation with its
link, and (when the admin approves) the welcome. Each carries the address's unsubscribe token, so
a person who never asked can stop us with the mail client's unsubscribe button or a reply."""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import logging

from newsletter.db import Database, DatabaseError
from newsletter.db import subscribers as subs
from newsletter.db.signups import Signup
from newsletter.mail.base import SendError, Transport
from newsletter.mail.compose import compose
from newsletter.models import OutgoingEmail, RenderedDigest, Subscriber
from newsletter.readers import signup as rules
from newsletter.settings import Settings

log = logging.getLogger(__name__)

# Only a person's own leave is no reason to stop: a bounced address or one that reported us as
# spam gets no more mail from a form anyone can fill in (the page says the same either way).
NO_MAIL_SOURCES = ("bounce", "complaint")

_BODY = '<!doctype html><html><body style="font-family:sans-serif;line-height:1.5">{}</body></html>'


def _id(email: str, kind: str, now: dt.datetime, salt: str) -> str:
    """Dated like a digest id (the outbox files it under today's folder); reveals no sign-up id."""
    digest = hashlib.sha256(f"{email.lower()}|{kind}|{salt}|{now.isoformat()}".encode()).hexdigest()[:16]
    return f"{now:%Y%m%d}-{digest}"


def confirmation_email(signup: Signup, url: str, *, token: str, settings: Settings,
                       now: dt.datetime) -> OutgoingEmail:
    name = settings.from_name
    hours = int(rules.LINK_MAX_AGE.total_seconds() // 3600)
    text = (
        f"Someone, probably you, signed up {signup.email} for {name}, a daily digest of new arXiv"
        " papers.\n\n"
        f"To confirm, open this link and press the button on the page (it works for {hours} hours):\n\n"
        f"{url}\n\n"
        "If it was not you, ignore this mail: nothing happens without the button.\n"
    )
    page = _BODY.format(
        f"<p>Someone, probably you, signed up {html.escape(signup.email)} for {html.escape(name)},"
        " a daily digest of new arXiv papers.</p>"
        f'<p><a href="{html.escape(url)}">Confirm your sign-up</a> (the link works for {hours} hours'
        " and asks you to press a button).</p>"
        "<p>If it was not you, ignore this mail: nothing happens without the button.</p>")
    rendered = RenderedDigest(subject=f"Confirm your sign-up to {name}", markdown=text, html=page)
    return compose(rendered, to=signup.email, token=token, settings=settings, now=now,
                   digest_id=_id(signup.email, "signup", now, signup.id), category="signup")


def send_confirmation(db: Database, signup: Signup, *, settings: Settings, transport: Transport | None,
                      now: dt.datetime) -> bool:
    """Mail the link, unless the address bounced or complained (see NO_MAIL_SOURCES). Runs after
    the page has answered, so its timing says nothing either. True when it went out."""
    left = subs.suppressions(db).get(signup.email.lower())
    if left is not None and left.source in NO_MAIL_SOURCES:
        log.info("sign-up of a %s address: no confirmation mailed", left.source)
        return False
    if transport is None:
        log.warning("sign-up received but this app has no mail transport: no confirmation mailed")
        return False
    try:
        url = settings.public_url + rules.confirm_path(db, signup)
        message = confirmation_email(signup, url, token=subs.token_for(db, signup.email, now),
                                     settings=settings, now=now)
        transport.send(message)
    except (SendError, DatabaseError) as exc:  # after the page: nobody else to tell but the log
        log.warning("could not send a sign-up confirmation: %s", exc)
        return False
    log.info("sent a sign-up confirmation")
    return True


def welcome_email(subscriber: Subscriber, *, token: str, settings: Settings,
                  now: dt.datetime) -> OutgoingEmail:
    """The short note `subscribers approve` sends: you are in, when the digest comes, how to leave."""
    name = settings.from_name
    when = f"{subscriber.send_at:%H:%M} ({subscriber.timezone})"
    cats = ", ".join(subscriber.categories)
    text = (
        f"Welcome to {name}.\n\n"
        f"Your sign-up was approved: from the next arXiv announcement on, a digest of the new papers in"
        f" {cats} that fit what you asked for comes each arXiv morning at {when}.\n\n"
        "To leave, reply \"unsubscribe\" to any digest or use the link at its end.\n"
    )
    page = _BODY.format(
        f"<p><strong>Welcome to {html.escape(name)}.</strong></p>"
        "<p>Your sign-up was approved: from the next arXiv announcement on, a digest of the new papers"
        f" in {html.escape(cats)} that fit what you asked for comes each arXiv morning at"
        f" {html.escape(when)}.</p>"
        "<p>To leave, reply &ldquo;unsubscribe&rdquo; to any digest or use the link at its end.</p>")
    rendered = RenderedDigest(subject=f"Welcome to {name}", markdown=text, html=page)
    return compose(rendered, to=subscriber.email, token=token, settings=settings, now=now,
                   digest_id=_id(subscriber.email, "welcome", now, ""), category="welcome",
                   to_name=subscriber.name)
