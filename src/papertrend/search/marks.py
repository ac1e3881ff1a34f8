"""A result's title and abstract with the query's words marked, HTML-safe, for pages (#14).

Words are matched as keyword search matches them: by the keyword index's own analyzer (folded,
Snowball-stemmed: search/tantivy_index.py), a loose word by its plural's or singular's stem too, every
spelling of a word (search/spelling.py), phrase words too; stopwords are not marked. It runs on the
text in Python, so it needs no database round trip and marks the same on SQLite and PostgreSQL.
The text is HTML-escaped piece by piece and only our own <mark> tags are added, so nothing from a
source can become markup.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from markupsafe import Markup, escape

from papertrend.search.query import STOPWORDS, parse_query, ranking_terms
from papertrend.search.spelling import compound_spans
from papertrend.search.tantivy_index import analyzer, forms

# The first lines of an abstract, shown before "more": about three lines of a phone screen.
LEAD_CHARS = 280

# The index's analyzer, not the digest's Porter (search/bm25.py): with Porter, "recently", "highly" or
# "quickly" (Porter: "recentli", "highli", "quickli") went unmarked in papers that keyword search
# found for "recent", "high" or "quick" (Snowball: "recent", "high", "quick").
_analyzer = analyzer()
_lock = threading.Lock()  # one analyzer, shared by the threads of a process
# Each surface word's stem, once: a page marks ~4,000 words, mostly seen before (a corpus has ~110k
# distinct words; the cache is dropped whole past _MAX_CACHED rather than tracked).
_stem_of: dict[str, str] = {}
_MAX_CACHED = 300_000


def _stem(word: str) -> str:
    stem = _stem_of.get(word)
    if stem is None:
        with _lock:
            # Composed first: the analyzer splits a word at a combining mark (text stored in NFD).
            stems = _analyzer.analyze(word if word.isascii() else unicodedata.normalize("NFC", word))
        stem = stems[0] if len(stems) == 1 else ""
        if len(_stem_of) >= _MAX_CACHED:
            _stem_of.clear()
        _stem_of[word] = stem
    return stem


@lru_cache(maxsize=256)
def query_stems(query: str) -> frozenset[str]:
    """The stems a result's words are marked by."""
    parsed = parse_query(query)
    loose = [t for unit in ranking_terms(parsed, "any") for t in unit if t.casefold() not in STOPWORDS]
    quoted = [t for unit in parsed.phrases for t in unit if t.casefold() not in STOPWORDS]
    with _lock:
        # Loose words as keyword search looks them up (with their plural's or singular's stem).
        found = {s for w in loose for s in forms(_analyzer, w)}
        return frozenset(found | {s for w in quoted for s in _analyzer.analyze(w)})


def _fold_table() -> dict[int, str]:
    # Accented letters to their base letter, one character for one, so offsets in the folded text
    # are offsets in the text: "Schrödinger", "naïve", "café", "İ" fold to "schrodinger", "naive",
    # "cafe", "i". Combining marks (text in NFD: "nai" + U+0308 + "ve") become a letter, so the word
    # stays whole; its stem is taken from the text itself, which the tokenizer folds properly.
    table: dict[int, str] = {cp: "\u01c2" for cp in range(0x300, 0x370)}
    for lo, hi in ((0xC0, 0x250), (0x370, 0x530), (0x1E00, 0x2000)):
        for cp in range(lo, hi):
            ch = chr(cp)
            base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
            base = base.lower()
            if len(base) == 1 and base != ch:
                table[cp] = base
    return table


_FOLD = _fold_table()
_WORD = re.compile(r"[^\W_]+")


def _folded(text: str) -> str:
    """The text lower-cased and unaccented, of the same length (offsets carry over)."""
    if text.isascii():
        return text.lower()
    low = text.translate(_FOLD).lower()
    if len(low) != len(text):  # a letter whose lower case is longer; keep such letters as they are
        low = "".join(c if len(c.lower()) != 1 else c.lower() for c in text.translate(_FOLD))
    return low


