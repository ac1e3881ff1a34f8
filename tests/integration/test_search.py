"""Keyword, semantic and hybrid search, similar papers and the CLI, with the real default model on
60 real papers (issue #3)."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from papertrend.cli import app
from papertrend.config import Settings
from papertrend.db import create_engine, reading
from papertrend.ingest.pipeline import run_ingest
from papertrend.ingest.sources.jsonl import JsonlSource
from papertrend.migrate import upgrade
from papertrend.papers import repository
from papertrend.search.embed_job import embed_missing
from papertrend.search.embedder import DEFAULT_MODEL, Embedder, get_embedder
from papertrend.search.service import EVERY_WORD_MIN, Searcher, above_floor
from papertrend.types import Filters, Mode, Sort
from tests.pgcluster import Cluster

LISTING = "arxiv_metadata/arxiv_cs_listings_head200.jsonl.gz"
N = 60


def _head(fixture_data: Path, tmp: Path, n: int = N, skip: int = 0) -> Path:
    out = tmp / f"head-{skip}-{n}.jsonl"
    with gzip.open(fixture_data / LISTING, "rt") as fh, out.open("w") as dst:
        for i, line in enumerate(fh):
            if i >= skip + n:
                break
            if i >= skip:
                dst.write(line)
    return out


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return get_embedder(DEFAULT_MODEL)


@pytest.fixture(scope="module")
def corpus(
    tmp_path_factory: pytest.TempPathFactory,
    fixture_data: Path,
    embedder: Embedder,
    pg_cluster: Cluster | None,
) -> Iterator[Searcher]:
    """60 real papers, embedded once for the module on the run's database; tests only read it."""
    tmp = tmp_path_factory.mktemp("search")
    url = pg_cluster.create_database() if pg_cluster else f"sqlite:///{tmp / 'search.db'}"
    engine = create_engine(url)
    upgrade(engine)
    assert run_ingest(engine=engine, source=JsonlSource(path=_head(fixture_data, tmp))).ok
    assert embed_missing(engine=engine, embedder=embedder).embedded == N
    yield Searcher(engine=engine, embedder=embedder, index_dir=tmp / "index")
    engine.dispose()
    if pg_cluster is not None:
        pg_cluster.drop(str(sa.make_url(url).database))


def _ids(hits: list) -> list[str]:  # type: ignore[type-arg]
    return [h.paper_id for h in hits]


@pytest.mark.parametrize("mode", ["keyword", "semantic", "hybrid"])
def test_a_title_finds_its_paper_first(corpus: Searcher, mode: str) -> None:
    hits = corpus.search(query="Safe Vision-Language Models via Unsafe Weights Manipulation", mode=mode)  # type: ignore[arg-type]
    assert _ids(hits)[0] == "2503.11742"


@pytest.mark.parametrize(
    ("paraphrase", "paper"),
    [
        ("removing rain streaks from one photograph", "2503.12014"),
        ("an overview of teaching a small student network from a big teacher", "2503.12067"),
        ("trying on clothes virtually, seen from every angle", "2503.12165"),
    ],
)
@pytest.mark.parametrize("mode", ["semantic", "hybrid"])
def test_a_paraphrase_finds_its_paper_in_the_top_3(
    corpus: Searcher, mode: str, paraphrase: str, paper: str
) -> None:
    assert paper in _ids(corpus.search(query=paraphrase, mode=mode, limit=3))  # type: ignore[arg-type]


def test_filters_apply_to_every_mode(corpus: Searcher) -> None:
    for mode in ("keyword", "semantic", "hybrid"):
        hits = corpus.search(
            query="vision language model safety", mode=mode, filters=Filters(categories=("cs.CR",))
        )  # type: ignore[arg-type]
        assert set(_ids(hits)) <= {"2503.11750", "2503.11945"} and hits, mode
        none = corpus.search(query="vision language", mode=mode, filters=Filters(since=date(2030, 1, 1)))  # type: ignore[arg-type]
        assert none == [], mode


def test_sort_by_date_keeps_the_same_results(corpus: Searcher) -> None:
    by_relevance = corpus.search(query="gaussian splatting", limit=10)
    by_date = corpus.search(query="gaussian splatting", limit=10, sort="date")
    assert set(_ids(by_date)) <= set(_ids(corpus.search(query="gaussian splatting", limit=100)))
    assert by_relevance and by_date


def _texts(corpus: Searcher, ids: list[str]) -> dict[str, str]:
    with reading(corpus.engine) as conn:
        return {p.id: f"{p.title} {p.abstract}" for p in repository.get_many(conn=conn, paper_ids=ids)}


