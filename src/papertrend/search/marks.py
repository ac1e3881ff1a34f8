"""A result's title and abstract with the query's words marked, HTML-safe, for pages (#14).

Words are matched as keyword search matches them: folded, Porter-stemmed, every spelling of a word
(search/spelling.py), phrase words too; stopwords are not marked. It runs on the text in Python, so it
needs no database round trip and marks the same on SQLite and PostgreSQL.
The text is HTML-escaped piece by piece and only our own <mark> tags are added, so nothing from a
source can become markup.
"""

from __future__ import annotations

import html
import re
import threading
from dataclasses import dataclass
from functools import lru_cache

from markupsafe import Markup

from papertrend.search.bm25 import Tokenizer
from papertrend.search.query import STOPWORDS, parse_query, ranking_terms

# The first lines of an abstract, shown before "more": about three lines of a phone screen.
LEAD_CHARS = 280

_tokenizer = Tokenizer()
_lock = threading.Lock()  # a Stemmer is not safe for two threads at once
# Each surface word's stem, once: a page marks ~4,000 words, mostly seen before (a corpus has ~110k
# distinct words; the cache is dropped whole past _MAX_CACHED rather than tracked).
_stem_of: dict[str, str] = {}
_MAX_CACHED = 300_000


def _stem(word: str) -> str:
    stem = _stem_of.get(word)
    if stem is None:
        with _lock:
            stems = _tokenizer(word)
        stem = stems[0] if len(stems) == 1 else ""
        if len(_stem_of) >= _MAX_CACHED:
            _stem_of.clear()
        _stem_of[word] = stem
    return stem


@lru_cache(maxsize=256)
def query_stems(query: str) -> frozenset[str]:
    """The stems a result's words are marked by."""
    parsed = parse_query(query)
    units = [*ranking_terms(parsed, "any"), *parsed.phrases]
    words = [t for unit in units for t in unit if t.casefold() not in STOPWORDS]
    with _lock:
        return frozenset(s for w in words for s in _tokenizer(w))


@lru_cache(maxsize=256)
def _candidates(stems: frozenset[str]) -> re.Pattern[str]:
    # Words that may stem to one of `stems`: those starting with its first letters. A Porter stem is
    # the word's start but for its last letter (y → i, "coding" → "code"), so that letter is left out.
    # The regex scans in C; only its finds are stemmed: marking 20 abstracts went from ~7 ms to ~2 (#14).
    starts = sorted({(st[:-1] if len(st) > 1 else st)[:4] for st in stems}, key=len, reverse=True)
    return re.compile(r"(?<![^\W_])(?:" + "|".join(map(re.escape, starts)) + r")[^\W_]*", re.IGNORECASE)


def mark(text: str, stems: frozenset[str]) -> Markup:
    """The text, escaped, with each word whose stem is in `stems` wrapped in <mark>."""
    if not stems:
        return Markup(html.escape(text))
    out: list[str] = []
    last = 0
    for match in _candidates(stems).finditer(text):
        if _stem(match.group(0)) in stems:
            out.append(html.escape(text[last : match.start()]))
            out.append(f"<mark>{html.escape(match.group(0))}</mark>")
            last = match.end()
    out.append(html.escape(text[last:]))
    return Markup("".join(out))


@dataclass(frozen=True, slots=True)
class Marked:
    """A result's texts for a page: the title, the abstract's first lines and the rest (may be empty)."""

    title: Markup
    lead: Markup
    rest: Markup


def split_lead(text: str, chars: int = LEAD_CHARS) -> tuple[str, str]:
    """The text's first `chars` characters or so, cut after a word, and the rest."""
    text = " ".join(text.split())
    if len(text) <= chars + 40:  # not worth a "more" for a few words
        return text, ""
    cut = text.rfind(" ", 0, chars)
    cut = cut if cut > 0 else chars
    return text[:cut], text[cut:].lstrip()


def marked(*, title: str, abstract: str, query: str) -> Marked:
    """The texts of one result with the query's words marked."""
    stems = query_stems(query)
    lead, rest = split_lead(abstract)
    return Marked(mark(title, stems), mark(lead, stems), mark(rest, stems))
