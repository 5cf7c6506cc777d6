"""The outbox transport: one .eml per message, and one file name per address."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import os
from email import policy
from pathlib import Path
from urllib.parse import unquote

import pytest

from newsletter.mail.base import PermanentSendError
from newsletter.mail.outbox import OutboxTransport, safe_filename
from newsletter.models import OutgoingEmail

NOW = dt.datetime(2025, 8, 28, 7, 0, tzinfo=dt.UTC)


def message(to: str, category: str = "digest", subject: str = "Digest") -> OutgoingEmail:
    return OutgoingEmail(
        to=to, from_email="digest@example.org", from_name="arXiv Digest", subject=subject,
        text="text", html="<p>html</p>", reply_to="u-token@reply.example.org",
        unsubscribe_url="https://digest.example.org/unsubscribe/token", message_id="<id@example.org>",
        date=NOW, digest_id="20250828-abc", category=category,
    )


def test_plain_addresses_keep_their_readable_names() -> None:
    assert safe_filename("ada.lovelace+arxiv@example.org") == "ada.lovelace+arxiv@example.org"
    assert safe_filename(" grace_h-1@example.org ") == "grace_h-1@example.org"


def test_distinct_legal_addresses_never_share_a_file_and_the_name_reads_back() -> None:
    addresses = ["o'neil@example.org", "o_neil@example.org", "o=neil@example.org", "o%27neil@example.org",
                 "a/b@example.org", "müller@example.org", "..hidden@example.org", "x y@example.org"]
    names = [safe_filename(a) for a in addresses]
    assert len(set(names)) == len(addresses)
    for address, name in zip(addresses, names, strict=True):
        assert "/" not in name and not name.startswith(".") and name.isascii()
        assert unquote(name) == address


def test_a_very_long_address_gets_a_short_unique_name(tmp_path: Path) -> None:
    long_a, long_b = ("ü" * 60 + tail + "@example.org" for tail in ("a", "b"))  # 720+ bytes encoded
    names = safe_filename(long_a), safe_filename(long_b)
    assert len(names[0]) == len(names[1]) == 200 and names[0] != names[1]
    outbox = OutboxTransport(tmp_path)
    path = Path(outbox.send(message(long_a, category="alert-roster")))
    assert path.exists() and len(path.name.encode()) < 255


def test_each_message_is_written_where_its_address_says(tmp_path: Path) -> None:
    outbox = OutboxTransport(tmp_path)
    for to in ("o'neil@example.org", "o_neil@example.org"):
        outbox.send(message(to))
    outbox.send(message("o'neil@example.org", category="alert-run"))
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.eml"))
    assert written == ["2025-08-28/o%27neil@example.org.alert-run.eml", "2025-08-28/o%27neil@example.org.eml",
                       "2025-08-28/o_neil@example.org.eml"]
    parsed = email.message_from_bytes((tmp_path / written[1]).read_bytes(), policy=policy.default)
    assert parsed["To"] == "o'neil@example.org"


def test_a_second_alert_of_a_kind_on_a_day_keeps_the_first_and_a_digest_is_replaced(tmp_path: Path) -> None:
    outbox = OutboxTransport(tmp_path)
    first = outbox.send(message("admin@example.org", category="alert-run", subject="first"))
    second = outbox.send(message("admin@example.org", category="alert-run", subject="second"))
    third = outbox.send(message("admin@example.org", category="alert-run", subject="third"))
    assert [Path(p).name for p in (first, second, third)] == [
        "admin@example.org.alert-run.eml", "admin@example.org.alert-run-2.eml",
        "admin@example.org.alert-run-3.eml",
    ]
    assert "Subject: first" in Path(first).read_text()
    assert outbox.send(message("r@example.org")) == outbox.send(message("r@example.org"))
    assert len(list(tmp_path.rglob("r@example.org*.eml"))) == 1


def test_an_unwritable_outbox_is_a_failed_send_naming_the_path(tmp_path: Path) -> None:
    (tmp_path / "2025-08-28").write_text("a file where the day's folder should be")
    with pytest.raises(PermanentSendError, match=r"cannot write .*2025-08-28"):
        OutboxTransport(tmp_path).send(message("ada@example.org"))


def test_the_readers_name_goes_in_the_to_header_when_it_can(tmp_path: Path) -> None:
    outbox = OutboxTransport(tmp_path)
    named = dataclasses.replace(message("ada@example.org"), to_name="Lovelace, Ada")
    parsed = email.message_from_bytes(Path(outbox.send(named)).read_bytes(), policy=policy.default)
    assert parsed["To"] == '"Lovelace, Ada" <ada@example.org>'
    unicode_local = dataclasses.replace(message("müller@example.org"), to_name="Jürgen")
    parsed = email.message_from_bytes(Path(outbox.send(unicode_local)).read_bytes(), policy=policy.default)
    assert parsed["To"] == "müller@example.org"  # Address refuses such a local part: the bare address


def test_an_alert_never_replaces_a_file_another_process_writes_at_the_same_moment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    link, raced = os.link, []

    def another_process_first(source: str, target: Path) -> None:
        if not raced:  # the other writer takes the free name just before this one links to it
            raced.append(target)
            Path(target).write_text("the other alert")
        link(source, target)

    monkeypatch.setattr(os, "link", another_process_first)
    written = Path(OutboxTransport(tmp_path).send(message("admin@example.org", category="alert-run")))
    assert written.name == "admin@example.org.alert-run-2.eml"
    assert raced[0].read_text() == "the other alert"
    left = sorted(p.name for p in written.parent.iterdir())  # no temporary file behind
    assert left == ["admin@example.org.alert-run-2.eml", "admin@example.org.alert-run.eml"]


def test_only_this_digests_file_counts_as_written(tmp_path: Path) -> None:
    outbox = OutboxTransport(tmp_path)
    sent = dataclasses.replace(message("ada@example.org"), message_id="<20250828-abc.digest@example.org>")
    outbox.send(sent)
    assert outbox.written("20250828-abc", "ada@example.org", "2025-08-28")
    assert not outbox.written("20250828-def", "ada@example.org", "2025-08-28")  # another digest's file
    assert not outbox.written("20250828-abc", "grace@example.org", "2025-08-28")  # no file at all


def test_discarding_a_partial_write_leaves_other_readers_files_alone(tmp_path: Path) -> None:
    day = tmp_path / "2025-08-28"
    day.mkdir()
    mine, theirs = day / ".ada@example.org.eml.k2j4.tmp", day / ".grace@example.org.eml.p9q8.tmp"
    for path in (mine, theirs):
        path.write_text("half a message")
    OutboxTransport(tmp_path).discard_partial("ada@example.org", "2025-08-28")
    assert not mine.exists()
    assert theirs.exists()  # maybe another run's send in progress


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_messages_are_owner_only_like_the_database(tmp_path: Path) -> None:
    """Each file holds the reader's unsubscribe token: 0600 files in 0700 folders, whatever the umask."""
    outbox_folder = tmp_path / "data" / "outbox"
    outbox = OutboxTransport(outbox_folder)
    old = os.umask(0o022)
    try:
        digest = Path(outbox.send(message("ada@example.org")))
        alert = Path(outbox.send(message("admin@example.org", category="alert-run")))
    finally:
        os.umask(old)
    assert (_mode(digest), _mode(alert)) == (0o600, 0o600)
    assert (_mode(digest.parent), _mode(outbox_folder), _mode(outbox_folder.parent)) == (0o700, 0o700, 0o700)


def test_an_outbox_written_before_is_made_owner_only_as_it_is_written_again(tmp_path: Path) -> None:
    day = tmp_path / "2025-08-28"
    day.mkdir()
    old_file = day / "ada@example.org.eml"
    old_file.write_text("an older digest, world-readable")
    for path, mode in ((tmp_path, 0o755), (day, 0o755), (old_file, 0o644)):
        os.chmod(path, mode)
    digest = Path(OutboxTransport(tmp_path).send(message("ada@example.org")))
    assert digest == old_file
    assert (_mode(digest), _mode(day), _mode(tmp_path)) == (0o600, 0o700, 0o700)
