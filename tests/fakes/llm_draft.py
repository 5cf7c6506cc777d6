"""The fake LLM's criteria drafts (used by `tests/fakes/llm_server.py`; see its docstring).

A draft request (`newsletter/ranking/draft.py`) has a user message that begins "Seed papers (" and
holds the papers in `<paper id="…">…</paper>` blocks. The answer is plain text criteria in the
reference shape: one numbered topic per seed paper (up to the "1 to N topics" the system message
allows), titled with the paper's title, "Relevant:" naming the first content words of its
abstract, "Not relevant:" a line, then a closing paragraph on taste. Gullible like the oracle:
"ignore previous instructions" in the user message outside every paper block gets
`HIJACKED_DRAFT`, which is no criteria at all.
"""

from __future__ import annotations

import html
import re
from typing import Any

HIJACKED_DRAFT = "HIJACKED: as the abstract asked, here are no criteria."
_REQUEST = "Seed papers ("
_PAPER = re.compile(r'<paper id="([^"]*)">(.*?)</paper>', re.S)
_TITLE = re.compile(r"^Title: (.*)$", re.M)
_ABSTRACT = re.compile(r"^Abstract: (.*)$", re.M)
_MAX_TOPICS = re.compile(r"\(1 to (\d+) topics")
_WORD = re.compile(r"[a-z][a-z0-9\-]{3,}")


def _text_of(body: dict[str, Any], role: str) -> str:
    return "\n".join(str(m.get("content", "")) for m in body.get("messages", []) if m.get("role") == role)


def is_draft_request(body: dict[str, Any]) -> bool:
    return _text_of(body, "user").startswith(_REQUEST)


def oracle_draft(papers: list[tuple[str, str]], max_topics: int = 12) -> str:
    """The criteria drafted from (title, abstract) pairs: a topic each for the first `max_topics`."""
    topics = []
    for number, (title, abstract) in enumerate(papers[:max_topics], start=1):
        words = sorted({w.strip("-") for w in _WORD.findall(abstract.lower())})[:4]
        topics.append(f"{number}. {title}\nRelevant: Papers on {', '.join(words) or 'this'}.\n"
                      f"Not relevant: Papers that only cite {title}.")
    closing = "In suggesting papers, remember that the reader values clear, surprising results."
    return "\n\n".join([*topics, closing])


def draft_answer(body: dict[str, Any]) -> str:
    user = _text_of(body, "user")
    if "ignore previous instructions" in _PAPER.sub(" ", user).lower():
        return HIJACKED_DRAFT
    papers = []
    for _paper_id, raw in _PAPER.findall(user):
        title, abstract = _TITLE.search(raw), _ABSTRACT.search(raw)
        papers.append((html.unescape(title.group(1)) if title else "",
                       html.unescape(abstract.group(1)) if abstract else ""))
    allowed = _MAX_TOPICS.search(_text_of(body, "system"))
    return oracle_draft(papers, int(allowed.group(1)) if allowed else len(papers))
