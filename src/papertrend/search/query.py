"""Users' keyword queries as words, phrases and exclusions, for every keyword backend (issue #3).

`parse_query` turns user text into words and phrases the way FTS5's unicode61 tokenizer would split
them; each backend then writes them as plain strings (search/fts5.py, search/tsvector.py), so `AND`,
`OR`, `NOT`, `NEAR`, `*`, `:`, `^` and parentheses are plain text. What users get:

- words are matched with stemming (porter), case and diacritics ignored; `AND`, `OR` and `NOT` are
  words like "and", not operators;
- `"exact phrase"` (straight or curly quotes) must occur as written, in any match mode; an unbalanced
  quote is ignored, so a half-typed `"deep learning` searches the two words;
- `-word` or `-"a phrase"` at the start of a word excludes papers containing it in any word form
  (`-benchmark` also leaves out "Benchmarking", "benchmarks", #13: every backend matches stems, as
  the digest's excluded words do); a dash anywhere else (`state-of-the-art`, `-1`, ` - `) is
  ordinary text;
- an English possessive `'s` is dropped, so `LLM's` finds "LLMs"; common English stopwords ("the",
  "of", …) are left out of the loose words unless nothing else is left (phrases keep them);
- mode "any" (the default: best on SciFact, see bench/keyword_weights.py) ranks papers having any of
  the words, and counts a joined word (`state-of-the-art`, `GPT-4o`, `3.5`) as its parts; mode "all"
  requires every word, and a joined word as the phrase it forms in the text;
- a loose or excluded word is also searched in its other spelling (behaviour/behavior,
  search/spelling.py), so British and American queries run the same search (#14); a quoted phrase
  is matched as written.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from papertrend.papers.categories import category_code
from papertrend.papers.ids import arxiv_id_or_none
from papertrend.search.language import ENGLISH_STOPWORDS, foreign_stopwords, guess
from papertrend.search.spelling import greek_named, variants

Match = Literal["any", "all"]
# One searchable unit: a word as unicode61 splits it, e.g. ("graph",) or ("state", "of", "the", "art").
Unit = tuple[str, ...]

# Bounds on what one query may cost: longer input is cut, further words are ignored.
MAX_QUERY_CHARS = 4096
MAX_UNITS = 64
MAX_PHRASE_TOKENS = 32

_QUOTES = frozenset('"\u201c\u201d\u201e\u201f\u2033\uff02')
# Between two tokens these keep a word whole ("state-of-the-art", "GPT-4o", "3.5", "LLM's").
_JOINERS = frozenset("-'.\u2010\u2011\u2019\u02bc")
_APOSTROPHES = frozenset("'\u2019\u02bc")
_EXCLUDE = "-"
STOPWORDS = ENGLISH_STOPWORDS
_OPERATOR_WORDS = frozenset(("AND", "OR", "NOT"))


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    """A user's query as words: optional `terms`, required `phrases`, `excluded` words or phrases."""

    terms: tuple[Unit, ...] = ()
    phrases: tuple[Unit, ...] = ()
    excluded: tuple[Unit, ...] = ()
    # The language the query seems to be in when not English (search/language.py), else None.
    language: str | None = None

    @property
    def empty(self) -> bool:
        """True when nothing is left to search for (exclusions alone select nothing)."""
        return not self.terms and not self.phrases


def _is_token_char(ch: str) -> bool:
    # unicode61's token characters: letters, numbers and private-use ("L* N* Co").
    cat = unicodedata.category(ch)
    return cat[0] in "LN" or cat == "Co"


def _is_mark(ch: str) -> bool:
    # Combining marks stay inside a word: unicode61 folds diacritics away and splits Indic vowel
    # signs itself when the quoted word reaches it, so keeping them never loses a match.
    return unicodedata.category(ch)[0] == "M"


def _tokens(text: str) -> list[str]:
    """Runs of token characters (with their marks) as unicode61 would find them."""
    out: list[str] = []
    current: list[str] = []
    has_token_char = False
    for ch in text:
        if _is_token_char(ch):
            current.append(ch)
            has_token_char = True
        elif current and _is_mark(ch):
            current.append(ch)
        else:
            if has_token_char:
                out.append("".join(current))
            current, has_token_char = [], False
    if has_token_char:
        out.append("".join(current))
    return out


