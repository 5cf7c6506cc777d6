"""`newsletter.files`: a replaced file is swapped whole, never rewritten in place."""

from __future__ import annotations

from pathlib import Path

from newsletter.files import atomic_write_text


def test_a_reader_of_the_old_file_keeps_reading_it_whole(tmp_path: Path) -> None:
    roster = tmp_path / "subscribers.csv"
    roster.write_text("email,criteria\nada@example.org,c.md\n")
    with roster.open() as reader:  # e.g. the service loading the roster while `subscribers add` writes
        atomic_write_text(roster, "email,criteria\ngrace@example.org,d.md\n")
        assert reader.read() == "email,criteria\nada@example.org,c.md\n"
    assert roster.read_text() == "email,criteria\ngrace@example.org,d.md\n"
    assert [p.name for p in tmp_path.iterdir()] == ["subscribers.csv"]  # no temporary file left


def test_a_private_write_is_owner_only_whatever_the_umask_and_the_old_file(tmp_path: Path) -> None:
    import os

    from newsletter.files import atomic_write_bytes, write_new_file

    target = tmp_path / "new" / "deeper" / "token.md"
    old = os.umask(0o000)
    try:
        atomic_write_text(target, "a token", private=True)
        shared = tmp_path / "shared.txt"
        shared.write_text("was world-readable")
        os.chmod(shared, 0o644)
        atomic_write_bytes(shared, b"now holds a token", private=True)
        numbered = write_new_file([tmp_path / "new" / "alert.eml"], b"x", private=True)
    finally:
        os.umask(old)
    modes = {p.name: p.stat().st_mode & 0o777
             for p in (target, target.parent, target.parent.parent, shared, numbered)}
    assert modes == {"token.md": 0o600, "deeper": 0o700, "new": 0o700, "shared.txt": 0o600,
                     "alert.eml": 0o600}
