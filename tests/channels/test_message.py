"""The channel message: count, linked titles, first authors, relevance, comment; never too long."""

from __future__ import annotations

import datetime as dt

from newsletter.channels.message import ChannelItem, messages
from newsletter.models import Paper

DAY = dt.date(2025, 8, 28)


def paper(n: int, title: str = "", authors: tuple[str, ...] = ("Ada Lovelace", "Alan Turing")) -> Paper:
    return Paper(f"2508.{n:05d}", title or f"Paper number {n}", authors, "abstract", ("cs.CV",))


def test_one_message_holds_the_count_and_each_paper() -> None:
    items = [ChannelItem(paper(1, authors=("A", "B", "C", "D")), relevance=9,
                         comment="Fits the matting line."),
             ChannelItem(paper(2), relevance=7, comment="")]
    (body,) = messages("vision", DAY, items, lab=False, limit=2000)
    assert body.startswith("**arXiv digest 2025-08-28**: 2 papers")
    assert "1. **[Paper number 1](https://arxiv.org/abs/2508.00001)** — A, B, C et al." in body
    assert "relevance 9/10 · Fits the matting line." in body
    assert "2. **[Paper number 2](https://arxiv.org/abs/2508.00002)** — Ada Lovelace, Alan Turing" in body


def test_the_lab_view_says_how_many_readers_each_paper_reached() -> None:
    (body,) = messages("lab", DAY, [ChannelItem(paper(1), readers=3), ChannelItem(paper(2), readers=1)],
                       lab=True, limit=2000)
    assert "2 papers most read by the lab" in body
    assert "reached 3 readers" in body and "reached 1 reader" in body and "relevance" not in body


def test_paper_text_cannot_break_out_of_the_link_or_load_an_image() -> None:
    evil = paper(1, title="Nice](https://evil.example) ![x](https://evil.example/t.png) <script>")
    (body,) = messages("x", DAY, [ChannelItem(evil, relevance=5, comment="see ![i](http://t/p.png)")],
                       lab=False, limit=2000)
    assert "](https://evil.example)" not in body.replace("\\]", "")
    assert "![" not in body and "\\<script>" in body


def test_a_long_digest_is_split_at_papers_and_every_message_fits() -> None:
    items = [ChannelItem(paper(n), relevance=8, comment="word " * 40) for n in range(1, 31)]
    parts = messages("vision", DAY, items, lab=False, limit=2000)
    assert len(parts) > 1
    assert all(len(p) <= 2000 for p in parts)
    assert parts[0].startswith("**arXiv digest 2025-08-28**: 30 papers")
    assert parts[-1].endswith(f"({len(parts)}/{len(parts)})")
    joined = "\n".join(parts)
    assert all(f"https://arxiv.org/abs/2508.{n:05d}" in joined for n in range(1, 31))


def test_one_paper_longer_than_the_limit_is_trimmed_not_refused() -> None:
    huge = ChannelItem(paper(1, title="T" * 250, authors=tuple(f"Author {i}" for i in range(500))),
                       relevance=6, comment="c" * 5000)
    parts = messages("vision", DAY, [huge], lab=False, limit=300)
    assert parts and all(len(p) <= 300 for p in parts)
