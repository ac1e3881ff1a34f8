"""Where the benchmarks' data sets are (issue #11): `--data DIR`, by default ../shared/data beside the
checkout when that exists. The test suite never reads these; it carries what it needs in tests/fixtures.

Each set and its public source (docs/benchmarks.md says more):
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

LISTING = "arxiv_metadata/arxiv_cs_listings_2025-03-18_to_2026-07-01.jsonl.gz"
HF_DAYS = "hf_daily_papers/daily_papers_by_day.jsonl.gz"
SCIFACT = "scifact_beir"
SOURCES = {
    LISTING: "74,728 arXiv cs.CV/CL/AI papers listed 2025-03-18 → 2026-07-01, one JSON line each, from the "
    "daily listing scrapes in github.com/dw-dengwei/daily-arXiv-ai-enhanced (branch `data`, "
    "data/YYYY-MM-DD.jsonl; summary→abstract, abs→abs_url); arXiv metadata, CC0",
    HF_DAYS: "580 days of huggingface.co/api/daily_papers, 2024-05-27 → 2026-08-21, one line per day "
    '{"date", "normalized_from_nonjson", "papers"}, from github.com/2404589803/'
    "hf-daily-paper-newsletter-chinese (Paper_metadata_download/); Hugging Face's terms apply",
    SCIFACT: "BEIR SciFact: corpus.jsonl (5,183 abstracts), queries.jsonl, qrels/{train,test}.tsv "
    "(github.com/beir-cellar/beir; SciFact by AllenAI, CC BY-NC 2.0)",
}
DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data"
__doc__ = (__doc__ or "") + "".join(f"\n- {name}: {source}" for name, source in SOURCES.items())

_chosen: list[Path] = []


def add_data_option(parser: argparse.ArgumentParser) -> None:
    """The `--data DIR` option every benchmark takes."""
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        metavar="DIR",
        help=f"folder holding the data sets (default: {DEFAULT}, when it exists)",
    )


def data_dir(given: Path | None, *needs: str) -> Path:
    """The data folder, checked to hold `needs`; exits naming what is missing and where it comes from."""
    folder = given if given is not None else DEFAULT
    missing = [name for name in needs if not (folder / name).exists()]
    if missing:
        where = "--data" if given is not None else f"the default data folder (no --data given): {DEFAULT}"
        lines = [f"bench: {where} lacks what this benchmark reads:"]
        lines += [f"  {folder / name}\n    {SOURCES.get(name, '')}" for name in missing]
        lines.append("Pass --data DIR, the folder that holds them (docs/benchmarks.md).")
        sys.exit("\n".join(lines))
    _chosen[:] = [folder]
    return folder


def data_file(name: str) -> Path:
    """`name` in the folder `data_dir` chose (the default folder before it is called)."""
    return (_chosen[0] if _chosen else DEFAULT) / name
