"""`newsletter criteria draft --like …`: a criteria text drafted by the LLM from seed papers.

The draft is printed (or written to `--output`, never over a file without `--force`) for the
admin to review and save; nothing else is written: no roster row, no seed votes, no file unless
asked. The seed papers are read and fetched exactly as `subscribers add --like` does (cli/seeds.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from newsletter.cli.common import (
    LikeFileOption,
    LikeOption,
    UserError,
    err,
    fail,
    settings_for_cli,
    user_errors,
)
from newsletter.files import atomic_write_bytes
from newsletter.models import Usage

app = typer.Typer(no_args_is_help=True, help="Draft a reader's criteria text.")

NO_LLM = (
    "no LLM configured: set NEWSLETTER_LLM_MODEL (a litellm model name, e.g. openai/gpt-4o-mini;"
    " NEWSLETTER_LLM_API_BASE and NEWSLETTER_LLM_API_KEY as the provider needs) to draft criteria;"
    " nothing was written"
)


def _usage_line(usage: Usage) -> str:
    return (f"LLM: {usage.calls} calls, {usage.prompt_tokens} prompt + {usage.completion_tokens}"
            f" completion tokens, ${usage.cost_usd:.4f}.")


def _checked(text: str) -> str:
    """The draft as a criteria file must be (readers/criteria.py): the draft's own cleaning makes
    this hold, and it is checked here, where those rules live, so a saved draft always loads."""
    from newsletter.readers.criteria import CRITERIA_MAX_BYTES, control_problem

    control = control_problem(text, allowed=frozenset("\t\n"))
    if control is not None:
        raise UserError(f"the draft has a control character: {control}; nothing was written")
    if len(text.encode()) > CRITERIA_MAX_BYTES:
        raise UserError(f"the draft is over the {CRITERIA_MAX_BYTES}-byte cap of a criteria file")
    return text


def _write(path: Path, text: str, force: bool) -> None:
    data = (text + "\n").encode()
    if force:
        atomic_write_bytes(path, data)
        return
    try:
        with path.open("xb") as handle:  # exclusive: a file made meanwhile is not overwritten either
            handle.write(data)
    except FileExistsError:
        raise UserError(f"{path} exists; pass --force to overwrite it") from None


@app.command("draft")
def draft(
    like: LikeOption = "",
    like_file: LikeFileOption = None,
    output: Annotated[
        Path | None, typer.Option(help="Write the draft to this file instead of printing it.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Let --output overwrite an existing file.")] = False,
) -> None:
    """Print a criteria text the LLM drafts from the seed papers, for you to review and save."""
    from newsletter.cli.seeds import fetch_seeds, report_skipped
    from newsletter.ranking.draft import DraftError, draft_criteria
    from newsletter.ranking.llm_call import CallOptions

    with user_errors():
        settings = settings_for_cli()
    if not settings.llm_model:
        raise fail(NO_LLM, 2)
    if not like and like_file is None:
        raise fail("name the seed papers: --like IDS and/or --like-file FILE", 2)
    with user_errors():
        if output is not None and output.exists() and not force:  # before anything is spent
            raise UserError(f"{output} exists; pass --force to overwrite it")
        seeds = fetch_seeds(settings, like, like_file)
    report_skipped(seeds)
    if not seeds.papers:
        raise fail("none of the seed papers could be fetched: nothing to draft from")
    key = settings.llm_api_key.get_secret_value() or None
    options = CallOptions(settings.llm_model, settings.llm_api_base or None, key,
                          timeout=settings.llm_timeout)
    try:
        result = draft_criteria(options, seeds.papers)
    except DraftError as exc:
        if exc.usage.calls:
            err.print(_usage_line(exc.usage))
        raise fail(f"no draft: {exc}; nothing was written") from None
    with user_errors():
        text = _checked(result.text)
        if output is not None:
            _write(output, text, force)
    if output is None:
        typer.echo(text)
    else:
        err.print(f"Draft written to {escape(str(output))}.")
    ids = ",".join(p.arxiv_id for p in seeds.papers)
    left_out = len(seeds.papers) - result.papers
    err.print(f"Drafted {result.topics} topic(s) from {result.papers} seed paper(s)"
              + (f" ({left_out} more left out to bound the cost)." if left_out else "."))
    err.print(_usage_line(result.usage))
    path = str(output) if output is not None else "PATH"
    err.print("Next: review and edit the draft, save it in the roster's folder, then run"
              f" `newsletter subscribers add EMAIL --criteria {path} --like {ids}`", markup=False)
