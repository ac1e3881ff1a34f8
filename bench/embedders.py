"""Compare the embedding models on BEIR SciFact (issue #3): quality, speed, load time, size.

For each model: embed the corpus (title + " " + abstract, as BEIR does) and the test queries, rank
every document by exact cosine, and report nDCG@10 and Recall@100 against qrels/test.tsv, the
corpus embedding rate on this machine, the load time, the dimension and the size of the model files.
Semantic search alone: no BM25, no fusion. This is the table that chose DEFAULT_MODEL and FAST_MODEL.

    .venv/bin/python bench/embedders.py                        # every known model, full corpus
    .venv/bin/python bench/embedders.py --models minilm,minilm@512 --limit-docs 500

`name@N` runs a transformer model with N tokens per text. --limit-docs keeps the first N documents
plus every document relevant to a test query, so the scores stay defined but are easier than the real
task's: compare them only with each other.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parent))
from beir import ndcg_at, recall_at
from benchdata import SCIFACT, add_data_option, data_dir
from papertrend.search.embedder import (
    DEFAULT_MODEL,
    FAST_MODEL,
    document_text,
    get_embedder,
    known_models,
    query_text,
)


@dataclass(frozen=True)
class SciFact:
    doc_ids: list[str]
    docs: list[str]
    query_ids: list[str]
    queries: list[str]
    qrels: dict[str, dict[str, int]]  # query id -> {doc id: grade}


def load_scifact(folder: Path, limit_docs: int | None) -> SciFact:
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    with (folder / "qrels" / "test.tsv").open(encoding="utf-8") as fh:
        next(fh)  # header: query-id corpus-id score
        for line in fh:
            qid, did, grade = line.rstrip("\n").split("\t")
            if int(grade) > 0:
                qrels[qid][did] = int(grade)
    relevant = {did for rel in qrels.values() for did in rel}
    doc_ids, docs = [], []
    with (folder / "corpus.jsonl").open(encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            row = json.loads(line)
            if limit_docs is None or i < limit_docs or row["_id"] in relevant:
                doc_ids.append(row["_id"])
                docs.append(document_text(row.get("title", ""), row.get("text", "")))
    texts = {}
    with (folder / "queries.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            texts[row["_id"]] = row["text"]
    query_ids = sorted(qrels, key=lambda q: (len(q), q))
    return SciFact(doc_ids, docs, query_ids, [query_text(texts[q]) for q in query_ids], dict(qrels))


def evaluate(
    data: SciFact, docs: npt.NDArray[np.float32], queries: npt.NDArray[np.float32]
) -> tuple[float, float]:
    scores = queries @ docs.T
    k = min(100, scores.shape[1])
    ndcg, recall = [], []
    for i, qid in enumerate(data.query_ids):
        top = np.argpartition(-scores[i], k - 1)[:k]
        # Best first; equal scores in document order, so a run is reproducible.
        top = top[np.lexsort((top, -scores[i][top]))]
        ranked = [data.doc_ids[j] for j in top]
        ndcg.append(ndcg_at(ranked, data.qrels[qid], 10))
        recall.append(recall_at(ranked, data.qrels[qid], 100))
    return float(np.mean(ndcg)), float(np.mean(recall))


def size_mb(model: str) -> float:
    return sum(p.stat().st_size for p in known_models()[model].paths() if p.is_file()) / 1e6


def run(spec: str, data: SciFact, threads: int | None, device: str) -> dict[str, str]:
    name, _, length = spec.partition("@")
    t0 = time.perf_counter()
    embedder = get_embedder(name, device=device, threads=threads, max_length=int(length) if length else None)
    embedder.embed(["warm up"])  # first-call allocations belong to loading, not to throughput
    loaded = time.perf_counter() - t0
    t0 = time.perf_counter()
    docs = embedder.embed(data.docs)
    rate = len(data.docs) / (time.perf_counter() - t0)
    queries = embedder.embed(data.queries)
    ndcg, recall = evaluate(data, docs, queries)
    return {
        "model": embedder.name,
        "nDCG@10": f"{ndcg:.4f}",
        "R@100": f"{recall:.4f}",
        "docs/s": f"{rate:,.1f}",
        "load s": f"{loaded:.2f}",
        "dim": str(embedder.dim),
        "MB": f"{size_mb(name):.1f}",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--models", default=",".join(known_models()), help="comma-separated names; name@N sets N tokens"
    )
    parser.add_argument(
        "--limit-docs", type=int, default=None, help="first N documents (+ the relevant ones)"
    )
    add_data_option(parser)
    parser.add_argument("--threads", type=int, default=None, help="onnxruntime threads (default: all cores)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ns = parser.parse_args(argv)
    data = load_scifact(data_dir(ns.data, SCIFACT) / SCIFACT, ns.limit_docs)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"SciFact test: {len(data.docs)} documents, {len(data.queries)} queries; {cores} CPU cores; "
        f"default {DEFAULT_MODEL}, fast {FAST_MODEL}"
    )
    rows = []
    for spec in [m.strip() for m in ns.models.split(",") if m.strip()]:
        try:
            rows.append(run(spec, data, ns.threads, ns.device))
        except (ImportError, ValueError, RuntimeError, OSError) as exc:
            print(f"{spec}: skipped: {exc}", file=sys.stderr)
            continue
        print("  " + "  ".join(f"{k} {v}" for k, v in rows[-1].items()), flush=True)
    if rows:
        cols = list(rows[0])
        widths = [max(len(c), *(len(r[c]) for r in rows)) for c in cols]
        print()
        print("| " + " | ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)) + " |")
        print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        for r in rows:
            print("| " + " | ".join(r[c].rjust(w) for c, w in zip(cols, widths, strict=True)) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
