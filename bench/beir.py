"""BEIR data sets as Papertrend stores, and the standard metrics (shared by the bench scripts).

BEIR documents get synthetic but valid arXiv ids (the store keys papers by arXiv id); `BeirStore`
keeps the mapping back to BEIR ids for scoring.
"""

from __future__ import annotations

import json
import math
import secrets
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from papertrend.db import create_engine
from papertrend.ingest.base import Cursor, Parsed, RawBatch
from papertrend.ingest.pipeline import run_ingest
from papertrend.migrate import upgrade
from papertrend.papers.models import PaperIn
from papertrend.search import keyword
from papertrend.search.embedder import Embedder, Vectors


def synthetic_id(i: int) -> str:
    """A valid new-style arXiv id for the i-th document (YYMM.NNNNN, months 01–12)."""
    block, num = divmod(i, 99_999)
    year, month = divmod(block, 12)
    return f"{(10 + year) % 100:02d}{month + 1:02d}.{num + 1:05d}"


@dataclass
class Beir:
    corpus: list[tuple[str, str, str]]  # (beir id, title, text)
    queries: dict[str, str]
    qrels: dict[str, dict[str, dict[str, int]]]  # split → query id → doc id → grade


def load_beir(path: Path) -> Beir:
    """Read a BEIR folder: corpus.jsonl, queries.jsonl, qrels/{train,test}.tsv."""
    corpus = []
    with (path / "corpus.jsonl").open() as fh:
        for line in fh:
            d = json.loads(line)
            corpus.append((str(d["_id"]), d.get("title") or "", d.get("text") or ""))
    with (path / "queries.jsonl").open() as fh:
        queries = {str(d["_id"]): d["text"] for d in map(json.loads, fh)}
    qrels: dict[str, dict[str, dict[str, int]]] = {}
    for split_file in sorted((path / "qrels").glob("*.tsv")):
        split: dict[str, dict[str, int]] = {}
        for n, line in enumerate(split_file.read_text().splitlines()):
            parts = line.split("\t")
            if n == 0 and not parts[-1].strip().lstrip("-").isdigit():
                continue  # header
            qid, did, grade = parts[0], parts[1], int(parts[2])
            split.setdefault(qid, {})[did] = grade
        qrels[split_file.stem] = split
    return Beir(corpus, queries, qrels)


class BeirSource:
    """A Source over an in-memory BEIR corpus, so the bench stores it through the real pipeline."""

    name = "beir"
    forget_cursor_when_done = True

    def __init__(self, corpus: Sequence[tuple[str, str, str]], batch: int = 2000) -> None:
        self.corpus = corpus
        self.batch = batch

    def cursor_key(self) -> str:
        return "beir"

    def fetch(self, cursor: Cursor | None) -> Iterator[RawBatch]:
        for start in range(0, len(self.corpus), self.batch):
            yield RawBatch((start, self.corpus[start : start + self.batch]), "beir", None)

    def parse(self, raw: RawBatch) -> Parsed:
        start, docs = raw.payload
        return Parsed(
            papers=[
                PaperIn(id=synthetic_id(start + i), title=title or text[:80], abstract=text, source="beir")
                for i, (_, title, text) in enumerate(docs)
            ]
        )


@dataclass
class BeirStore:
    engine: Engine
    data_dir: Path
    to_beir: dict[str, str]  # paper id → BEIR doc id


def build_store(beir: Beir, *, root: Path | None = None, database_url: str | None = None) -> BeirStore:
    """A fresh, migrated store holding the BEIR corpus."""
    data_dir = Path(tempfile.mkdtemp(prefix="beir-", dir=root))
    engine = create_engine(database_url or f"sqlite:///{data_dir / 'beir.db'}")
    upgrade(engine)
    keyword.open_index(engine=engine, data_dir=data_dir)  # its keyword index beside it, not in ./var
    report = run_ingest(engine=engine, source=BeirSource(beir.corpus))
    assert report.ok, report.summary()
    to_beir = {synthetic_id(i): doc_id for i, (doc_id, _, _) in enumerate(beir.corpus)}
    return BeirStore(engine, data_dir, to_beir)


class CachingEmbedder:
    """An embedder that remembers each text's vector, so a second store of the same corpus is not
    embedded again (and gets bit-identical vectors)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self._cache: dict[str, np.ndarray] = {}

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed(self, texts: Sequence[str]) -> Vectors:
        todo = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if todo:
            self._cache.update(zip(todo, self.inner.embed(todo), strict=True))
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts]).astype(np.float32)


@contextmanager
def scratch_database(server_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on the server of `server_url`, dropped afterwards."""
    name = f"papertrend_bench_{secrets.token_hex(4)}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def ndcg_at(ranked: Sequence[str], relevant: Mapping[str, int], k: int = 10) -> float:
    """nDCG@k as BEIR computes it (trec_eval): gain = grade, discount log2(rank + 1)."""
    dcg = sum(relevant.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at(ranked: Sequence[str], relevant: Mapping[str, int], k: int = 100) -> float:
    """Share of the relevant documents found in the top k."""
    wanted = {d for d, g in relevant.items() if g > 0}
    return len(wanted & set(ranked[:k])) / len(wanted) if wanted else 0.0
