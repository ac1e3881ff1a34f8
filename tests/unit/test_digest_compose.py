"""Which papers an edition holds: the pure parts of digest/compose.py (issue #5)."""

from __future__ import annotations

from papertrend.digest.compose import select
from papertrend.digest.records import Composed, PaperText
from papertrend.digest.subscriptions import Preferences
from papertrend.types import Hit


def texts(*specs: tuple[str, str, tuple[str, ...]]) -> dict[str, PaperText]:
    return {pid: PaperText(pid, text.lower(), cats) for pid, text, cats in specs}


TEXTS = texts(
    ("a", "Agents that simulate people", ("cs.CL",)),
    ("b", "A survey of agents", ("cs.AI",)),
    ("c", "Video diffusion", ("cs.CV",)),
    ("d", "Simulating a society of LLM agents", ("cs.CL", "cs.MA")),
    ("e", "Protein folding", ("q-bio.BM",)),
    ("f", "C++ compilers for agents", ("cs.PL",)),
)


def hits(*ids: str) -> list[Hit]:
    return [Hit(i, 1.0 / (n + 1)) for n, i in enumerate(ids)]


def test_select_never_repeats_a_paper_and_fills_for_you_by_turns() -> None:
    prefs = Preferences(topics=("agents", "diffusion"))
    got = select(
        prefs=prefs,
        trending_hits=hits("a", "c", "e"),
        topic_hits={"agents": hits("a", "d", "b", "f"), "diffusion": hits("c", "d")},
        texts=TEXTS,
        sent={"e"},
        n_trending=2,
        n_for_you=3,
    )
    # Trending takes a and c (e was sent before); topics take turns: agents → d, diffusion → (d, c
    # taken) nothing left, agents → b.
    assert got == Composed(trending=("a", "c"), for_you=(("d", "agents"), ("b", "agents"), ("f", "agents")))
    assert got.paper_ids == ["a", "c", "d", "b", "f"]
    assert Composed.from_json(got.to_json()) == got


def test_filters_categories_exclude_and_include() -> None:
    prefs = Preferences(
        topics=("agents",),
        categories=("cs.CL", "cs.AI", "cs.PL"),
        exclude_keywords=("survey",),
        include_keywords=("simulate", "c++"),
    )
    got = select(
        prefs=prefs,
        trending_hits=hits("c", "b", "e"),
        topic_hits={"agents": hits("a", "b", "d", "f")},
        texts=TEXTS,
        sent=set(),
        n_trending=5,
        n_for_you=5,
    )
    # c (cs.CV) and e (q-bio) are outside the categories; b mentions "survey"; d says "simulating",
    # not the word "simulate"; "c++" matches as a word.
    assert got.trending == ()
    assert got.for_you == (("a", "agents"), ("f", "agents"))


def test_nothing_new_is_an_empty_edition() -> None:
    got = select(
        prefs=Preferences(topics=("agents",)),
        trending_hits=hits("a"),
        topic_hits={"agents": hits("a")},
        texts=TEXTS,
        sent={"a"},
        n_trending=5,
        n_for_you=5,
    )
    assert got.empty and got.paper_ids == []
