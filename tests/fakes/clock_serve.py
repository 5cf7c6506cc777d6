"""`newsletter serve` on a test clock: `python -m tests.fakes.clock_serve CLOCK_FILE`.

The same as the `serve` command (settings and logging from the environment), except that `now`
is the ISO datetime (with a UTC offset) in CLOCK_FILE, read afresh each time: how the end-to-end
test moves a service subprocess through days.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from pathlib import Path

from newsletter.clock import Clock

log = logging.getLogger(__name__)


def file_clock(clock_file: Path) -> Clock:
    """A clock that reads `now` from `clock_file`; a time without a UTC offset is refused."""

    def now() -> dt.datetime:
        value = dt.datetime.fromisoformat(clock_file.read_text(encoding="utf-8").strip())
        if value.tzinfo is None:
            raise ValueError(f"{clock_file}: the test clock needs a UTC offset, got {value}")
        return value.astimezone(dt.UTC)

    return now


def main(argv: list[str]) -> None:
    from newsletter.cli.common import settings_for_cli
    from newsletter.service.process import serve

    [clock_file] = argv
    settings = settings_for_cli()
    log.warning("the service runs on the test clock in %s", clock_file)
    serve(settings, clock=file_clock(Path(clock_file)))


if __name__ == "__main__":
    main(sys.argv[1:])
