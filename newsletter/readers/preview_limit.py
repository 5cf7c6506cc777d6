"""How many criteria previews a reader may ask for: each ranks a whole stored day with the local
ranker (~150 ms of CPU), and the preferences link is the only credential, so whoever holds one
could otherwise keep a core busy. Counted with the sign-up limits' counter (newsletter/db/signups.py),
keyed by a MAC of the address as those are; the web page says when to try again (429)."""

from __future__ import annotations

import datetime as dt

from newsletter.db import Database
from newsletter.db import signups as attempts
from newsletter.readers.signup import keyed

# A reader trying out texts presses Preview every few seconds at most while reading the result:
# 5 a minute lets them, and 30 an hour caps what one link can cost at ~5 s of CPU an hour.
PREVIEW_LIMITS: tuple[tuple[dt.timedelta, int], ...] = (
    (dt.timedelta(minutes=1), 5),
    (dt.timedelta(hours=1), 30),
)


def admit_preview(db: Database, email: str, now: dt.datetime) -> dt.timedelta | None:
    """None, and the preview is counted, when the reader is within the limits; otherwise how long
    until the next one is allowed (nothing counted)."""
    return attempts.admit_within(db, kind="preview", key=keyed(db, "preview", email, now), now=now,
                                 windows=PREVIEW_LIMITS)
