"""The settings page's footer line: one line after the unsubscribe line in the text part, a
sentence in the HTML footer; without it both parts are as before, byte for byte."""

from __future__ import annotations

from newsletter.render import render_digest, render_empty
from tests.fakes.render_data import REPLY_TO, UNSUBSCRIBE_URL, seed_digest

SETTINGS_URL = "https://digest.example.org/preferences/tok/1796108400.abc"
LINE = f"Your settings (pause, weekly digests, send time, criteria) and past digests: {SETTINGS_URL}"


def test_the_line_follows_the_unsubscribe_line_and_changes_nothing_else() -> None:
    digest = seed_digest("2025-08-28")
    plain = render_digest(digest, unsubscribe_url=UNSUBSCRIBE_URL, reply_to=REPLY_TO)
    linked = render_digest(digest, unsubscribe_url=UNSUBSCRIBE_URL, reply_to=REPLY_TO,
                           settings_url=SETTINGS_URL)
    leave = f'To stop these emails, reply "unsubscribe" or open {UNSUBSCRIBE_URL}\n'
    assert linked.markdown == plain.markdown.replace(leave, leave + LINE + "\n")
    assert "/preferences/" not in plain.html
    assert f'<a href="{SETTINGS_URL}" style="color:#0b57d0">your settings page</a>' in linked.html


def test_the_empty_note_carries_it_too() -> None:
    digest = seed_digest("2025-08-28")
    note = render_empty(digest.subscriber, digest.date, unsubscribe_url=UNSUBSCRIBE_URL, reply_to=REPLY_TO,
                        settings_url=SETTINGS_URL)
    assert LINE in note.markdown.splitlines() and SETTINGS_URL in note.html
