"""Embedding on a GPU (issue #15): papers/s of the default model on `--device cuda`, the model alone
and end to end through `papertrend embed`'s shared-work loop, in under five minutes.

    .venv/bin/python bench/embed_gpu.py [--data DIR] [--papers 20000] [--model minilm]
        [--device cuda] [--sweep] [--seconds 60]

Needs onnxruntime with CUDA: on the GPU machine, `.venv/bin/pip uninstall -y onnxruntime &&
.venv/bin/pip install 'onnxruntime-gpu>=1.31,<2'` (CUDA 12 and cuDNN 9 libraries on the machine).
Without them it stops at once and says so. `--device cpu --papers 500` runs the same steps here.

Steps, each cut off after `--seconds`:
1. the model alone over the first N papers of the arXiv listing file (title + abstract, as stored),
   after a warm-up batch; with `--sweep`, also at other batch sizes (texts and padded tokens a call);
2. end to end: the N papers ingested into a fresh SQLite store, then `embed_missing` (claim a batch,
   embed it on the model's thread while the last one is stored) with 4,096 papers a claim.
Prints a table and ends with one line:
`device=… model=… papers=… model_per_s=… end_to_end_per_s=… best_batch_texts=… best_batch_tokens=…`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchdata import LISTING, add_data_option, data_dir
from papertrend.db import create_engine
from papertrend.ingest.pipeline import run_ingest
from papertrend.ingest.sources.jsonl import JsonlSource
from papertrend.migrate import upgrade
from papertrend.search.embed_job import GPU_CLAIM, embed_missing
from papertrend.search.embedder import Embedder, document_text, get_embedder
from papertrend.search.minilm import OnnxBertEmbedder

# (texts, padded tokens) a call tried by --sweep around the default (search/minilm.py GPU_BATCH_*).
SWEEP = [(256, 32_768), (1024, 131_072), (4096, 524_288)]


def _texts(listing: Path, n: int) -> list[str]:
    with gzip.open(listing, "rt") as src:
        rows = [json.loads(line) for line in islice(src, n)]
    return [document_text(r.get("title") or "", r.get("abstract") or "") for r in rows]


def _model_rate(embedder: Embedder, texts: list[str], seconds: float) -> tuple[int, float]:
    """Papers embedded and papers/s, in chunks of 8,192 texts until the time is up."""
    done, t0 = 0, time.perf_counter()
    for start in range(0, len(texts), 8192):
        embedder.embed(texts[start : start + 8192])
        done = min(len(texts), start + 8192)
        if time.perf_counter() - t0 > seconds:
            break
    return done, done / (time.perf_counter() - t0)


def _end_to_end(embedder: Embedder, listing: Path, n: int) -> tuple[int, float]:
    with tempfile.TemporaryDirectory(prefix="embed-gpu-") as work:
        sample = Path(work) / "sample.jsonl"
        with gzip.open(listing, "rt") as src, sample.open("w") as out:
            out.writelines(islice(src, n))
        engine = create_engine(f"sqlite:///{work}/store.db")
        upgrade(engine)
        run_ingest(engine=engine, source=JsonlSource(path=sample))
        report = embed_missing(engine=engine, embedder=embedder, batch_size=GPU_CLAIM)
        engine.dispose()
    return report.embedded, report.docs_per_second


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_data_option(parser)
    parser.add_argument("--papers", type=int, default=20_000)
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--sweep", action="store_true", help="also try other batch sizes")
    parser.add_argument("--seconds", type=float, default=60.0, help="cut-off of each step")
    args = parser.parse_args()
    listing = data_dir(args.data, LISTING) / LISTING
    try:
        embedder = get_embedder(args.model, device=args.device)
    except (RuntimeError, ValueError) as exc:
        sys.exit(f"embed_gpu: {exc}")
    texts = _texts(listing, args.papers)
    embedder.embed(texts[:512])  # warm-up: CUDA context, kernels, allocator
    rows: list[tuple[str, int, int, int, float]] = []
    sizes = SWEEP if args.sweep else []
    bert = embedder if isinstance(embedder, OnnxBertEmbedder) else None  # only it has batch sizes
    default = (bert.batch_texts, bert.batch_tokens) if bert else (0, 0)
    best = (0.0, *default)
    for batch_texts, batch_tokens in [default, *[s for s in sizes if s != default]]:
        if bert:
            bert.batch_texts, bert.batch_tokens = batch_texts, batch_tokens
        done, rate = _model_rate(embedder, texts, args.seconds)
        rows.append(("model alone", batch_texts, batch_tokens, done, rate))
        best = max(best, (rate, batch_texts, batch_tokens))
    _, best_texts, best_tokens = best
    if bert:
        bert.batch_texts, bert.batch_tokens = best_texts, best_tokens
    # As many papers as the model alone embeds in `seconds`, so the step ends in about that time.
    e2e_papers = min(args.papers, max(GPU_CLAIM, int(best[0] * args.seconds)))
    e2e_done, e2e_rate = _end_to_end(embedder, listing, e2e_papers)
    rows.append(("end to end (SQLite)", best_texts, best_tokens, e2e_done, e2e_rate))
    print(f"{'step':<22} {'texts/call':>10} {'tokens/call':>11} {'papers':>8} {'papers/s':>10}")
    for step, bt, bk, done, rate in rows:
        print(f"{step:<22} {bt:>10} {bk:>11} {done:>8} {rate:>10,.1f}")
    print(
        f"device={args.device} model={embedder.name} papers={args.papers} model_per_s={best[0]:.1f} "
        f"end_to_end_per_s={e2e_rate:.1f} best_batch_texts={best_texts} best_batch_tokens={best_tokens}"
    )


if __name__ == "__main__":
    main()
