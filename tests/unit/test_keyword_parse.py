"""The keyword query parser (issue #3): user text never reaches FTS5 syntax raw, and reads as meant."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from papertrend.search.keyword import (
    MAX_QUERY_CHARS,
    MAX_UNITS,
    Match,
    ParsedQuery,
    parse_query,
    to_fts5,
)

# The tokenizer of migration 0002, on a table of the same shape.
_TABLE = (
    "CREATE VIRTUAL TABLE t USING fts5(title, abstract, authors, "
    "tokenize='porter unicode61 remove_diacritics 2')"
)
_DOCS = [
    ("State of the art graph neural networks", "We survey the state of the art.", "Ada Lovelace"),
    ("LLMs as judges", "Large language models (LLMs) judge outputs.", "Alan Turing"),
    ("Café au lait", "A study of coffee, NOT tea: AND/OR operators * ^ NEAR(x).", "Grace Hopper"),
    ("Nitric oxide", "NO signalling in cells.", "Émilie du Châtelet"),
]
# A whole MATCH expression as to_fts5 may write it: quoted strings, operators, parentheses, spaces.
_SAFE = re.compile(r'(?:"(?:[^"]|"")*"|AND|OR|NOT|\(|\)| )+')
MODES: tuple[Match, ...] = ("any", "all")


@pytest.fixture(scope="module")
def fts() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:")
    conn.execute(_TABLE)
    conn.executemany("INSERT INTO t(title, abstract, authors) VALUES (?, ?, ?)", _DOCS)
    yield conn
    conn.close()


def matches(conn: sqlite3.Connection, query: str, mode: Match = "any") -> list[int]:
    expr = to_fts5(parse_query(query), mode=mode)
    if expr is None:
        return []
    return [r[0] for r in conn.execute("SELECT rowid FROM t WHERE t MATCH ? ORDER BY rank", (expr,))]


# --- parsing -------------------------------------------------------------------------------------


def test_plain_words_are_optional_terms_or_ed() -> None:
    parsed = parse_query("graph neural networks")
    assert parsed == ParsedQuery(terms=(("graph",), ("neural",), ("networks",)))
    assert to_fts5(parsed) == '"graph" OR "neural" OR "networks"'
    assert to_fts5(parsed, mode="all") == '"graph" AND "neural" AND "networks"'


def test_operators_are_plain_words() -> None:
    expr = to_fts5(parse_query("cats AND dogs OR NOT NEAR(birds) title:x ^y z* {a b}"), mode="all")
    assert expr is not None
    # Every word is quoted: no bare operator, column filter, prefix or parenthesis from the user;
    # AND, OR and NOT are stopwords here.
    assert expr == '"cats" AND "dogs" AND "NEAR" AND "birds" AND "title" AND "x" AND "y" AND "z" AND "b"'
    assert to_fts5(parse_query("AND OR NOT")) == '"AND" OR "OR" OR "NOT"'


def test_exact_phrase_is_required_in_both_modes() -> None:
    parsed = parse_query('"graph neural" survey')
    assert parsed.phrases == (("graph", "neural"),)
    assert parsed.terms == (("survey",),)
    assert to_fts5(parsed) == '"graph neural" AND ("graph neural" OR "survey")'
    assert to_fts5(parsed, mode="all") == '"graph neural" AND "survey"'
    assert to_fts5(parse_query('"graph neural"')) == '"graph neural"'


def test_curly_quotes_make_phrases_too() -> None:
    assert parse_query("\u201cdeep learning\u201d").phrases == (("deep", "learning"),)


def test_an_unbalanced_quote_is_ignored() -> None:
    assert parse_query('"deep learning') == ParsedQuery(terms=(("deep",), ("learning",)))
    assert parse_query('"a b" "c d') == ParsedQuery(terms=(("c",), ("d",)), phrases=(("a", "b"),))
    assert parse_query('x"y') == ParsedQuery(terms=(("x",), ("y",)))


def test_a_leading_dash_excludes_a_word_or_phrase() -> None:
    parsed = parse_query('transformers -vision -"large language"')
    assert parsed.terms == (("transformers",),)
    assert parsed.excluded == (("vision",), ("large", "language"))
    assert to_fts5(parsed) == '("transformers") NOT ("vision" OR "large language")'


def test_other_dashes_are_text() -> None:
    assert parse_query("-1 dimensional").terms == (("1",), ("dimensional",))
    assert parse_query("attention - a survey").excluded == ()
    assert parse_query("state-of-the-art").terms == (("state", "of", "the", "art"),)
    assert parse_query('"a b"-"c d"') == ParsedQuery(phrases=(("a", "b"), ("c", "d")))
    assert parse_query('x-"c d"') == ParsedQuery(terms=(("x",),), phrases=(("c", "d"),))


def test_exclusions_alone_search_nothing() -> None:
    assert to_fts5(parse_query("-vision -language")) is None


def test_joined_words_split_in_any_mode_and_stay_phrases_in_all_mode() -> None:
    parsed = parse_query("GPT-4o state-of-the-art 3.5")
    assert parsed.terms == (("GPT", "4o"), ("state", "of", "the", "art"), ("3", "5"))
    assert to_fts5(parsed) == '"GPT" OR "4o" OR "state" OR "art" OR "3" OR "5"'
    assert to_fts5(parsed, mode="all") == '"GPT 4o" AND "state of the art" AND "3 5"'


def test_possessive_s_is_dropped() -> None:
    assert parse_query("LLM's Alzheimer\u2019s").terms == (("LLM",), ("Alzheimer",))
    assert parse_query("don't").terms == (("don", "t"),)


def test_separators_inside_a_word_split_it() -> None:
    assert parse_query("accuracy/latency (ViT)").terms == (("accuracy",), ("latency",), ("ViT",))


def test_stopwords_are_dropped_unless_nothing_else_is_left() -> None:
    assert to_fts5(parse_query("the effect of NO on cells")) == '"effect" OR "NO" OR "cells"'
    assert to_fts5(parse_query("to be or not to be")) == '"to" OR "be" OR "or" OR "not"'
    assert to_fts5(parse_query('"the state of" art')) == '"the state of" AND ("the state of" OR "art")'


def test_nothing_searchable_gives_none() -> None:
    for text in ("", "   ", "!!!", "😀🎉", '""', "-", "()", "* : ^", '-""', "\u0301"):
        assert to_fts5(parse_query(text)) is None, text


def test_duplicates_fold_case_and_accents_compose() -> None:
    assert parse_query("Graph graph GRAPH").terms == (("Graph",),)
    assert parse_query("cafe\u0301 caf\u00e9").terms == (("caf\u00e9",),)


def test_length_and_word_count_are_bounded() -> None:
    parsed = parse_query(" ".join(f"w{i}" for i in range(5000)))
    assert len(parsed.terms) == MAX_UNITS
    assert parse_query("x" * 10_000).terms == (("x" * MAX_QUERY_CHARS,),)


def test_unknown_mode_is_an_error() -> None:
    with pytest.raises(ValueError, match="match mode"):
        to_fts5(parse_query("x"), mode="some")  # type: ignore[arg-type]


# --- against a real FTS5 table -------------------------------------------------------------------


def test_queries_find_what_users_expect(fts: sqlite3.Connection) -> None:
    assert matches(fts, "state-of-the-art", "all") == [1]
    assert matches(fts, '"state of the art"') == [1]
    assert matches(fts, '"art of the state"') == []
    assert matches(fts, "LLM's") == [2]
    assert matches(fts, "NOT tea AND/OR", "all") == [3]
    assert matches(fts, "cafe") == [3]
    assert matches(fts, "chatelet") == [4]
    assert matches(fts, "state -neural") == []
    assert 1 in matches(fts, "networks coffee") and 3 in matches(fts, "networks coffee")


_HOSTILE = [
    '"',
    '"""',
    "((((",
    "))",
    "a AND",
    "OR OR OR",
    "NEAR(a b, 3)",
    "title:foo",
    "-",
    "--",
    "- -x",
    "*",
    "a*",
    "^a",
    "a:b:c",
    "{title abstract}: x",
    "\x00\x01\x02",
    "😀 emoji 🧪 only",
    "\U0001f972",
    "'; DROP TABLE t; --",
    'unbalanced "quote and (paren',
    "x" * 10_000,
    "a " * 5_000,
    '"a" ' * 3_000,
    "-a " * 3_000,
]


