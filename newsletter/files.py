"""All file writes go through here: write to a temporary file beside the target, then rename.
And the one removal: whole dated folders (`outbox/<date>/`, `preview/<date>/`) past retention.

`private=True` is for files that hold a reader's token (outbox messages, previews): the file is
owner-only (0600) and its folder too (0700), like `state.db`, whatever the umask says.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path


def _default_mode() -> int:
    umask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(umask)
    return 0o666 & ~umask


# What `open(path, "w")` would give a new file; read once, at import, before any thread starts.
_NEW_FILE_MODE = _default_mode()
PRIVATE_FILE_MODE = 0o600
PRIVATE_FOLDER_MODE = 0o700


def private_folder(folder: Path) -> None:
    """Make `folder` (and any missing parent) exist, owner-only. A folder already there is made
    owner-only too (one written by an older version, 0755), when it is ours to change."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another writer made it a moment ago
            path.mkdir(mode=PRIVATE_FOLDER_MODE)
    try:
        mode = folder.stat().st_mode
        if stat.S_ISDIR(mode) and mode & 0o777 != PRIVATE_FOLDER_MODE:  # a file there: the write says so
            os.chmod(folder, PRIVATE_FOLDER_MODE)  # mkdir's mode is cut by the umask, never widened
    except PermissionError:  # someone else's folder (a mounted volume): its files are still 0600
        pass


def atomic_write_bytes(path: Path, data: bytes, *, private: bool = False) -> None:
    """Replace `path` with `data` so a reader sees the old file or the new one, never a part.

    The file keeps its permissions (a new one gets the usual ones); the temporary file alone
    would make it owner-only. A private file is owner-only whatever it was before.
    """
    if private:
        private_folder(path.parent)
        mode = PRIVATE_FILE_MODE
    else:
        try:
            mode = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = _NEW_FILE_MODE
    with _complete_temporary(path, data, mode) as tmp:
        os.replace(tmp, path)


def write_new_file(names: Iterable[Path], data: bytes, *, private: bool = False) -> Path:
    """Write `data` whole under the first of `names` that is free, and return that path.

    Never replaces a file, even one another process creates at the same moment: the complete
    temporary file is hard-linked to the name, which fails if the name is taken.
    """
    names = iter(names)
    first = next(names)
    if private:
        private_folder(first.parent)
    with _complete_temporary(first, data, PRIVATE_FILE_MODE if private else _NEW_FILE_MODE) as tmp:
        for name in itertools.chain([first], names):
            try:
                os.link(tmp, name)
            except FileExistsError:
                continue
            return name
    raise FileExistsError(f"every name like {first} is taken")


@contextlib.contextmanager
def _complete_temporary(path: Path, data: bytes, mode: int) -> Iterator[str]:
    """A flushed temporary file with `data` beside `path`; removed afterwards unless renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        yield tmp
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def atomic_write_text(path: Path, text: str, *, newline: str = "\n", private: bool = False) -> None:
    data = text if newline == "\n" else text.replace("\n", newline)
    atomic_write_bytes(path, data.encode("utf-8"), private=private)


def remove_dated_folders(root: Path, before: dt.date) -> list[Path]:
    """Remove the folders `root/YYYY-MM-DD` dated before `before`; returns those removed.

    Anything else in `root` is left alone, and so is a symbolic link (its target is not ours).
    """
    removed = []
    try:
        entries = sorted(root.iterdir())
    except FileNotFoundError:
        return []
    for entry in entries:
        try:
            day = dt.date.fromisoformat(entry.name)
        except ValueError:
            continue
        if len(entry.name) != 10 or day >= before or entry.is_symlink() or not entry.is_dir():
            continue
        shutil.rmtree(entry)
        removed.append(entry)
    return removed
