"""Reads a reader's criteria text into topics, so each topic can be matched on its own.

Criteria files are prose, in two shapes seen in real use: numbered topics ("1. Spatial
intelligence ...", one per line) or headed topics (a title line, then "Relevant: ..." and
"Not relevant: ..." paragraphs). A closing paragraph on the reader's taste ("In suggesting papers
...") follows the topics. Anything else becomes a single topic holding the whole text, so every
criteria text yields at least one query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NUMBERED = re.compile(r"^\s*(\d{1,2})\s*[.)]\s*")
_RELEVANT = re.compile(r"^\s*relevant\s*:", re.IGNORECASE)
_NOT_RELEVANT = re.compile(r"^\s*(not relevant|irrelevant|exclude[sd]?)\s*:", re.IGNORECASE)
_INLINE_NOT_RELEVANT = re.compile(r"\bnot relevant\s*:", re.IGNORECASE)
# A numbered topic often runs its title straight into its description ("... Language Models
# Papers exploring ..."), so the title ends before "Papers" or at the first full stop.
_TITLE_END = re.compile(r"\s+(?=Papers\b|Works\b)|[.;](?:\s|$)")
_TITLE_CHARS = 90


@dataclass(frozen=True, slots=True)
class Topic:
    """One topic of a criteria text: what to look for, and what the reader ruled out."""

    number: int
    title: str
    relevant: str
    not_relevant: str = ""

    @property
    def query(self) -> str:
        """The text to match papers against: the title and the relevant part only."""
        if self.relevant.startswith(self.title):
            return self.relevant
        return f"{self.title}. {self.relevant}".strip()


@dataclass(frozen=True, slots=True)
class Criteria:
    topics: tuple[Topic, ...]
    note: str = ""  # the closing words on the reader's taste


def _title_of(text: str) -> str:
    match = _TITLE_END.search(text)
    title = (text[: match.start()] if match else text).strip().rstrip(":,")
    if len(title) > _TITLE_CHARS:
        title = title[:_TITLE_CHARS].rsplit(" ", 1)[0] + "…"
    return title


def _split_not_relevant(line: str) -> tuple[str, str]:
    parts = _INLINE_NOT_RELEVANT.split(line, maxsplit=1)
    return parts[0].strip(), (parts[1].strip() if len(parts) > 1 else "")


class _Draft:
    def __init__(self, number: int, title: str, relevant: str = "") -> None:
        self.number, self.title = number, title
        self.relevant: list[str] = [relevant] if relevant else []
        self.not_relevant: list[str] = []

    def freeze(self) -> Topic:
        relevant = " ".join(self.relevant).strip()
        return Topic(
            self.number, self.title or _title_of(relevant), relevant, " ".join(self.not_relevant).strip()
        )


def parse_criteria(text: str) -> Criteria:
    """Splits a criteria text into topics and a closing note; never fails on odd text."""
    lines = [line.strip() for line in text.splitlines()]
    drafts: list[_Draft] = []
    note: list[str] = []
    current: _Draft | None = None
    after_blank = False

    def next_line(index: int) -> str:
        return next((line for line in lines[index + 1 :] if line), "")

    for index, line in enumerate(lines):
        if not line:
            after_blank = True
            continue
        numbered = _NUMBERED.match(line)
        if numbered:
            body, excluded = _split_not_relevant(line[numbered.end() :])
            current = _Draft(len(drafts) + 1, _title_of(body), body)
            current.not_relevant += [excluded] if excluded else []
            drafts.append(current)
        elif _NOT_RELEVANT.match(line):
            current = current or _new(drafts)
            current.not_relevant.append(line.split(":", 1)[1].strip())
        elif _RELEVANT.match(line):
            current = current or _new(drafts)
            current.relevant.append(line.split(":", 1)[1].strip())
        elif _RELEVANT.match(next_line(index)):
            current = _Draft(len(drafts) + 1, _title_of(line))
            drafts.append(current)
        elif current is not None and not after_blank and not note:
            body, excluded = _split_not_relevant(line)
            current.relevant.append(body)
            current.not_relevant += [excluded] if excluded else []
        else:
            # Prose outside a topic: before the first topic or after the last one it is the
            # reader's general taste, not a topic of its own.
            note.append(line)
            current = None
        after_blank = False

    topics = tuple(d.freeze() for d in drafts if d.relevant or d.title)
    if not topics:
        whole = " ".join(line for line in lines if line)
        return Criteria((Topic(1, _title_of(whole), whole),), note="")
    return Criteria(topics, " ".join(note))


def _new(drafts: list[_Draft]) -> _Draft:
    draft = _Draft(len(drafts) + 1, "")
    drafts.append(draft)
    return draft
