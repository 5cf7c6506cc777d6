"""The embedded default transport: each message becomes an .eml file in the outbox folder."""

from __future__ import annotations

import glob
import hashlib
import itertools
import logging
from collections.abc import Iterator
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path
from urllib.parse import quote

from newsletter.files import atomic_write_bytes, private_folder, write_new_file
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
    """Writes `<folder>/<digest date>/<address>.eml`; the date folder comes from the digest id.

    Each message holds the reader's unsubscribe token (in the links and the Reply-To address), so
    the files are owner-only (0600) in owner-only folders (0700), like `state.db`.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path_for(self, email: OutgoingEmail) -> Path:
        stamp = email.digest_id.split("-", 1)[0]
        day = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}" if stamp.isdigit() and len(stamp) == 8 else stamp
        name = safe_filename(email.to)
        if email.category != "digest":
            name = f"{name}.{email.category}"
        return self.folder / day / f"{name}.eml"

    def written(self, digest_id: str, address: str, digest_date: str) -> bool:
        """The digest's file is there, and is this digest (files appear whole: atomic rename)."""
        path = self.folder / digest_date / f"{safe_filename(address)}.eml"
        try:
            with path.open("rb") as handle:
                headers = BytesHeaderParser(policy=policy.default).parse(handle)
        except OSError:
            return False
        return str(headers.get("Message-ID", "")).startswith(f"<{digest_id}.digest@")

    def discard_partial(self, address: str, digest_date: str) -> None:
        """A write killed before its rename leaves `.<name>.eml.<random>.tmp` behind."""
        for stale in (self.folder / digest_date).glob(f".{glob.escape(safe_filename(address))}.eml.*.tmp"):
            stale.unlink(missing_ok=True)

    def send(self, email: OutgoingEmail) -> str:
        path = self.path_for(email)
        data = to_mime(email).as_bytes(policy=_POLICY)
        try:
            private_folder(self.folder)  # the root too: it lists every reader's address
            if email.category == "digest":  # a digest sent again is the same digest: replace it
                atomic_write_bytes(path, data, private=True)
            else:  # each alert is sent once, so a second of the same kind and day is news: keep both
                path = write_new_file(_numbered(path), data, private=True)
        except OSError as exc:  # read-only mount, full disk, a file where the folder should be
            raise PermanentSendError(f"cannot write {exc.filename or path}: {exc.strerror or exc}") from exc
        log.debug("wrote %s", path)
        return str(path)


def _numbered(path: Path) -> Iterator[Path]:
    """`path`, then `<stem>-2.eml`, `<stem>-3.eml`, …"""
    yield path
    for number in itertools.count(2):
        yield path.with_name(f"{path.stem}-{number}{path.suffix}")
