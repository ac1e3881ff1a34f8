"""A word's other written forms, so either finds the same papers (#14): British and American
spellings, Greek letters by name (`greek_named`), hyphenated words written whole (`joined_compounds`).

"LLM agents that simulate human behaviour" and "… behavior" shared 2 of their top 10 papers on the
80k store: BM25 sees two unrelated words and MiniLM two different token sequences. Keyword search
asks for every spelling of a word (`variants`), so both queries run the same search; the text that
is embedded is written in American spelling (`american`), so both queries get the same vector.

The pairs are data (data/spelling.txt), built from the corpus's own vocabulary by suffix rules
(-our/-or, -ise/-ize, -isation/-ization, -yse/-yze, -lled/-led, -tre/-ter, -ogue/-og, defence…)
and checked by hand, so a false pair such as four/for or tour/tor can never be made up at query time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from importlib import resources

_WORD = re.compile(r"[^\W\d_]+")


@cache
def _pairs() -> dict[str, str]:
    """British spelling → American, both casefolded."""
    text = (resources.files("papertrend.search") / "data" / "spelling.txt").read_text(encoding="utf-8")
    pairs: dict[str, str] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            british, american_ = line.split()
            pairs[british] = american_
    return pairs


@cache
def _groups() -> dict[str, tuple[str, ...]]:
    """Each spelling → all spellings of its word, American first."""
    groups: dict[str, list[str]] = {}
    for british, american_ in _pairs().items():
        groups.setdefault(american_, [american_]).append(british)
    out: dict[str, tuple[str, ...]] = {}
    for words in groups.values():
        for word in words:
            out[word] = tuple(words)
    return out


def variants(token: str) -> tuple[str, ...]:
    """The other spellings of a word (casefolded), or () when it has none."""
    key = token.casefold()
    return tuple(w for w in _groups().get(key, ()) if w != key)


def _american_word(match: re.Match[str]) -> str:
    word = match.group(0)
    american_ = _pairs().get(word.casefold())
    if american_ is None:
        return word
    if word.isupper() and len(word) > 1:
        return american_.upper()
    return american_.capitalize() if word[0].isupper() else american_


def american(text: str) -> str:
    """The text with each British spelling the list knows written the American way."""
    return _WORD.sub(_american_word, text)


# Greek letters by name, as papers and readers write them either way ("β-VAE" and "beta-VAE", "Aβ" and
# "Abeta", "NF-κB" and "NF-kappaB"): the index and queries both read a letter as its name, written in
# place ("IL-1β" → "IL-1beta"). Written with a space before it instead ("IL-1 beta", as PubMed's ASCII
# abstracts do) scored SciFact train nDCG@10 0.7445 against 0.7449 in place (bench/fusion.py).
_GREEK_NAMES = (
    *("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda"),
    *("mu", "nu", "xi", "omicron", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega"),
)
_GREEK = str.maketrans(
    {
        **dict(zip("αβγδεζηθικλμνξοπρστυφχψω", _GREEK_NAMES, strict=True)),
        **dict(zip("ΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩ", _GREEK_NAMES, strict=True)),
        "ς": "sigma",
    }
)


def greek_named(text: str) -> str:
    """The text with each Greek letter written as its name ("IL-1β" → "IL-1beta")."""
    return text if text.isascii() else text.translate(_GREEK)


# A word of letters joined by hyphens: "pre-training", "multi-modal", "state-of-the-art"; not "GPT-4o".
COMPOUND = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)+")


def _joins(ch: str) -> bool:
    return ch.isalnum() or ch in "-_"


def compound_spans(text: str) -> Iterator[tuple[int, int]]:
    """Where the text's hyphenated words of letters are, in order."""
    # Found from the hyphens, in the text between the spaces around each, not by reading every word:
    # joined_compounds takes 14 µs a listing paper this way, 19 µs splitting every word and 59 µs with
    # one regex over the text (the same words on all 74,728).
    at = text.find("-")
    while at != -1:
        start = text.rfind(" ", 0, at) + 1
        end = text.find(" ", at)
        end = len(text) if end == -1 else end
        for m in COMPOUND.finditer(text, start, end):
            a, b = m.span()
            if (a == start or not _joins(text[a - 1])) and (b == end or not _joins(text[b])):
                yield a, b
        at = text.find("-", end)


def joined_compounds(text: str) -> str:
    """Each hyphenated word of `text` written whole, in order, repeats kept ("pre-training" → "pretraining").

    ML writes both ways about equally (80k store: pretraining 1,923 papers, pre-training 1,764;
    multimodal 9,065, multi-modal 2,246), and the tokenizer splits at the hyphen, so "pretraining"
    did not find "pre-training" (#14). The keyword index holds the whole forms beside the text.
    """
    if "-" not in text:
        return ""
    return " ".join(text[a:b].replace("-", "") for a, b in compound_spans(text))
