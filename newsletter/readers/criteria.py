"""The text checks of a roster row: criteria files and one-line values such as the reader's name.

A criteria file goes into the digest and to the LLM, so only a regular file whose real path is in
the roster's folder is read: a symlink to `/proc/self/environ` or `/etc/passwd` (or a symlinked
folder) would otherwise mail the service's own secrets. Control characters are refused, not
stripped: a NUL or an ESC in a criteria file, or a line break in a name (which drops the name from
the To header), is a mistake the admin should see with its place, not a silent change.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

CRITERIA_MAX_BYTES = 64 * 1024
_ALLOWED_IN_TEXT = frozenset("\t\n")  # a criteria file has lines and may have tabs
EMPTY = "is empty"


def _is_control(char: str) -> bool:
    # Cc: C0, DEL and C1 controls; Zl/Zp: U+2028/U+2029, line breaks to mail headers too.
    return unicodedata.category(char) in ("Cc", "Zl", "Zp")


def control_problem(text: str, *, allowed: frozenset[str] = frozenset()) -> str | None:
    """Where the first control character is ("U+001B at line 2, column 5"), or None."""
    line, column = 1, 0
    found: list[str] = []
    for char in text:
        column += 1
        if char not in allowed and _is_control(char):
            found.append(f"U+{ord(char):04X} at line {line}, column {column}")
        if char == "\n":
            line, column = line + 1, 0
    if not found:
        return None
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    return found[0] + more


def one_line_text(value: str) -> str:
    """A value shown in a mail header (the reader's name): ValueError if it holds a control character."""
    for column, char in enumerate(value, start=1):
        if _is_control(char):
            raise ValueError(
                f"has the control character U+{ord(char):04X} at character {column}"
                " (a line break, tab or escape code): it must be one line of plain text"
            )
    return value


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def read_criteria(folder: Path, value: str) -> tuple[Path, str]:
    """Read one criteria file (a path relative to the roster's folder); ValueError says why not."""
    if not value:
        raise ValueError("is required (a criteria file, relative to the roster's folder)")
    given = Path(value)
    if given.is_absolute() or ".." in given.parts:
        # SPEC: relative to the roster's folder. Anything else could feed any file the service can
        # read (its own environment with the API keys, say) to the LLM and into digests.
        raise ValueError(f"must be a path inside the roster's folder ({folder}), without '..'")
    root = folder.resolve()
    path = (root / given).resolve()
    if not _inside(path, root):
        # A symlink (the file or a folder on the way) that leads out of the roster's folder.
        raise ValueError(
            f"is a symlink to {path}, outside the roster's folder ({root}): copy the file there instead"
        )
    if not path.is_file():
        raise ValueError(f"criteria file not found: {path}")
    size = path.stat().st_size
    if size > CRITERIA_MAX_BYTES:
        raise ValueError(f"criteria file is {size} bytes, over the {CRITERIA_MAX_BYTES}-byte cap")
    with path.open("rb") as handle:  # the file, not its size: /proc files say 0 bytes
        data = handle.read(CRITERIA_MAX_BYTES + 1)
    if len(data) > CRITERIA_MAX_BYTES:
        raise ValueError(f"criteria file is over the {CRITERIA_MAX_BYTES}-byte cap")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"criteria file is not UTF-8 text (byte {exc.start})") from None
    try:
        return path, criteria_text(text)
    except ValueError as exc:
        said = f"is empty: {path}" if str(exc) == EMPTY else f"{given} {exc}"
        raise ValueError(f"criteria file {said}") from None


def criteria_text(text: str, *, max_bytes: int = CRITERIA_MAX_BYTES) -> str:
    """A criteria text as stored: line ends as `\n`, blank lines around it gone. ValueError (its
    message follows the text's name: "is empty", "has a control character …") for an empty text,
    one over `max_bytes` in UTF-8, or one with a control character other than tab and line end."""
    size = len(text.encode("utf-8"))
    if size > max_bytes:
        raise ValueError(f"is {size} bytes, over the {max_bytes}-byte cap")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    control = control_problem(text, allowed=_ALLOWED_IN_TEXT)  # before the strip: true line numbers
    if control is not None:
        raise ValueError(f"has a control character (NUL, ESC …): {control}")
    text = text.strip("\n")
    if not text.strip():
        raise ValueError(EMPTY)
    return text
