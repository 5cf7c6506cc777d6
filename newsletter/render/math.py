"""LaTeX in paper text, made readable in mail: `$\\text{AP}_{50}$` → AP₅₀, `$\\mathcal{O}(n^2)$` → 𝒪(n²).

Mail runs no JavaScript, so no MathJax: each `$…$`, `$$…$$` or `\\(…\\)` span and each bare text
escape (`\\%`, `\\&`, `\\'e`) becomes Unicode text. pylatexenc parses the LaTeX and knows the symbols
(Greek, operators, arrows, \\mathcal/\\mathbb letters, \\text-style arguments); sub- and superscripts
come from the Unicode database's <sub>/<super> characters. A span is converted only when every
command in it is known and every script has a Unicode form; otherwise, and whenever the result
would lose a letter or digit of the source (`damaged`), the span stays exactly as written. So the
Markdown part, which gets the same text, never loses information either.

    from newsletter.render.math import render_math, damaged
    render_math(r"a $\\mathcal{O}(n^2)$ cost, 5\\% less")  # 'a 𝒪(n²) cost, 5% less'
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from collections.abc import Iterator
from typing import Literal

from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec, get_default_latex_context_db

# pylatexenc warns about every malformed span; such a span is left as written here, which is
# all the service needs to know, so its warnings would only be noise in the service's log.
logging.getLogger("pylatexenc").setLevel(logging.ERROR)

SpanKind = Literal["math", "escape"]

# Pandoc's rule for `$`: the opening one is followed by a non-space, the closing one preceded by a
# non-space and not followed by a digit. So "costs $5 and $10" is prose, not math.
# A backslash escape is matched first, so `\$` never opens a span.
_SPANS = re.compile(
    r"(?P<escape>\{\\[`'^\"~=.][A-Za-z]\}|\\[`'^\"~=.](?:[A-Za-z]|\{[A-Za-z]\})|\\[cvuHk]\{[A-Za-z]\}"
    r"|\\[%&_#$])"
    r"|\$\$(?P<display>(?:[^$\\]|\\.)+?)\$\$"
    r"|\\\((?P<paren>(?:[^\\]|\\[^)])+?)\\\)"
    r"|\$(?P<inline>(?!\s)(?:[^$\\]|\\.)+?)(?<!\s)\$(?!\d)",
    re.DOTALL,
)
_COMMAND = re.compile(r"\\([A-Za-z]+)")
# Size and old-style font switches (`{\small XP}`, `{\rm P}`): nothing to show in plain text.
_DECLARATIONS = ("small", "footnotesize", "scriptsize", "tiny", "normalsize", "rm", "bf", "it", "sf", "tt")
# Two plain words in a row: prose between two stray dollars ("$0.07) and standard tuning (F1 0.30$"),
# not math, where TeX would drop the spaces.
_PROSE = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{2,}\s+[A-Za-z]{2,}")
_BRACED = re.compile(r"\{[^{}]*\}")
# Relations and operators: spaced on both sides when the author spaced either ("2\le p\le m" →
# "2 ≤ p ≤ m"), tight when tight ("256\times256" → "256×256"). pylatexenc eats a macro's spaces.
_OPERATOR = re.compile(r" ?([≤≥≠≈∼→←↔⇒⇔∈∉⊂⊆⊃⊇⊑∪∩×±∓·⊨⊭≡≢]) ?")
_UNESCAPED_PERCENT = re.compile(r"(?<!\\)%")
_DECLARATION = re.compile(r"\\(?:" + "|".join(_DECLARATIONS) + r")(?![A-Za-z])\s*")

# Commands whose argument is text: shown as plain text (bold, italics and fonts cannot be kept in
# a text part; the letters can). pylatexenc knows most; these it drops or does not know.
_TEXT_MACROS = ("texttt", "textsf", "textnormal", "textup", "textmd", "mathnormal", "operatorname")
_EXTRA_SYMBOLS = (("checkmark", "✓"), ("vDash", "⊨"), ("lVert", "‖"), ("rVert", "‖"), ("ne", "≠"))
# Superscripts whose usual reading has a character of its own rather than a raised copy.
_SUPER_SPECIAL = {"∘": "°", "′": "′", "*": "*"}
# Blocks with the <sub>/<super> forms that common mail fonts carry (Latin-1's ¹²³ but not its
# ordinals ª º, modifier letters, phonetic extensions, super/subscripts, Latin Extended-C's ⱼ).
_SCRIPT_BLOCKS = ((0xB2, 0xB9), (0x2B0, 0x2FF), (0x1D00, 0x1DBF), (0x2070, 0x209F), (0x2C7C, 0x2C7D))


class _Refused(Exception):
    """The span cannot be converted without losing something: keep it as written."""


@functools.cache
def _script_forms() -> dict[str, dict[str, str]]:
    forms: dict[str, dict[str, str]] = {"^": {}, "_": {}}
    for low, high in _SCRIPT_BLOCKS:
        for code in range(low, high + 1):
            kind, _, target = unicodedata.decomposition(chr(code)).partition(" ")
            if kind in ("<super>", "<sub>") and " " not in target:
                table = forms["^" if kind == "<super>" else "_"]
                table.setdefault(chr(int(target, 16)), chr(code))
    for table in forms.values():
        table["-"] = table["−"]  # a hyphen in a script is a minus: 10^{-11}
    forms["^"].update(_SUPER_SPECIAL)
    forms["^"][" "] = forms["_"][" "] = ""  # spacing inside a script means nothing in TeX
    return forms


@functools.cache
def _latex2text() -> LatexNodes2Text:
    context = get_default_latex_context_db()
    context.add_context_category(
        "newsletter",
        macros=[MacroTextSpec(name, discard=False) for name in _TEXT_MACROS]
        + [MacroTextSpec(name, simplify_repl=symbol) for name, symbol in _EXTRA_SYMBOLS]
        + [MacroTextSpec(name, simplify_repl="") for name in _DECLARATIONS],  # known; dropped below
        prepend=True,
    )
    # based-on-source: the author's spaces stay (`\log p` → "log p", not "logp")
    return LatexNodes2Text(latex_context=context, math_mode="text", strict_latex_spaces="based-on-source")


def _known(command: str) -> bool:
    return _latex2text().latex_context.get_macro_spec(command) is not None


def _braced(latex: str, start: int) -> int:
    """Index just past the `{…}` group opening at `start`; refuses unbalanced braces."""
    depth = 0
    i = start
    while i < len(latex):
        char = latex[i]
        if char == "\\":
            i += 2
            continue
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth == 0:
            return i + 1
        i += 1
    raise _Refused("unbalanced braces")


def _script_argument(latex: str, start: int) -> int:
    """Index just past the argument of a `^`/`_` at start-1: a group, a command (+ group) or a char."""
    if start >= len(latex):
        raise _Refused("script without an argument")
    if latex[start] == "{":
        return _braced(latex, start)
    command = _COMMAND.match(latex, start)
    if command is None:
        return start + 1
    end = command.end()
    if end < len(latex) and latex[end] == "{" and command.group(1) not in ("circ", "prime"):
        end = _braced(latex, end)  # ^\text{Eco}: the command and its argument
    return end


def _raise(marker: str, latex: str) -> str:
    """The script `latex` as sub/superscript characters; refuses when one has no such form."""
    table = _script_forms()[marker]
    text = _to_text(latex)
    if not text.strip() or any(char not in table for char in text):
        raise _Refused(f"no Unicode {marker} form for {text!r}")
    return "".join(table[char] for char in text)


def _scripts(latex: str) -> str:
    """`latex` with every `^x`/`_{…}` replaced by its Unicode form (the rest still LaTeX)."""
    out: list[str] = []
    i = 0
    while i < len(latex):
        char = latex[i]
        if char == "\\":
            command = _COMMAND.match(latex, i)
            end = command.end() if command else i + 2  # an escaped \_ or \^ is no script
            out.append(latex[i:end])
            if command and latex[end : end + 1] in ("^", "_"):
                out.append("{}")  # ends the name: `\ellₚ` would read as one unknown command
            i = end
        elif char in "^_":
            end = _script_argument(latex, i + 1)
            argument = latex[i + 1 : end]
            out.append(_raise(char, argument[1:-1] if argument.startswith("{") else argument))
            i = end
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _to_text(latex: str) -> str:
    for command in _COMMAND.findall(latex):
        if not _known(command):
            raise _Refused(f"unknown command \\{command}")
    if _braced("{" + latex + "}", 0) != len(latex) + 2:
        raise _Refused("unbalanced braces")
    latex = _DECLARATION.sub("", latex)
    latex = _UNESCAPED_PERCENT.sub(r"\\%", latex)  # "$42%$" means 42 percent, not a TeX comment
    try:
        text = _latex2text().latex_to_text(_scripts(latex))
    except _Refused:
        raise
    except Exception as error:  # pylatexenc trips on some malformed input (a missing argument)
        raise _Refused(f"pylatexenc: {error}") from error
    if "\\" in text or "{" in text or "}" in text or "\n" in text:
        raise _Refused("LaTeX left over")
    if text.count("%") != latex.count("\\%"):  # a "%s/%s" of pylatexenc's that lacked its arguments
        raise _Refused("a command without its arguments")
    return _OPERATOR.sub(lambda m: m[1] if m[0] == m[1] else f" {m[1]} ", text)


def _content(text: str) -> str:
    """The letters and digits of `text`, compatibility-folded: 𝒪 → O, ² → 2, é → e."""
    folded = unicodedata.normalize("NFKD", text)
    return "".join(c for c in folded if unicodedata.category(c)[0] in "LN")


def damaged(source: str, rendered: str) -> bool:
    """True when `rendered` lost a letter or digit of `source`, a command's argument or its symbol.

    Command names (`\\alpha`, `\\mathcal`) are not content: they become symbols, and a command that
    stands for a symbol (`\\nabla` → ∇) must leave it. Everything else (plain letters and digits,
    and the arguments of commands) must still be there, in order.
    """
    if rendered == source:
        return False
    wanted = _content(_COMMAND.sub(" ", source))
    have = iter(_content(rendered))
    if not all(char in have for char in wanted):  # subsequence test: `in` consumes `have`
        return True
    # Compared folded, as a symbol may come out raised (\max in a subscript: ₘₐₓ; ^\circ: °).
    folded = unicodedata.normalize("NFKD", rendered.replace("°", "∘"))
    return any(unicodedata.normalize("NFKD", symbol) not in folded for symbol in _symbols(source))


def _symbols(source: str) -> list[str]:
    symbols = []
    for command in _COMMAND.findall(source):
        spec = _latex2text().latex_context.get_macro_spec(command)
        replacement = getattr(spec, "simplify_repl", None)
        if isinstance(replacement, str) and replacement.strip() and "%" not in replacement:
            symbols.append(replacement.strip())
    return symbols


@functools.lru_cache(maxsize=4096)  # a day's spans recur in every reader's digest and each part
def convert_span(span: str, kind: SpanKind) -> str:
    """One span (delimiters included) as Unicode text, or `span` itself when that would lose anything."""
    inner = span if kind == "escape" else _inner(span)
    if kind == "math" and _PROSE.search(_BRACED.sub("", inner)):
        return span
    try:
        text = _to_text(inner).strip()
    except _Refused:
        return span
    if not text or damaged(span, text):
        return span
    return text


def _inner(span: str) -> str:
    for opening, closing in (("$$", "$$"), ("\\(", "\\)"), ("$", "$")):
        if span.startswith(opening) and span.endswith(closing) and len(span) > len(opening + closing) - 1:
            return span[len(opening) : len(span) - len(closing)]
    raise ValueError(f"not a math span: {span!r}")


def find_spans(text: str) -> Iterator[tuple[re.Match[str], SpanKind]]:
    """Each math span and bare escape of `text`, left to right."""
    for match in _SPANS.finditer(text):
        yield match, "escape" if match.group("escape") else "math"


def render_math(text: str) -> str:
    """`text` with its LaTeX spans converted where that loses nothing; all else untouched."""
    if "$" not in text and "\\" not in text:
        return text  # most titles and abstracts: nothing to do
    out: list[str] = []
    last = 0
    for match, kind in find_spans(text):
        out.append(text[last : match.start()])
        out.append(convert_span(match.group(0), kind))
        last = match.end()
    out.append(text[last:])
    return "".join(out)
