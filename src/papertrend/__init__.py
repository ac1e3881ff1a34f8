"""Papertrend: keep up with research papers — ingest, search, trending, daily email."""

__version__ = "0.1.0"
