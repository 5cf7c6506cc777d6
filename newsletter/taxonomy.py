"""arXiv's category taxonomy: which names the feed knows, so a typo is caught where it is written.

A misspelt category is worse than a crash: the feed for it is empty or missing, and its reader
quietly gets nothing (or, fetched with everyone's categories, fails the day for all). The archive
names alone (`cs`, `math`, …) are valid too: the feed then lists the whole archive.
"""

from __future__ import annotations

import difflib

_SUBJECTS = {
    "astro-ph": "CO EP GA HE IM SR",
    "cond-mat": "dis-nn mes-hall mtrl-sci other quant-gas soft stat-mech str-el supr-con",
    "cs": "AI AR CC CE CG CL CR CV CY DB DC DL DM DS ET FL GL GR GT HC IR IT LG LO MA MM MS NA NE NI"
    " OH OS PF PL RO SC SD SE SI SY",
    "econ": "EM GN TH",
    "eess": "AS IV SP SY",
    "math": "AC AG AP AT CA CO CT CV DG DS FA GM GN GR GT HO IT KT LO MG MP NA NT OA OC PR QA RA RT"
    " SG SP ST",
    "nlin": "AO CD CG PS SI",
    "physics": "acc-ph ao-ph app-ph atm-clus atom-ph bio-ph chem-ph class-ph comp-ph data-an ed-ph"
    " flu-dyn gen-ph geo-ph hist-ph ins-det med-ph optics plasm-ph pop-ph soc-ph space-ph",
    "q-bio": "BM CB GN MN NC OT PE QM SC TO",
    "q-fin": "CP EC GN MF PM PR RM ST TR",
    "stat": "AP CO ME ML OT TH",
}
_WITHOUT_SUBJECTS = ("gr-qc", "hep-ex", "hep-lat", "hep-ph", "hep-th", "math-ph", "nucl-ex", "nucl-th",
                     "quant-ph")

ARCHIVES = frozenset([*_SUBJECTS, *_WITHOUT_SUBJECTS])
CATEGORIES = frozenset(
    [*ARCHIVES, *(f"{archive}.{name}" for archive, names in _SUBJECTS.items() for name in names.split())]
)
_BY_LOWER = {name.lower(): name for name in CATEGORIES}


def category_problem(name: str) -> str | None:
    """None for a category arXiv has; otherwise what is wrong, with the likely intended name."""
    if name in CATEGORIES:
        return None
    if name.lower() in _BY_LOWER:
        return f"{name!r} is not an arXiv category: did you mean {_BY_LOWER[name.lower()]}?"
    close = difflib.get_close_matches(name, sorted(CATEGORIES), n=3, cutoff=0.8)
    hint = f": did you mean {' or '.join(close)}?" if close else " (e.g. cs.CV, math.AG, hep-th)"
    return f"{name!r} is not an arXiv category{hint}"