def _chunks(word: str) -> list[str]:
    """Split a word where unicode61 would split it and the user would too (`/`, `:`, `(`, …)."""
    out: list[str] = []
    current: list[str] = []
    for ch in word:
        if _is_token_char(ch) or _is_mark(ch) or ch in _JOINERS:
            current.append(ch)
        elif current:
            out.append("".join(current))
            current = []
    if current:
        out.append("".join(current))
    return out


def _word_units(word: str) -> list[Unit]:
    """One whitespace-separated word → its units; tokens joined by `-`, `'` or `.` form one phrase."""
    units: list[Unit] = []
    for chunk in _chunks(word):
        tokens = _tokens(chunk)
        # "LLM's" → "LLM": to unicode61 a possessive s is a token of its own that nearly every
        # paper holds, while the word before it is what the user is after.
        end = chunk.rstrip("".join(_JOINERS))
        if len(tokens) > 1 and tokens[-1] in ("s", "S") and len(end) > 1 and end[-2] in _APOSTROPHES:
            tokens.pop()
        if tokens:
            units.append(tuple(tokens[:MAX_PHRASE_TOKENS]))
    return units


def _quote_spans(text: str) -> list[tuple[int, int]]:
    """Pairs of quote positions, in order; a last unpaired quote is left out (and so ignored)."""
    positions = [i for i, ch in enumerate(text) if ch in _QUOTES]
    return [(positions[k], positions[k + 1]) for k in range(0, len(positions) - 1, 2)]


def parse_query(text: str) -> ParsedQuery:
    """Split a user's query into terms, quoted phrases and exclusions; never raises."""
    text = unicodedata.normalize("NFC", text[: MAX_QUERY_CHARS * 2])[:MAX_QUERY_CHARS]
    language = guess(text)
    text = greek_named(text)  # as the index reads them: "β-VAE" finds "beta-VAE" (#14)
    terms: dict[Unit, None] = {}
    phrases: dict[Unit, None] = {}
    excluded: dict[Unit, None] = {}
    seen: set[Unit] = set()

    def add(target: dict[Unit, None], unit: Unit) -> None:
        key = tuple(t.casefold() for t in unit)
        if key in seen or len(seen) >= MAX_UNITS:
            return
        seen.add(key)
        target[unit] = None

    def loose(segment: str) -> None:
        for word in segment.split():
            negative = word.startswith(_EXCLUDE) and len(word) > 1 and word[1].isalpha()
            for unit in _word_units(word[1:] if negative else word):
                add(excluded if negative else terms, unit)
                whole = joined(unit) if negative else None
                if whole is not None:  # "-multi-modal" excludes "multimodal" too (#14)
                    add(excluded, whole)

    start = 0
    for open_at, close_at in _quote_spans(text):
        before = text[start:open_at]
        # `-"a phrase"` excludes the phrase when the dash starts a word.
        negative = before.endswith(_EXCLUDE) and (open_at < 2 or text[open_at - 2].isspace())
        loose(before[:-1] if negative else before)
        tokens = _tokens(text[open_at + 1 : close_at])
        if tokens:
            add(excluded if negative else phrases, tuple(tokens[:MAX_PHRASE_TOKENS]))
        start = close_at + 1
    # An unpaired quote left in the rest is no token character, so it simply separates words.
    loose(text[start:])
    # Excluding "colour" excludes "color" too (#14).
    for unit in list(excluded):
        if len(unit) == 1:
            excluded.update(((v,), None) for v in variants(unit[0]))
    return ParsedQuery(
        terms=tuple(terms), phrases=tuple(phrases), excluded=tuple(excluded), language=language
    )


def _is_stopword(token: str) -> bool:
    # An all-capitals word is an acronym ("NO" is nitric oxide, "IT" a field), not a stopword; but
    # "AND", "OR" and "NOT" are someone writing operators, which are read as the words they are.
    if token in _OPERATOR_WORDS:
        return True
    return token.casefold() in STOPWORDS and not (token.isupper() and len(token) > 1)


def _dedup(units: Sequence[Unit]) -> list[Unit]:
    seen: dict[Unit, Unit] = {}
    for unit in units:
        seen.setdefault(tuple(t.casefold() for t in unit), unit)
    return list(seen.values())