@pytest.mark.parametrize("mode", ["keyword", "semantic", "hybrid"])
@pytest.mark.parametrize("sort", ["relevance", "date"])
def test_phrases_and_exclusions_hold_in_every_mode_and_sort(corpus: Searcher, mode: Mode, sort: Sort) -> None:
    # By meaning alone, papers near "gaussian splatting" without the phrase were found too (#14).
    hits = corpus.search(query='"gaussian splatting" rendering', mode=mode, sort=sort, limit=50)
    texts = _texts(corpus, _ids(hits))
    assert hits and all(re.search(r"gaussian\W+splat", t, re.I) for t in texts.values()), texts
    loose = corpus.search(query="gaussian splatting rendering", mode=mode, sort=sort, limit=50)
    excluded = corpus.search(query="gaussian splatting rendering -dynamic", mode=mode, sort=sort, limit=50)
    kept = _texts(corpus, _ids(excluded))
    assert excluded and not any(re.search(r"\bdynamic", t, re.I) for t in kept.values())
    if sort == "relevance":  # the date sort's floor may leave no paper the exclusion removes
        assert any(re.search(r"\bdynamic", t, re.I) for t in _texts(corpus, _ids(loose)).values())


def test_the_date_sort_orders_only_the_relevant_newest_first(corpus: Searcher) -> None:
    query = "vision language model safety"
    with reading(corpus.engine) as conn:
        for mode in ("keyword", "semantic", "hybrid"):
            best = corpus.search(query=query, mode=mode, limit=100)  # type: ignore[arg-type]
            relevant = above_floor(hits=best, mode=mode)  # type: ignore[arg-type]
            by_date = corpus.search(query=query, mode=mode, limit=100, sort="date")  # type: ignore[arg-type]
            assert set(_ids(by_date)) == set(_ids(relevant)), mode
            days = repository.listing_days(conn=conn, paper_ids=_ids(by_date))
            order = [str(days[pid]) for pid in _ids(by_date)]
            assert order == sorted(order, reverse=True), mode


@pytest.mark.parametrize("mode", ["keyword", "hybrid"])
def test_the_date_sort_keeps_the_papers_holding_every_word_when_a_page_do(
    corpus: Searcher, mode: Mode
) -> None:
    # Newest first, a short query's candidates that lack one of its words went first as often as
    # those about it: on the 80k store 2 of the 10 newest for "reinforcement learning from human
    # feedback" were about it (#14). Most of the 60 papers name both words; some name one.
    query = "language models"
    candidates = _texts(corpus, _ids(corpus.search(query=query, mode=mode, limit=100)))
    by_date = _ids(corpus.search(query=query, mode=mode, limit=100, sort="date"))
    lacking = {
        pid
        for pid, t in candidates.items()
        if not (re.search(r"\blanguage", t, re.I) and re.search(r"\bmodel", t, re.I))
    }
    assert lacking and len(by_date) >= EVERY_WORD_MIN
    assert not lacking & set(by_date)
    with reading(corpus.engine) as conn:
        days = repository.listing_days(conn=conn, paper_ids=by_date)
    assert [str(days[pid]) for pid in by_date] == sorted((str(days[pid]) for pid in by_date), reverse=True)


def test_hostile_queries_do_not_raise(corpus: Searcher) -> None:
    for q in ['"unbalanced', "AND OR NOT", "-", "*", "title:foo", "((", "🙂", "x" * 10_000, ""]:
        corpus.search(query=q, mode="hybrid")


def test_similar_papers(corpus: Searcher) -> None:
    similar = corpus.similar(paper_id="arXiv:2503.11742v1", limit=5)  # Safe VLMs
    assert "2503.11742" not in _ids(similar) and len(similar) == 5
    # the two other VLM-safety papers of the sample are its nearest neighbours
    assert {"2503.12127", "2503.11750"} & set(_ids(similar)[:3])
    assert corpus.similar(paper_id="2401.99999") == []


def test_new_papers_become_searchable_after_embedding(
    settings: Settings, engine: Engine, fixture_data: Path, tmp_path: Path, embedder: Embedder
) -> None:
    searcher = Searcher(engine=engine, embedder=embedder, index_dir=tmp_path / "index")
    run_ingest(engine=engine, source=JsonlSource(path=_head(fixture_data, tmp_path, n=20)))
    embed_missing(engine=engine, embedder=embedder)
    assert "2503.12168" not in _ids(
        searcher.search(query="extremely dense crowds as active matter", mode="semantic")
    )
    run_ingest(engine=engine, source=JsonlSource(path=_head(fixture_data, tmp_path, n=40, skip=20)))
    assert embed_missing(engine=engine, embedder=embedder).embedded == 40
    hits = searcher.search(query="extremely dense crowds as active matter", mode="semantic", limit=1)
    assert _ids(hits) == ["2503.12168"]


