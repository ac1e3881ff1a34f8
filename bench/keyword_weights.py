"""Keyword search quality (issue #3): nDCG@10 of `search.keyword.search` on BEIR SciFact.

SciFact's 5,183 abstracts are stored through the real ingest pipeline into a fresh SQLite database
(title → title, text → abstract, no authors; synthetic arXiv-looking ids mapped back to BEIR ids).
The match modes are compared on the TRAIN qrels; the winner's nDCG@10 on TEST is what to quote
(reference: BM25 with stemming, 0.686 on test). The title's weight is baked into the index
(search/tantivy_index.py TITLE_REPEATS, chosen by this bench's earlier grid: title 3 × abstract 1).
Also reports the time one query takes. Prints a table; exits 0.

    .venv/bin/python bench/keyword_weights.py [--data DIR] [--arxiv]   (bench/benchdata.py)

--arxiv also times the chosen setting on the 74,728-paper arXiv listing, with SciFact's claims as
queries (latency only: there are no relevance judgements for it).

--variants also scores what was tried on the keyword side for #14 and not kept (docs/search.md):
the title repeated 1-5 times, a proximity boost for adjacent query words, and RM3-style
pseudo-relevance feedback (expansion words from the best abstracts, a second query). None beat the
product's ranking on train.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson
import tantivy
from sqlalchemy.engine import Connection, Engine

sys.path.insert(0, str(Path(__file__).resolve().parent))
from beir import ndcg_at, synthetic_id
from benchdata import LISTING, SCIFACT, add_data_option, data_dir
from papertrend.db import create_engine, reading
from papertrend.ingest.base import Cursor, Parsed, RawBatch, make_source
from papertrend.ingest.pipeline import run_ingest
from papertrend.migrate import upgrade
from papertrend.papers.models import PaperIn
from papertrend.search import keyword
from papertrend.search.query import STOPWORDS, parse_query, ranking_terms
from papertrend.search.tantivy_index import TEXT, TITLE_REPEATS, KeywordIndex, analyzer

ROOT = Path(__file__).resolve().parents[1]
MODES: tuple[keyword.Match, ...] = ("any", "all")
K = 10
Qrels = dict[str, dict[str, int]]


class ListSource:
    """A Source over records already in memory, so the bench stores them the way ingest does."""

    name = "scifact"

    def __init__(self, papers: Sequence[PaperIn], batch: int = 2000) -> None:
        self.papers = list(papers)
        self.batch = batch

    def cursor_key(self) -> str:
        return "scifact"

    def fetch(self, cursor: Cursor | None) -> Iterator[RawBatch]:
        for start in range(0, len(self.papers), self.batch):
            yield RawBatch(self.papers[start : start + self.batch], "scifact")

    def parse(self, raw: RawBatch) -> Parsed:
        return Parsed(papers=list(raw.payload))


def load_corpus(path: Path) -> tuple[list[PaperIn], dict[str, str]]:
    """PaperIn records for the corpus, and arXiv-looking id → BEIR id."""
    papers: list[PaperIn] = []
    to_beir: dict[str, str] = {}
    with path.open("rb") as fh:
        for i, line in enumerate(fh):
            doc = orjson.loads(line)
            pid = synthetic_id(i)
            to_beir[pid] = str(doc["_id"])
            # A missing title would be rejected by the pipeline; SciFact has none missing, but say so.
            papers.append(
                PaperIn(id=pid, title=doc["title"] or "(untitled)", abstract=doc["text"], source="scifact")
            )
    return papers, to_beir


def load_qrels(path: Path) -> Qrels:
    qrels: Qrels = {}
    with path.open() as fh:
        next(fh)  # header: query-id corpus-id score
        for line in fh:
            qid, doc, score = line.split()
            qrels.setdefault(qid, {})[doc] = int(score)
    return qrels


@dataclass(frozen=True, slots=True)
class Result:
    ndcg: float
    seconds: list[float]


def evaluate(
    conn: Connection,
    queries: dict[str, str],
    qrels: Qrels,
    to_beir: dict[str, str],
    *,
    match: keyword.Match,
    limit: int = K,
) -> Result:
    """Mean nDCG@10 over the judged queries (a query with no hits scores 0), and each query's time."""
    scores: list[float] = []
    seconds: list[float] = []
    for qid, relevant in qrels.items():
        t0 = time.perf_counter()
        hits = keyword.search(conn=conn, query=queries[qid], limit=limit, match=match)
        seconds.append(time.perf_counter() - t0)
        scores.append(ndcg_at([to_beir.get(h.paper_id, h.paper_id) for h in hits], relevant))
    return Result(statistics.fmean(scores), seconds)


