"""The embedded default transport: each message becomes an .eml file in the outbox folder."""

from __future__ import annotations

import hashlib
import logging
from email import policy
from pathlib import Path
from urllib.parse import quote

from newsletter.files import atomic_write_bytes
from newsletter.mail.base import PermanentSendError
from newsletter.mail.compose import to_mime
from newsletter.models import OutgoingEmail

log = logging.getLogger(__name__)
# CRLF line ends as on the wire; headers are not folded below RFC 5322's hard limit, so the
# one-click List-Unsubscribe header stays on one line as mail clients read it.
_POLICY = policy.SMTP.clone(max_line_length=998)
_MAX_NAME = 200


def safe_filename(address: str) -> str:
    """An address as a file name: ASCII letters, digits and `@._+-~` stay, the rest is
    percent-encoded (UTF-8), as is a leading dot. Reversible, so two addresses never share a
    file: `o'neil@x` and `o_neil@x` are both legal and must not overwrite each other. A name
    past `_MAX_NAME` characters (long non-ASCII addresses) is cut and ends in a hash of the
    address instead, to stay within the file systems' 255-byte limit with the suffixes."""
    name = quote(address.strip(), safe="@._+-")
    name = "%2E" + name[1:] if name.startswith(".") else name or "_"
    if len(name) > _MAX_NAME:
        name = name[: _MAX_NAME - 17] + "#" + hashlib.sha256(address.strip().encode()).hexdigest()[:16]
    return name


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
        if email.category != "digest":
            # Each alert is sent once, so a second one of the same kind and day is news: keep
            # both. (A digest sent again replaces its file: it is the same digest.)
            path = _free_name(path)
        data = to_mime(email).as_bytes(policy=_POLICY)
        try:
            atomic_write_bytes(path, data)
        except OSError as exc:  # read-only mount, full disk, a file where the folder should be
            raise PermanentSendError(f"cannot write {exc.filename or path}: {exc.strerror or exc}") from exc
        log.debug("wrote %s", path)
        return str(path)


def _free_name(path: Path) -> Path:
    """`path`, or the first of `<stem>-2.eml`, `<stem>-3.eml`, … that does not exist yet."""
    candidate, number = path, 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
    return candidate
