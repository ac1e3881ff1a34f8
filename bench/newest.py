"""Newest first that still means relevant (#14): typed topic searches sorted by date, on the 85k store.

    BENCH_RECOMMEND_CACHE=DIR .venv/bin/python bench/newest.py [--data DIR] [--model NAME]
                                                               [--modes hybrid,keyword]

Runs the real Searcher over bench/latency.py's 85k store (the arXiv listing file plus the Hugging Face
archive, embedded with `--model`; built once under var/bench/, from bench/recommend_data.py's cached
vectors when `BENCH_RECOMMEND_CACHE` holds them). For each query below, sorted by date, it judges the
10 newest results on topic by a pattern over title and abstract that names the topic (a lower bound:
a paper can be on topic in words the pattern lacks), twice:
- before: the date sort keeps the candidates above the relevance floor (search/service.py's
  `RELEVANCE_FLOOR`, calibrated on SciFact's claims);
- now: the candidates holding every word of the query when at least `EVERY_WORD_MIN` of them do,
  else the floor (`service.relevant`).
The first four queries are the issue's examples with its filters. Nothing here was tuned on these
queries; they are split by rank (even / odd) only to show how much the share moves between sets.
It ends with one line: `newest_on_topic_before=… newest_on_topic_now=… examples_now=…` (hybrid).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchdata import HF_DAYS, LISTING, add_data_option, data_dir
from latency import build
from papertrend.db import create_engine, reading
from papertrend.papers import repository
from papertrend.search import keyword, service
from papertrend.search.embedder import DEFAULT_MODEL, get_embedder
from papertrend.types import Filters, Mode

D = date.fromisoformat
LLM = r"(LLM|language model)"


def both(a: str, b: str) -> str:
    """A pattern for a text naming both, in either order."""
    return f"({a}).*({b})|({b}).*({a})"


MOE = both(r"mixture[- ]of[- ]experts|\bMoE", r"\brout")


# (query, what "on topic" means, filters)
QUERIES: list[tuple[str, str, Filters]] = [
    (
        "mixture of experts routing",
        MOE,
        Filters(categories=("cs.CL",), since=D("2025-06-01"), until=D("2026-06-30")),
    ),
    ("LLM agents that simulate human behaviour", r"agent.*(simulat|human behavio)", Filters()),
    (
        "speculative decoding draft model",
        r"speculative decoding",
        Filters(categories=("cs.CL",), since=D("2025-09-01")),
    ),
    ("test-time scaling reasoning", r"test[- ]time (scal|comput)", Filters(categories=("cs.AI",))),
    ("mixture of experts routing", MOE, Filters()),
    (
        "reinforcement learning from human feedback",
        r"\bRLHF\b|reinforcement learning (from|with) human feedback|human (preference|feedback)",
        Filters(),
    ),
    (
        "protein structure prediction",
        r"protein.{0,40}structur|structur.{0,40}protein|AlphaFold|protein folding",
        Filters(),
    ),
    (
        "kv cache compression",
        both(r"\bKV[- ]?cache", "compress|evict|prun|quantiz|merg|budget"),
        Filters(),
    ),
    (
        "diffusion models for video generation",
        r"video.{0,60}(diffusion|generat)|(diffusion|generat).{0,60}video",
        Filters(),
    ),
    (
        "graph neural networks for molecules",
        both(r"graph neural|\bGNN", "molecul|chemi|drug"),
        Filters(),
    ),
    (
        "retrieval augmented generation hallucination",
        both(r"retrieval[- ]augmented|\bRAG\b", "hallucinat"),
        Filters(),
    ),
    ("federated learning privacy", both("federated", "privacy|private"), Filters()),
    (
        "vision language model hallucination",
        both(r"vision[- ]language|multimodal|\bLVLM|\bVLM|\bMLLM", "hallucinat"),
        Filters(),
    ),
    (
        "code generation benchmark",
        r"code generation.*benchmark|benchmark.*code generation|(coding|code).{0,30}benchmark",
        Filters(),
    ),
    ("sparse autoencoders interpretability", r"sparse auto-?encoder|\bSAEs?\b", Filters()),
    ("quantization of large language models", both("quantiz", LLM), Filters()),
    (
        "autonomous driving trajectory prediction",
        both("autonomous driving|driving|vehicle", "trajector"),
        Filters(),
    ),
    (
        "speech recognition low resource languages",
        both(r"speech recognition|\bASR\b", r"low[- ]resource|under-?resourced"),
        Filters(),
    ),
    ("machine unlearning", r"unlearn", Filters()),
    (
        "time series forecasting transformer",
        both(r"time[- ]series|forecast", "transformer"),
        Filters(),
    ),
    ("jailbreak attacks on LLMs", r"jailbreak", Filters()),
    ("3D gaussian splatting", r"gaussian splatting|\b3DGS\b", Filters()),
    (
        "chain of thought faithfulness",
        both(r"chain[- ]of[- ]thought|\bCoT\b|reasoning", "faithful"),
        Filters(),
    ),
    (
        "world models for robotics",
        both("world model", "robot|manipulat|embodied"),
        Filters(),
    ),
    ("in-context learning in transformers", r"in[- ]context learning", Filters()),
    (
        "agents for software engineering",
        r"(agent|agentic).*(software engineering|SWE|code|coding|repositor|program)"
        r"|(software engineering|SWE-bench|coding).*agent",
        Filters(),
    ),
    ("long context language models", r"long[- ]context", Filters()),
    ("evaluation of machine translation", r"machine translation|\bMT\b.*(evaluat|metric)", Filters()),
    (
        "privacy attacks on language models",
        both("privacy|membership inference|extraction|leak", LLM),
        Filters(),
    ),
    (
        "reward models for reasoning",
        r"reward model.*(reason|math)|(reason|math).*reward model|process reward|\bPRMs?\b",
        Filters(),
    ),
    (
        "tokenization for multilingual models",
        both(r"tokeni[sz]", "multilingual|languages|cross-lingual"),
        Filters(),
    ),
    (
        "detection of AI generated text",
        r"(detect|identif).{0,60}(AI[- ]generated|machine[- ]generated|LLM[- ]generated|synthetic) text"
        r"|(AI[- ]generated|machine[- ]generated|LLM[- ]generated) text.{0,80}detect",
        Filters(),
    ),
    ("curriculum learning for reinforcement learning", r"curricul", Filters()),
    (
        "uncertainty estimation in large language models",
        rf"uncertaint.*{LLM}|{LLM}.*uncertaint|calibrat.*{LLM}",
        Filters(),
    ),
    ("knowledge distillation from large to small models", r"distill", Filters()),
    (
        "model merging",
        r"model merg|merging (models|LLMs|weights)|merg(e|ing) .{0,30}(fine-tuned|expert|task) models",
        Filters(),
    ),
    ("text to SQL with LLMs", r"text[- ]to[- ]SQL|NL2SQL", Filters()),
    ("multi-agent debate", r"debat", Filters()),
    ("hallucination detection", r"hallucinat.{0,80}detect|detect.{0,80}hallucinat", Filters()),
    ("data contamination in benchmarks", r"contaminat", Filters()),
]
EXAMPLES = 4


def newest_on_topic(searcher: service.Searcher, mode: Mode, query: str, topic: str, filters: Filters) -> int:
    """How many of the 10 newest results are on topic."""
    hits = searcher.search(query=query, mode=mode, limit=10, filters=filters, sort="date")
    with reading(searcher.engine) as conn:
        papers = repository.get_many(conn=conn, paper_ids=[h.paper_id for h in hits])
    return sum(bool(re.search(topic, f"{p.title} {p.abstract}", re.I | re.S)) for p in papers)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_data_option(parser)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--modes", default="hybrid,keyword")
    args = parser.parse_args()
    data_dir(args.data, LISTING, HF_DAYS)
    embedder = get_embedder(args.model)
    folder = build("85k", args.model, embedder.dim)
    engine = create_engine(f"sqlite:///{folder / 'bench.db'}")
    keyword.open_index(engine=engine, data_dir=folder).sync(engine=engine)
    searcher = service.Searcher(engine=engine, embedder=embedder, index_dir=folder / "index")
    rule = service.EVERY_WORD_MIN
    summary: dict[str, tuple[list[int], list[int]]] = {}
    for mode in args.modes.split(","):
        print(f"\n{mode}: of the 10 newest, on topic (before / now)")
        before, now = [], []
        for query, topic, filters in QUERIES:
            service.EVERY_WORD_MIN = 10**9  # the floor alone, as before
            before.append(newest_on_topic(searcher, mode, query, topic, filters))  # type: ignore[arg-type]
            service.EVERY_WORD_MIN = rule
            now.append(newest_on_topic(searcher, mode, query, topic, filters))  # type: ignore[arg-type]
            where = "" if filters.empty else " (with the issue's filters)"
            print(f"  {before[-1]:2d} / {now[-1]:2d}  {query}{where}", flush=True)
        for name, part in (("even", slice(0, None, 2)), ("odd", slice(1, None, 2)), ("all", slice(None))):
            b, n = statistics.mean(before[part]) / 10, statistics.mean(now[part]) / 10
            print(f"  {name:4} queries: before {b:.3f}, now {n:.3f}")
        summary[mode] = before, now
    before, now = summary.get("hybrid", next(iter(summary.values())))
    print(
        f"newest_on_topic_before={statistics.mean(before) / 10:.3f} "
        f"newest_on_topic_now={statistics.mean(now) / 10:.3f} "
        f"examples_now={'/'.join(str(n) for n in now[:EXAMPLES])}"
    )


if __name__ == "__main__":
    main()
