"""arXiv category codes: which strings are categories (cs.CL, hep-th, cond-mat.mes-hall) and which
are not (#14).

Sources mix other classifications into their category lists: the arXiv API's <category> elements and
scraped listing pages carry ACM classes ("I.2.7; H.3.3") and MSC codes ("68T05, 62H30"). 1,329 of the
80k store's papers showed them as categories on their pages. Codes are read against arXiv's archives,
current and retired (arxiv.org/category_taxonomy), so a subject class arXiv adds later is still read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

ARCHIVES = frozenset(
    (
        # current
        "astro-ph", "cond-mat", "cs", "econ", "eess", "gr-qc", "hep-ex", "hep-lat", "hep-ph", "hep-th",
        "math", "math-ph", "nlin", "nucl-ex", "nucl-th", "physics", "q-bio", "q-fin", "quant-ph", "stat",
        # retired, still on old papers
        "acc-phys", "adap-org", "alg-geom", "ao-sci", "atom-ph", "bayes-an", "chao-dyn", "chem-ph",
        "cmp-lg", "comp-gas", "dg-ga", "funct-an", "mtrl-th", "patt-sol", "plasm-ph", "q-alg",
        "solv-int", "supr-con",
    )
)  # fmt: skip
_CODE = re.compile(r"(?P<archive>[A-Za-z]+(?:-[A-Za-z]+)?)(?:\.(?P<subject>[A-Za-z]+(?:-[A-Za-z]+)*))?")
_SEPARATORS = re.compile(r"[\s,;]+")
MAX_CODE_CHARS = 32


def category_code(text: str) -> str | None:
    """`text` as arXiv spells the category (cs.CL, physics.optics, hep-th), or None if it is not one.

    Case is arXiv's: two-letter subject classes are upper case (cs.cl → cs.CL), longer ones lower case.
    An archive alone is a category only when it has no subject classes, and those all have a hyphen
    (hep-th, gr-qc, quant-ph): "cs", "math" or "physics" alone is a word.
    """
    m = _CODE.fullmatch(text.strip())
    if m is None or len(text) > MAX_CODE_CHARS or m["archive"].lower() not in ARCHIVES:
        return None
    archive, subject = m["archive"].lower(), m["subject"]
    if subject is None:
        return archive if "-" in archive else None
    return f"{archive}.{subject.upper() if len(subject) == 2 else subject.lower()}"


def arxiv_categories(values: Iterable[Any]) -> list[str]:
    """The arXiv categories among a source's values, as the source spells them, in order, once each;
    other classes dropped.

    A value may hold several, separated by commas, semicolons or spaces ("cs.CV, cs.MM"). Case is
    kept: a source's category is stored as given, and category filters compare it exactly.
    """
    found: dict[str, None] = {}
    for value in values:
        if not isinstance(value, str):
            continue
        for part in _SEPARATORS.split(value):
            if part and category_code(part) is not None:
                found[part] = None
    return list(found)