@lru_cache(maxsize=256)
def _starts(stems: frozenset[str]) -> tuple[str, ...]:
    # Words that may stem to one of `stems` start with its first letters. A Snowball stem is the word's
    # start but for its last letter (y → i: "studies" → "studi"; e added back: "coding" → "code"), so
    # that letter is left out, but never below two letters: a one-letter start ("lm" → "l") finds
    # every l of a page.
    starts = {(st[:-1] if len(st) > 2 else st)[:4] for st in stems if st}
    # A start inside another ("mode" in "model") finds nothing the shorter one would not.
    return tuple(sorted(s for s in starts if not any(o != s and s.startswith(o) for o in starts)))


def _spans(text: str, stems: frozenset[str]) -> list[tuple[int, int]]:
    """Where the words whose stem is in `stems` are, in order."""
    # str.find over the folded text for each start, then the word around each find: one
    # case-insensitive regex tried every position of every text, most of marking's time (#14).
    low = _folded(text)
    spans: dict[int, int] = {}
    for start in _starts(stems):
        at = low.find(start)
        while at >= 0:
            if at == 0 or not low[at - 1].isalnum():
                end = _WORD.match(low, at)
                stop = end.end() if end else at + len(start)
                if _stem(text[at:stop]) in stems:
                    spans[at] = stop
                at = low.find(start, stop)
            else:
                at = low.find(start, at + 1)
    # A hyphenated word is also matched whole, as the index holds it ("pretraining" finds and marks
    # "pre-training"); its mark replaces any of its parts'.
    for at, stop in _compound_spans(text, low, stems):
        for inner in [a for a in spans if at <= a < stop]:
            del spans[inner]
        spans[at] = stop
    return sorted(spans.items())


def _compound_spans(text: str, low: str, stems: frozenset[str]) -> list[tuple[int, int]]:
    # A text's hyphenated words are read only if a stem (but its last letter) occurs more often with
    # its hyphens taken out: 20 results cost +0.27 ms so, +0.37 ms reading every text's (200 title
    # openings over 20 listing papers each, one process).
    probes = [st[:-1] for st in stems if len(st) > 3]
    joined = low.replace("-", "")
    if not any(joined.count(p) > low.count(p) for p in probes):
        return []
    return [(a, b) for a, b in compound_spans(text) if _stem(text[a:b].replace("-", "")) in stems]


def _render(text: str, spans: list[tuple[int, int]], lo: int, hi: int) -> Markup:
    """text[lo:hi] escaped, with the spans inside it wrapped in <mark>."""
    out: list[str] = []
    last = lo
    for at, stop in spans:
        if lo <= at and stop <= hi:
            out.append(escape(text[last:at]))
            out.append(f"<mark>{escape(text[at:stop])}</mark>")
            last = stop
    out.append(escape(text[last:hi]))
    return Markup("".join(out))


def mark(text: str, stems: frozenset[str]) -> Markup:
    """The text, escaped, with each word whose stem is in `stems` wrapped in <mark>."""
    if not stems or not text:
        return escape(text)
    return _render(text, _spans(text, stems), 0, len(text))


@dataclass(frozen=True, slots=True)
class Marked:
    """A result's texts for a page: the title, the abstract's first lines and the rest (may be empty)."""

    title: Markup
    lead: Markup
    rest: Markup


def _lead_cut(text: str, chars: int) -> tuple[int, int]:
    # Where the lead ends and the rest starts in whitespace-normalised text (both len(text): no rest).
    if len(text) <= chars + 40:  # not worth a "more" for a few words
        return len(text), len(text)
    cut = text.rfind(" ", 0, chars)
    cut = cut if cut > 0 else chars
    rest = cut + 1 if text.startswith(" ", cut) else cut
    return cut, rest


def split_lead(text: str, chars: int = LEAD_CHARS) -> tuple[str, str]:
    """The text's first `chars` characters or so, cut after a word, and the rest."""
    text = " ".join(text.split())
    cut, rest = _lead_cut(text, chars)
    return text[:cut], text[rest:]


def marked(*, title: str, abstract: str, query: str) -> Marked:
    """The texts of one result with the query's words marked."""
    stems = query_stems(query)
    text = " ".join(abstract.split())
    cut, rest = _lead_cut(text, LEAD_CHARS)
    if not stems:
        return Marked(escape(title), escape(text[:cut]), escape(text[rest:]))
    # The abstract is searched once and its marks shared by the lead and the rest: a cut falls
    # between words, never inside a mark.
    spans = _spans(text, stems)
    return Marked(mark(title, stems), _render(text, spans, 0, cut), _render(text, spans, rest, len(text)))