def joined(unit: Unit) -> Unit | None:
    """A hyphenated word of letters written whole ("pre-training" → "pretraining"), as the index also
    holds it (spelling.joined_compounds); None for anything else."""
    return ("".join(unit),) if len(unit) > 1 and all(t.isalpha() for t in unit) else None


def alternatives(unit: Unit) -> tuple[Unit, ...]:
    """The unit and its other spellings, any of which satisfies it (#14): a single word's British or
    American form, a hyphenated word written whole."""
    if len(unit) != 1:
        whole = joined(unit)
        return (unit,) if whole is None else (unit, whole)
    return (unit, *((v,) for v in variants(unit[0])))


def ranking_terms(parsed: ParsedQuery, mode: Match) -> list[Unit]:
    """The loose words to rank by in `mode`, stopwords left out unless nothing else is.

    In "any" mode each word's other spellings are added (#14): "behaviour" and "behavior" then rank
    by the same words, so they find the same papers in the same order. In "all" mode a backend asks
    for any of `alternatives(unit)` where it requires the unit.
    """
    if mode == "any":
        return [unit for group in ranking_groups(parsed) for unit in group]
    return _loose(parsed, list(parsed.terms))  # every word required: a joined word as written


def ranking_groups(parsed: ParsedQuery) -> list[tuple[Unit, ...]]:
    """Any mode's words to rank by, each with its other spellings: one group scores as one word."""
    # Any-mode splits a joined word into its tokens: on SciFact's train split that beat matching
    # "IL-10" or "0-dimensional" as a phrase (nDCG@10 0.705 against 0.696). A hyphenated word also
    # ranks by its whole form, so "pre-training" finds "pretraining".
    units = _dedup([(t,) for unit in parsed.terms for t in (*unit, *(joined(unit) or ()))])[:MAX_UNITS]
    groups: list[tuple[Unit, ...]] = []
    seen: set[Unit] = set()
    room = MAX_UNITS
    for unit in _loose(parsed, units):
        group = tuple(a for a in alternatives(unit) if a not in seen)[:room]
        seen.update(group)
        room -= len(group)
        if group:
            groups.append(group)
    return groups


def _loose(parsed: ParsedQuery, units: list[Unit]) -> list[Unit]:
    # A query in another language leaves its stopwords out too: "pour la" matched every French
    # abstract, whatever its subject (#14).
    foreign = foreign_stopwords(parsed.language)
    kept = [u for u in units if not (len(u) == 1 and (_is_stopword(u[0]) or u[0].casefold() in foreign))]
    # Stopwords match nearly every paper: they add nothing to bm25 but cost a pass over the index
    # (halving query time on SciFact). A query of nothing but stopwords still searches them.
    return kept if kept or parsed.phrases else units


Shape = Literal["terms", "sentence"]
# Up to this many words with no stopword among them read as a list of terms ("graph neural networks
# molecules"), not as a sentence; bench/fusion.py builds such queries from real titles (#14).
MAX_TERMS_WORDS = 4


def query_shape(text: str) -> Shape:
    """ "terms" for a short list of technical terms, "sentence" for anything longer or with stopwords."""
    words = text.split()
    if len(words) <= MAX_TERMS_WORDS and not any(w.casefold() in STOPWORDS for w in words):
        return "terms"
    return "sentence"


def typed_paper_id(text: str) -> str | None:
    """The paper's key when the whole query is one arXiv id, in any spelling papers/ids.py reads."""
    # Researchers paste ids and URLs into search boxes: "2601.19653" was searched as words and
    # found "LongCat-Flash-Thinking-2601" first and the paper nowhere (#14).
    found = arxiv_id_or_none(text) if len(text) <= 300 else None
    return found.key if found else None


def typed_categories(text: str) -> tuple[str, tuple[str, ...]]:
    """The query without the arXiv categories typed into it ("cs.CL agents"), and those categories."""
    # "cs.CL" searched as words found papers on quantum CSS codes first on the 80k store (#14).
    words: list[str] = []
    found: list[str] = []
    for word in text.split():
        code = category_code(word) if "." in word or "-" in word else None
        (found if code is not None else words).append(code or word)
    return " ".join(words), tuple(dict.fromkeys(found))
