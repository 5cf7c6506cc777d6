"""The embedded default transport: each message becomes an .eml file in the outbox folder."""

from __future__ import annotations

import logging
from email import policy
from pathlib import Path

from newsletter.files import atomic_write_bytes
from newsletter.mail.compose import to_mime
from newsletter.models import OutgoingEmail

log = logging.getLogger(__name__)
# CRLF line ends as on the wire; headers are not folded below RFC 5322's hard limit, so the
# one-click List-Unsubscribe header stays on one line as mail clients read it.
_POLICY = policy.SMTP.clone(max_line_length=998)


def safe_filename(address: str) -> str:
    """An address as a file name: keep what is safe in one, replace the rest."""
    cleaned = "".join(c if c.isalnum() or c in "@._+-" else "_" for c in address.strip())
    return cleaned.lstrip(".") or "_"


class OutboxTransport:
    """Writes `<folder>/<digest date>/<address>.eml`; the date folder comes from the digest id."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path_for(self, email: OutgoingEmail) -> Path:
        stamp = email.digest_id.split("-", 1)[0]
        day = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}" if stamp.isdigit() and len(stamp) == 8 else stamp
        name = safe_filename(email.to)
        if email.category != "digest":
            name = f"{name}.{email.category}"
        return self.folder / day / f"{name}.eml"

    def send(self, email: OutgoingEmail) -> str:
        path = self.path_for(email)
        data = to_mime(email).as_bytes(policy=_POLICY)
        atomic_write_bytes(path, data)
        log.debug("wrote %s", path)
        return str(path)