@pytest.mark.parametrize("text", _HOSTILE)
@pytest.mark.parametrize("mode", MODES)
def test_hostile_queries_are_accepted_by_fts5(fts: sqlite3.Connection, text: str, mode: Match) -> None:
    matches(fts, text, mode)


# Text rich in what FTS5 treats as syntax, mixed with arbitrary unicode.
_syntax = st.sampled_from(
    ['"', "\u201c", "\u201d", "-", "*", ":", "^", "(", ")", "{", "}", "+", ",", "'", ".", " ",
     "AND", "OR", "NOT", "NEAR", "a", "b", "the", "\u0301", "😀", "\x00"]
)  # fmt: skip
_queries = st.lists(st.one_of(_syntax, st.characters()), max_size=300).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_queries)
def test_any_text_gives_a_valid_fts5_expression(fts: sqlite3.Connection, text: str) -> None:
    for mode in MODES:
        expr = to_fts5(parse_query(text), mode=mode)
        if expr is None:
            continue
        assert _SAFE.fullmatch(expr), expr
        fts.execute("SELECT count(*) FROM t WHERE t MATCH ?", (expr,)).fetchone()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chunk=st.text(max_size=50), times=st.integers(200, 1000))
def test_long_text_gives_a_valid_fts5_expression(fts: sqlite3.Connection, chunk: str, times: int) -> None:
    for mode in MODES:
        expr = to_fts5(parse_query(chunk * times), mode=mode)
        if expr is not None:
            fts.execute("SELECT count(*) FROM t WHERE t MATCH ?", (expr,)).fetchone()


_words = st.lists(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyzé", min_size=1, max_size=8), min_size=1, max_size=8
)


@settings(max_examples=100, deadline=None)
@given(words=_words)
def test_a_paper_is_found_by_its_own_words_and_phrase(words: list[str]) -> None:
    text = " ".join(words)
    conn = sqlite3.connect(":memory:")
    conn.execute(_TABLE)
    conn.execute("INSERT INTO t(title, abstract, authors) VALUES (?, '', '')", (text,))
    for query in (text, f'"{text}"'):
        for mode in MODES:
            expr = to_fts5(parse_query(query), mode=mode)
            assert expr is not None
            assert conn.execute("SELECT rowid FROM t WHERE t MATCH ?", (expr,)).fetchall() == [(1,)]
    conn.close()