def fresh_db(tmp: Path, name: str) -> Engine:
    engine = create_engine(f"sqlite:///{tmp / name}")
    upgrade(engine)
    keyword.open_index(engine=engine, data_dir=tmp)
    return engine


# A variant: (index, query text) -> (pk, score) best first.
Ranker = Callable[[KeywordIndex, str], list[tuple[int, float]]]


def _product(index: KeywordIndex, text: str) -> list[tuple[int, float]]:
    q = keyword.to_tantivy(index, parse_query(text), match="any")
    return keyword._ranked(index, q, limit=K, allowed=None) if q is not None else []


def _proximity(slop: int, boost: float) -> Ranker:
    """The product's query plus, for each pair of adjacent loose words, a boosted phrase of the two."""

    def rank(index: KeywordIndex, text: str) -> list[tuple[int, float]]:
        q = keyword.to_tantivy(index, parse_query(text), match="any")
        if q is None:
            return []
        stems = [
            s for u in ranking_terms(parse_query(text), "any") for t in u for s in index.analyzer.analyze(t)
        ]
        clauses = [(tantivy.Occur.Should, q)]
        for a, b in itertools.pairwise(stems):
            pair = tantivy.Query.phrase_query(index.schema, TEXT, [a, b], slop)
            clauses.append((tantivy.Occur.Should, tantivy.Query.boost_query(pair, boost)))
        return keyword._ranked(index, tantivy.Query.boolean_query(clauses), limit=K, allowed=None)

    return rank


def _rm3(papers: Sequence[PaperIn], pks: dict[str, int], docs: int, words: int, keep: float) -> Ranker:
    """RM3: the `words` likeliest words of the `docs` best abstracts (weighted by their scores) added
    to the query with weight 1 - `keep`."""
    stop = {s for w in STOPWORDS for s in analyzer().analyze(w)}
    tf: dict[int, Counter[str]] = {}

    def rank(index: KeywordIndex, text: str) -> list[tuple[int, float]]:
        if not tf:
            for p in papers:
                stems = index.analyzer.analyze(f"{p.title} {p.abstract}")
                tf[pks[p.id]] = Counter(s for s in stems if s not in stop and not s.isdigit())
        q = keyword.to_tantivy(index, parse_query(text), match="any")
        if q is None:
            return []
        first = keyword._ranked(index, q, limit=docs, allowed=None)
        total = sum(score for _, score in first) or 1.0
        model: dict[str, float] = {}
        for pk, score in first:
            length = sum(tf[pk].values()) or 1
            for word, n in tf[pk].items():
                model[word] = model.get(word, 0.0) + score / total * n / length
        top = sorted(model.items(), key=lambda kv: -kv[1])[:words]
        norm = sum(v for _, v in top) or 1.0
        clauses = [(tantivy.Occur.Should, tantivy.Query.boost_query(q, keep))]
        for word, v in top:
            term = tantivy.Query.term_query(index.schema, TEXT, word)
            clauses.append((tantivy.Occur.Should, tantivy.Query.boost_query(term, (1 - keep) * v / norm * 5)))
        return keyword._ranked(index, tantivy.Query.boolean_query(clauses), limit=K, allowed=None)

    return rank


def variants(engine: Engine, papers: Sequence[PaperIn], queries: dict[str, str], splits: dict[str, Qrels],
             to_beir: dict[str, str]) -> None:  # fmt: skip
    """nDCG@10 on train and test of the keyword variants tried for #14, with CPU time per query."""
    index = keyword.open_index(engine=engine)
    with reading(engine) as conn:
        pks = {pid: pk for pk, pid in keyword._pks_of(conn, [p.id for p in papers]).items()}
    by_pk = {pk: to_beir[pid] for pid, pk in pks.items()}

    def score(label: str, rank: Ranker) -> None:
        cells: list[str] = []
        cpu, n = 0.0, 0
        for qrels in splits.values():
            c0 = time.process_time()
            got = [ndcg_at([by_pk[pk] for pk, _ in rank(index, queries[q])], rel) for q, rel in qrels.items()]
            cpu, n = cpu + time.process_time() - c0, n + len(qrels)
            cells.append(f"{statistics.fmean(got):>7.4f}")
        print(f"{label:<48} {' '.join(cells)} {cpu / n * 1000:>8.2f}")

    print(f"\n{'variant':<48} {'train':>7} {'test':>7} {'CPU ms/q':>8}")
    for repeats in (1, 2, 3, 4, 5):
        index.title_repeats = repeats
        keyword.sync(engine=engine, full=True)
        score(f"title x{repeats}" + (" (product)" if repeats == TITLE_REPEATS else ""), _product)
    index.title_repeats = TITLE_REPEATS
    keyword.sync(engine=engine, full=True)
    for slop, boost in ((0, 0.1), (2, 0.1), (2, 0.25), (5, 0.1)):
        score(f"adjacent words as a phrase, slop {slop}, boost {boost}", _proximity(slop, boost))
    for docs, words, keep in ((3, 10, 0.85), (5, 20, 0.85), (10, 10, 0.85), (10, 10, 0.7), (10, 20, 0.5)):
        score(f"RM3: {docs} docs, {words} words, query weight {keep}", _rm3(papers, pks, docs, words, keep))


