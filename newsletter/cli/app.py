"""The command line: thin commands over the library; user errors exit non-zero with one line.

This module is the root `newsletter` app; the commands live beside it, one module per group:
`run` and `preview` in run.py, `subscribers …` in subscribers.py, `feedback …` in feedback.py,
`criteria draft` in criteria.py, `serve` and `check` in admin.py (the checks themselves in
checks.py), what they share in common.py (and the seed papers' `--like` in seeds.py).
"""

from __future__ import annotations

import typer

from newsletter.cli import admin, channels, criteria, feedback, run, subscribers

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="arXiv Digest: each reader's own morning digest of new arXiv papers.",
)
# `--help` lists the commands in this order, then the `subscribers` group.
app.command()(run.run)
app.command()(run.preview)
app.command()(admin.serve)
app.command("check")(admin.check_all)
app.add_typer(feedback.app, name="feedback")
app.add_typer(subscribers.app, name="subscribers")
app.add_typer(channels.app, name="channels")
app.add_typer(criteria.app, name="criteria")


def main() -> None:
    app(prog_name="newsletter")


if __name__ == "__main__":  # pragma: no cover
    main()
