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