def test_cli_ingest_embed_search_and_similar(settings: Settings, fixture_data: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    loaded = runner.invoke(app, ["ingest", "jsonl", str(_head(fixture_data, tmp_path)), "--embed"])
    assert loaded.exit_code == 0, loaded.output
    assert f"{N} papers embedded" in loaded.output
    found = runner.invoke(app, ["search", "removing rain from a photo", "--limit", "3", "--json"])
    assert found.exit_code == 0, found.output
    rows = json.loads(found.output)
    assert "2503.12014" in [r["id"] for r in rows] and all("score" in r for r in rows)
    shown = runner.invoke(
        app, ["search", "knowledge distillation", "--mode", "keyword", "--category", "cs.CV"]
    )
    assert shown.exit_code == 0 and "A Comprehensive Survey on Knowledge Distillation" in shown.output
    nothing = runner.invoke(app, ["search", "knowledge distillation", "--since", "2031-01-01"])
    assert nothing.exit_code == 0 and "No results" in nothing.output
    # An id searches for that paper: found alone, or named as missing with the command that fetches it.
    one = runner.invoke(app, ["search", "https://huggingface.co/papers/2503.12014", "--json"])
    assert [r["id"] for r in json.loads(one.output)] == ["2503.12014"]
    missing = runner.invoke(app, ["search", "arXiv:2601.99999", "--mode", "keyword"])
    assert missing.exit_code == 0 and "ingest arxiv-api --id 2601.99999" in missing.output
    bad = runner.invoke(app, ["search", "x", "--mode", "magic"])
    assert bad.exit_code == 2
    similar = runner.invoke(app, ["papers", "similar", "2503.11742", "--json"])
    assert similar.exit_code == 0 and "2503.11742" not in [r["id"] for r in json.loads(similar.output)]
    again = runner.invoke(app, ["embed"])
    assert "0 papers embedded" in again.output


def test_hybrid_gives_keyword_hits_their_exact_cosine_not_zero(corpus: Searcher) -> None:
    # #14: a keyword hit outside the semantic top list used to count 0 by meaning.
    query = "graph neural networks for molecules"
    vector = corpus.embed_query(query)
    with reading(corpus.engine) as conn:
        words = corpus.search(query=query, mode="keyword", limit=N)
        meaning = corpus.nearest(conn=conn, vector=vector, limit=3)
        full = {h.paper_id: h.score for h in corpus.nearest(conn=conn, vector=vector, limit=N)}
        completed = corpus.completed(conn=conn, vector=vector, by_meaning=meaning, by_words=words)
    assert len(words) > 3 and set(_ids(meaning)) < set(_ids(completed))
    # Every paper found by words is there, at the cosine exact search gives it, best first.
    assert set(_ids(words)) <= set(_ids(completed))
    for hit in completed:
        assert hit.score == pytest.approx(full[hit.paper_id], abs=1e-4)
    assert [h.score for h in completed] == sorted((h.score for h in completed), reverse=True)


def test_hybrid_ranks_as_its_parts_fused_with_one_id_lookup(corpus: Searcher) -> None:
    # #15: the hybrid search reads its keyword and semantic hits' ids in one query (three before); its
    # ranking must stay the documented one: keyword hits fused with the semantic hits completed by the
    # keyword hits' exact cosines.
    from sqlalchemy import event

    from papertrend.search import hybrid

    query = "graph neural networks for molecules"
    vector = corpus.embed_query(query)
    with reading(corpus.engine) as conn:
        words = corpus.search(query=query, mode="keyword", limit=100)
        meaning = corpus.nearest(conn=conn, vector=vector, limit=100)
        completed = corpus.completed(conn=conn, vector=vector, by_meaning=meaning, by_words=words)
    tuning = corpus.tuning
    expected = hybrid.fuse(
        [words, completed],
        fusion=tuning.fusion,
        weights=tuning.weights_for(query),
        rrf_k=tuning.rrf_k,
        norms=[tuning.keyword_norm, "minmax"],
    )
    statements: list[str] = []
    engine = corpus.engine

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(" ".join(statement.split()).lower())

    event.listen(engine, "before_cursor_execute", seen)
    try:
        got = corpus.search(query=query, mode="hybrid", limit=100)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert _ids(got) == _ids(expected)[:100]
    assert [h.score for h in got] == pytest.approx([h.score for h in expected][:100], abs=1e-5)
    lookups = [s for s in statements if s.startswith("select papers.pk, papers.id from papers")]
    assert len(lookups) == 1, lookups
