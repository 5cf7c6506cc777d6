"""LaTeX in titles and abstracts as Unicode: real spans from the reference days, converted where
that loses nothing, left as written otherwise, and never damaged (both parts show the result)."""

from __future__ import annotations

import dataclasses
import gzip
import json
from pathlib import Path

import lxml.html
import pytest

from newsletter.render import render_digest
from newsletter.render.math import convert_span, damaged, find_spans, render_math
from tests.fakes.render_data import REPLY_TO, UNSUBSCRIBE_URL, seed_digest

DAYS = Path(__file__).resolve().parent.parent / "data" / "arxiv"

# (as written in a real abstract or title, as the digest shows it)
IMPROVED = [
    (r"$\text{AP}_{50}$", "AP₅₀"),
    (r"$\mathcal{O}(n\log n)$", "𝒪(nlog n)"),
    (r"$O(L^2)$", "O(L²)"),
    (r"$10\times$", "10×"),
    (r"$19\%$", "19%"),
    (r"$42%$", "42%"),  # an unescaped % is a percent sign here, not a TeX comment
    (r"$\mathrm{OSS}$", "OSS"),
    (r"$^{\text{Eco}}$", "ᴱᶜᵒ"),
    (r"$\mu$", "μ"),
    (r"$9.62\times10^{-11}$", "9.62×10⁻¹¹"),
    (r"$45^\circ$", "45°"),
    (r"$2\le p\le m$", "2 ≤ p ≤ m"),
    (r"$256\times256$", "256×256"),
    (r"$\mathbb{R}^3$", "ℝ³"),
    (r"$\ell_p$", "ℓₚ"),
    (r"$\nabla_{x}\log p(x_t)$", "∇ₓlog p(xₜ)"),
    (r"$\textit{vit\_base\_patch16\_224}$", "vit_base_patch16_224"),
    (r"${\rm P{\small HYSICS}E{\small VAL}}$", "PHYSICSEVAL"),
    (r"$\mathcal{A} \cup \mathcal{O}\not\vDash q$", "𝒜∪𝒪⊭q"),
    (r"$\$270$", "$270"),
    (r"\(7\times\)", "7×"),
    (r"$\texttt{GPT-4o}$", "GPT-4o"),  # pylatexenc alone drops \texttt's argument
]

LEFT_ALONE = [
    r"$Q_{\psi}^s(s,a_{1:i})$",  # no subscript colon or capital S in Unicode
    r"$_{SNR}$",
    r"$AP_{[50:95]}$",
    r"$\unicode{x2013}$",  # unknown to the converter: it would show "x2013"
    r"$\mathcal{E\mkern-2mu LI}$",
    r"$\href{https://github.com/Tencent-Hunyuan/MixGRPO}{MixGRPO}$",
    r"$\mathcal{C}_{15}^{\boxtimes 5}$",
    r"$0.07) and standard fine-tuning (F1 0.30$",  # prose between two stray dollars
    r"$70% while achieving high precision ($",
]


@pytest.mark.parametrize(("span", "shown"), IMPROVED)
def test_real_spans_become_readable_unicode(span: str, shown: str) -> None:
    assert render_math(f"up to {span} better") == f"up to {shown} better"
    assert not damaged(span, shown)


@pytest.mark.parametrize("span", LEFT_ALONE)
def test_spans_that_would_lose_something_are_left_as_written(span: str) -> None:
    assert render_math(f"see {span} here") == f"see {span} here"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (r"Image Demoir\'eing in T\"urkiye", "Image Demoiréing in Türkiye"),
        (r"la Soci{\'e}t{\'e} de G{\'e}nie, \v{C}ercho", "la Société de Génie, Čercho"),
        (r"5\% fewer R\&D \#1 papers, \$3", "5% fewer R&D #1 papers, $3"),
        (r"costs $5 and $10 a month", "costs $5 and $10 a month"),  # prices, not math
        (r"\textbf{Bold} and \mathbb{R}^n outside math", r"\textbf{Bold} and \mathbb{R}^n outside math"),
        ("no LaTeX at all", "no LaTeX at all"),
    ],
)
def test_bare_escapes_and_prose(text: str, shown: str) -> None:
    assert render_math(text) == shown


def test_damage_check_catches_lost_letters_arguments_and_symbols() -> None:
    assert damaged(r"$\texttt{abc}_1$", "₁")  # the argument vanished (pylatexenc's default)
    assert damaged(r"$\ln n$", "ł n")  # a prefix match ate the command
    assert damaged(r"$\nabla_x$", "ₓ")  # the symbol vanished
    assert damaged(r"$\unicode{x2013}$", "–")
    assert not damaged(r"$\mathcal{O}(n^2)$", "𝒪(n²)")
    assert not damaged(r"Poincar\'e", "Poincaré")


def test_guard_returns_the_span_when_conversion_would_damage_it() -> None:
    # `%` ends a TeX line: read as TeX, "$10 % of a$" would lose "% of a".
    assert convert_span(r"$10 % of a$", "math") == "10 % of a"
    assert convert_span(r"$a}{b$", "math") == r"$a}{b$"  # unbalanced braces
    assert convert_span(r"$\frac{a}$", "math") == r"$\frac{a}$"  # a missing argument


def _day_texts() -> list[str]:
    texts = []
    for path in sorted(DAYS.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for line in lines:
                record = json.loads(line)
                fields = (record.get(name) for name in ("title", "summary", "comment"))
                texts += [" ".join(field.split()) for field in fields if field]
    return texts


def test_no_span_of_the_reference_days_is_damaged() -> None:
    counts = {"improved": 0, "unchanged": 0}
    for text in _day_texts():
        for match, kind in find_spans(text):
            span = match.group(0)
            out = convert_span(span, kind)
            assert not damaged(span, out), (span, out)
            counts["improved" if out != span else "unchanged"] += 1
    assert counts["improved"] > 10 * counts["unchanged"] > 0  # bench/math_render.py prints them


def test_digest_shows_math_as_unicode_in_both_parts_and_keeps_what_it_cannot_convert() -> None:
    base = seed_digest("2025-08-28")
    paper = dataclasses.replace(
        base.entries[0].paper,
        title=r"Attention in $\mathcal{O}(n^2)$ for Everyone",
        abstract=r"We reach 52.1 $\text{AP}_{50}$ (+3.2\%) and keep $Q_{\psi}^s(s,a_{1:i})$ exact.",
    )
    first = dataclasses.replace(base.entries[0], paper=paper)
    digest = dataclasses.replace(base, entries=(first, *base.entries[1:]))
    rendered = render_digest(digest, unsubscribe_url=UNSUBSCRIBE_URL, reply_to=REPLY_TO)
    html_text = " ".join(lxml.html.fromstring(rendered.html).text_content().split())
    for part in (rendered.markdown, html_text):
        assert "Attention in 𝒪(n²) for Everyone" in part
        assert r"We reach 52.1 AP₅₀ (+3.2%) and keep $Q_{\psi}^s(s,a_{1:i})$ exact." in part
        assert r"\mathcal" not in part
    assert "𝒪(n²)" in rendered.subject


def test_text_without_latex_is_returned_as_is() -> None:
    for text in ("Plain abstract, 5 % and $5.", "A $ sign alone", "Back\\slash \\ alone"):
        assert render_math(text) == text
