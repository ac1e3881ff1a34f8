"""The digest's "For you" as a reader sees it (#13): each pick says why, carries a "Not interested"
link, an edition with nothing relevant says so in one line, and excluded words match word forms."""

from __future__ import annotations

from datetime import UTC, datetime

from papertrend.digest.compose import Filter, select
from papertrend.digest.records import PaperText
from papertrend.digest.subscriptions import Preferences, link_token
from papertrend.types import Hit
from tests.unit.render_support import CTX, SUB, digest, make_paper, reparse

NOW = datetime(2026, 6, 23, 8, 0, tzinfo=UTC)


def parts(**kw: object) -> tuple[str, str]:
    msg = reparse(digest(**kw))
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def test_reasons_and_not_interested_links() -> None:
    text, html = parts(
        for_you=[
            (make_paper("2606.00003", "Agents paper"), "like Some saved paper"),
            (make_paper("2606.00004", "By someone"), "by Ada Lovelace"),
            (make_paper("2606.00005", "Topic paper"), "agents"),
        ]
    )
    token = link_token(secret=CTX.secret, subscription=SUB, purpose="not_interested")
    link = f"https://papers.example.org/not-interested/{token}/2606.00003"
    for body in (text, html):
        assert "Like Some saved paper" in body and "By Ada Lovelace" in body
        assert "Because you follow" in body  # an edition ranked by topics alone still says so
        assert link in body
    # Another subscription's token is not this one's.
    assert link_token(secret=CTX.secret, subscription=SUB, purpose="manage") not in link


def test_nothing_relevant_is_one_line_not_padding() -> None:
    text, html = parts(for_you=[])
    assert "Nothing new for you today." in text and "Nothing new for you today." in html
    quiet = SUB.__class__(**{**{f: getattr(SUB, f) for f in SUB.__slots__}, "prefs": Preferences()})
    text, _ = parts(for_you=[], sub=quiet)
    assert "Nothing new for you" not in text


def test_excluded_words_match_word_forms() -> None:
    rule = Filter.of(Preferences(exclude_keywords=("benchmark", "C++")))
    texts = {
        "a": PaperText("a", "semcomp-bench: benchmarking semantic compression", ()),
        "b": PaperText("b", "new benchmarks for agents", ()),
        "c": PaperText("c", "a compiler for c++ templates", ()),
        "d": PaperText("d", "diffusion models for video generation", ()),
    }
    assert [pid for pid, p in texts.items() if rule.allows(p)] == ["d"]
    composed = select(
        prefs=Preferences(exclude_keywords=("benchmark",)),
        trending_hits=[Hit(pid, 1.0) for pid in texts],
        topic_hits={},
        texts=texts,
        sent=set(),
        n_trending=10,
        n_for_you=8,
        picks=[("b", "like x"), ("d", "matches video"), ("d", "matches video")],
    )
    assert "a" not in composed.trending and "b" not in composed.trending
    # Picks already in Trending are not repeated, excluded ones are dropped: nothing is padded in.
    assert composed.for_you == ()
    fresh = select(
        prefs=Preferences(exclude_keywords=("benchmark",)),
        trending_hits=[],
        topic_hits={},
        texts=texts,
        sent=set(),
        n_trending=10,
        n_for_you=8,
        picks=[("b", "like x"), ("d", "matches video"), ("d", "matches video")],
    )
    assert fresh.for_you == (("d", "matches video"),)


def test_a_shared_view_cache_keeps_each_readers_reason() -> None:
    """A run's view cache folds a paper once and shares it, but each reader's reason stays theirs,
    and every message is byte for byte what rendering without the cache gives."""
    from papertrend.digest.render import RenderCache
    from papertrend.mail.message import to_bytes

    paper = make_paper("2606.00003", "Agents paper")
    cache = RenderCache()
    reasons = ["like Saved one", "matches agents", "agents", "like Saved two", "like Saved one"]
    for reason in [*reasons, ""]:
        kw: dict[str, object] = {"trending": [paper], "for_you": [(paper, reason)] if reason else []}
        assert to_bytes(digest(**kw, cache=cache)) == to_bytes(digest(**kw))
    text, _ = parts(for_you=[(paper, "like Saved two")], cache=cache)
    assert "Like Saved two" in text and "Like Saved one" not in text
