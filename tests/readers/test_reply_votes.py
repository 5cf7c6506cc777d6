"""What counts as a votes-only reply, and which digest a reply answers."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from newsletter.readers.reply_votes import answered_digest_ids, parse_votes


@pytest.mark.parametrize(("text", "votes"), [
    ("+3 +7 -12", [(3, "up"), (7, "up"), (12, "down")]),
    ("more 3 less 12", [(3, "up"), (12, "down")]),
    ("More 0 3, less 7.", [(0, "up"), (3, "up"), (7, "down")]),
    ("+0\n-1\n", [(0, "up"), (1, "down")]),
    ("+ 4, - 5; +#6", [(4, "up"), (5, "down"), (6, "up")]),
    ("up 2 down 9", [(2, "up"), (9, "down")]),
])
def test_votes_only(text: str, votes: list[tuple[int, str]]) -> None:
    assert parse_votes(text) == votes


@pytest.mark.parametrize("text", ["reset", "RESET", " Reset.\n"])
def test_reset(text: str) -> None:
    assert parse_votes(text) == "reset"


@pytest.mark.parametrize("text", [
    "", "Thanks!", "+3 great paper", "more like 3 please", "more", "3 7", "less 3 more",
    "+3 and -7", "reset +3", "please reset", "+1000", "paper 3 was great", "I liked 3",
    "-1 is wrong, paper 2 is about robotics",
])
def test_anything_else_stays_feedback(text: str) -> None:
    assert parse_votes(text) is None


def test_the_answered_digest_comes_from_in_reply_to_then_references() -> None:
    message = EmailMessage()
    message["In-Reply-To"] = "<20250828-0123456789abcdef.digest@example.org>"
    message["References"] = ("<20250827-aaaaaaaaaaaaaaaa.digest@example.org>"
                             " <20250828-0123456789ABCDEF.digest@example.org> <x@mail.example.org>")
    assert answered_digest_ids(message) == [
        "20250828-0123456789abcdef", "20250828-0123456789abcdef", "20250827-aaaaaaaaaaaaaaaa"]
    assert answered_digest_ids(EmailMessage()) == []
    other = EmailMessage()
    other["In-Reply-To"] = "<20250828-0123456789abcdef.confirmation@example.org>"  # not a digest
    assert answered_digest_ids(other) == []
