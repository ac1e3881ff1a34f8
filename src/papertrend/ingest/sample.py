"""The bundled sample (issue #11): real papers for a new install, without the network.

Two weeks of Hugging Face Daily Papers, 2026-08-10 → 2026-08-21: 212 papers (214 listings) on 10 days, with
their upvotes, comments, code links and AI keywords, as the API returned them (231 kB gzip). It is a slice
of the archive collected by github.com/2404589803/hf-daily-paper-newsletter-chinese (repository
Apache-2.0; Hugging Face's terms apply to the data), in that archive's one-line-per-day format, so it
loads through the hf-daily source's `from_file` path like any saved archive. `papertrend ingest
sample` loads and embeds it; the home page and the startup log of an empty store point there.
"""

from __future__ import annotations

from datetime import date
from importlib import resources
from pathlib import Path

from papertrend.ingest.sources.hf_daily import HfDailySource

SAMPLE_FILE = "hf_daily_papers_2026-08-10_to_2026-08-21.jsonl.gz"
SAMPLE_PAPERS = 212
SAMPLE_LAST_DAY = date(2026, 8, 21)


def sample_path() -> Path:
    """Where the installed package keeps the sample file."""
    return Path(str(resources.files("papertrend.ingest") / "data" / SAMPLE_FILE))


def sample_source() -> HfDailySource:
    """The sample as a Hugging Face daily source reading a saved archive."""
    return HfDailySource(from_file=sample_path())


def next_steps() -> str:
    """What to try once the sample is stored: its days are in the past, so the digest is asked for then."""
    after = SAMPLE_LAST_DAY.isoformat()
    return (
        "Sample loaded. Try:\n"
        '  papertrend search "reinforcement learning for reasoning" --mode keyword\n'
        '  papertrend search "agents that use tools" --mode semantic\n'
        "  papertrend serve   (then open http://127.0.0.1:8000/)\n"
        f"  papertrend digest preview EMAIL --now {after}T08:00   (after subscribing EMAIL on /subscribe)"
    )
