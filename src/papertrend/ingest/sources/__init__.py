"""Built-in sources; importing this package registers them by name."""

from papertrend.ingest.sources import arxiv_api, arxiv_oai, arxiv_rss, hf_daily, jsonl

__all__ = ["arxiv_api", "arxiv_oai", "arxiv_rss", "hf_daily", "jsonl"]