def ms(values: list[float], q: float) -> float:
    return 1000 * statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else 1000 * values[0]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_data_option(parser)
    parser.add_argument("--arxiv", action="store_true", help="also time queries on the arXiv listing")
    parser.add_argument("--variants", action="store_true", help="also score the variants tried for #14")
    ns = parser.parse_args()
    ns.data = data_dir(ns.data, SCIFACT, *([LISTING] if ns.arxiv else []))
    base = ns.data / SCIFACT
    papers, to_beir = load_corpus(base / "corpus.jsonl")
    queries = {
        str(q["_id"]): q["text"]
        for q in map(orjson.loads, (base / "queries.jsonl").read_bytes().splitlines())
    }
    train = load_qrels(base / "qrels" / "train.tsv")
    test = load_qrels(base / "qrels" / "test.tsv")

    with tempfile.TemporaryDirectory() as tmp:
        engine = fresh_db(Path(tmp), "scifact.db")
        t0 = time.perf_counter()
        report = run_ingest(engine=engine, source=ListSource(papers))
        assert report.ok and report.added == len(papers), report.summary()
        print(f"stored {report.added:,} SciFact abstracts in {time.perf_counter() - t0:.1f}s")
        print(f"train {len(train)} queries, test {len(test)} queries; nDCG@{K}")
        rows: list[tuple[keyword.Match, float, float]] = []
        with reading(engine) as conn:
            for match in MODES:
                tr = evaluate(conn, queries, train, to_beir, match=match)
                te = evaluate(conn, queries, test, to_beir, match=match)
                rows.append((match, tr.ndcg, te.ndcg))
            best = max(rows, key=lambda r: r[1])
            print(f"\n{'match':<5} {'train':>7} {'test':>7}")
            for match, tr_ndcg, te_ndcg in sorted(rows, key=lambda r: -r[1]):
                mark = "  <- best on train" if match == best[0] else ""
                print(f"{match:<5} {tr_ndcg:>7.4f} {te_ndcg:>7.4f}{mark}")
            dflt = evaluate(conn, queries, test, to_beir, match=keyword.DEFAULT_MATCH, limit=50)
            print(f"\nchosen on train: match={best[0]} → test nDCG@{K} {best[2]:.4f} (BM25 reference 0.686)")
            print(
                f"current default {keyword.DEFAULT_MATCH}: test nDCG@{K} {dflt.ndcg:.4f};"
                f" one query (limit 50) median {ms(dflt.seconds, 50):.2f} ms,"
                f" p95 {ms(dflt.seconds, 95):.2f} ms over {len(dflt.seconds)} queries"
            )
        if ns.variants:
            variants(engine, papers, queries, {"train": train, "test": test}, to_beir)
        engine.dispose()

        if ns.arxiv:
            engine = fresh_db(Path(tmp), "arxiv.db")
            t0 = time.perf_counter()
            report = run_ingest(engine=engine, source=make_source("jsonl", path=ns.data / LISTING))
            print(f"\nstored {report.added:,} arXiv papers in {time.perf_counter() - t0:.1f}s")
            with reading(engine) as conn:
                texts = list(queries.values())
                for match in MODES:
                    seconds = []
                    for text in texts:
                        t1 = time.perf_counter()
                        keyword.search(conn=conn, query=text, limit=50, match=match)
                        seconds.append(time.perf_counter() - t1)
                    print(
                        f"arXiv listing, {match}: one query (limit 50) median {ms(seconds, 50):.2f} ms,"
                        f" p95 {ms(seconds, 95):.2f} ms over {len(texts)} SciFact claims"
                    )
            engine.dispose()


if __name__ == "__main__":
    main()
