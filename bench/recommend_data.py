"""The corpus of bench/recommend.py (issue #13): the arXiv listing file and the Hugging Face archive,
read into arrays once, with embedding vectors cached on disk per model.

    .venv/bin/python bench/recommend_data.py [--data DIR] [--model wordllama|minilm] [--device cpu|cuda]

embeds (or checks the cache of) every paper, so the bench itself starts in seconds.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import orjson

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
LISTING = "arxiv_metadata/arxiv_cs_listings_2025-03-18_to_2026-07-01.jsonl.gz"
HF_FLAT = "hf_daily_papers/papers_flat.jsonl.gz"
# Embedded vectors, one .npy per model and corpus; BENCH_RECOMMEND_CACHE puts them elsewhere (a shared
# cache folder: wordllama takes minutes over the 80k papers, minilm about 2 hours on 2 cores).
CACHE = Path(os.environ.get("BENCH_RECOMMEND_CACHE", ROOT / "var" / "bench" / "recommend"))


@dataclass
class Corpus:
    """Every paper of both files, one row each (ids unique; the listing's record wins)."""

    ids: list[str]
    titles: list[str]
    abstracts: list[str]
    authors: list[list[str]]
    categories: list[list[str]]
    days: np.ndarray  # ordinal of the listing day (HF: the daily-page day)
    hf_keywords: dict[int, list[str]]  # row → ai_keywords, for HF papers that have them
    hf_day: dict[int, int]  # row → ordinal of its HF daily-page day
    comments: list[str]  # the arXiv comment ("" for none and for Hugging Face-only papers)

    def texts(self) -> list[str]:
        from papertrend.search.embedder import document_text

        return [document_text(t, a) for t, a in zip(self.titles, self.abstracts, strict=True)]


def load(data: Path) -> Corpus:
    """Read both files (a few seconds)."""
    ids: list[str] = []
    titles: list[str] = []
    abstracts: list[str] = []
    authors: list[list[str]] = []
    cats: list[list[str]] = []
    days: list[int] = []
    comments: list[str] = []
    row_of: dict[str, int] = {}
    with gzip.open(data / LISTING, "rb") as fh:
        for line in fh:
            rec = orjson.loads(line)
            row_of[rec["id"]] = len(ids)
            ids.append(rec["id"])
            titles.append(" ".join(rec["title"].split()))
            abstracts.append(" ".join(rec["abstract"].split()))
            authors.append(list(rec.get("authors") or []))
            cats.append(list(rec.get("categories") or []))
            days.append(date.fromisoformat(rec["first_listed"]).toordinal())
            comments.append(" ".join((rec.get("comment") or "").split()))
    keywords: dict[int, list[str]] = {}
    hf_day: dict[int, int] = {}
    with gzip.open(data / HF_FLAT, "rb") as fh:
        for line in fh:
            rec = orjson.loads(line)
            row = row_of.get(rec["id"])
            if row is None:
                row = row_of[rec["id"]] = len(ids)
                ids.append(rec["id"])
                titles.append(" ".join(rec["title"].split()))
                abstracts.append(" ".join((rec.get("summary") or "").split()))
                authors.append(list(rec.get("authors") or []))
                cats.append([])
                days.append(date.fromisoformat(rec["date"]).toordinal())
                comments.append("")
            hf_day.setdefault(row, date.fromisoformat(rec["date"]).toordinal())
            if rec.get("ai_keywords"):
                keywords[row] = [str(k) for k in rec["ai_keywords"]]
    return Corpus(ids, titles, abstracts, authors, cats, np.asarray(days), keywords, hf_day, comments)


def vectors(corpus: Corpus, *, model: str, device: str = "cpu") -> np.ndarray:
    """Unit vectors of every paper under `model`, from the cache or embedded now (and cached)."""
    from papertrend.search.embedder import get_embedder

    texts = corpus.texts()
    digest = hashlib.sha256("\n".join(corpus.ids).encode()).hexdigest()[:12]
    path = CACHE / f"{model}-{digest}.npy"
    if path.exists():
        return np.load(path)
    CACHE.mkdir(parents=True, exist_ok=True)
    embedder = get_embedder(model, device=device)
    t0 = time.perf_counter()
    out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    step = 2048
    for start in range(0, len(texts), step):
        out[start : start + step] = embedder.embed(texts[start : start + step])
        print(
            f"  embedded {min(start + step, len(texts)):,}/{len(texts):,} ({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
    np.save(path, out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--model", default="wordllama")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    corpus = load(args.data)
    print(f"{len(corpus.ids):,} papers, {len(corpus.hf_keywords):,} with ai_keywords")
    vecs = vectors(corpus, model=args.model, device=args.device)
    print(f"vectors {vecs.shape} ({args.model})")


if __name__ == "__main__":
    main()
