"""One Settings object, read from PAPERTREND_* environment variables.

Every field is documented in the README's settings table; tests/unit/test_config.py checks that the
table and this class agree, so a setting cannot be added without its documentation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-insecure-secret-change-me"


class Settings(BaseSettings):
    """Runtime configuration; `Settings()` reads the environment."""

    model_config = SettingsConfigDict(env_prefix="PAPERTREND_", extra="ignore")

    env: Literal["development", "production", "test"] = Field(
        default="development",
        description="`development`, `test` or `production`; production refuses the default secret.",
    )
    database_url: str = Field(
        default="sqlite:///./var/papertrend.db",
        description="SQLAlchemy URL of the database: `sqlite:///path` or `postgresql+psycopg://…`.",
    )
    data_dir: Path = Field(
        default=Path("./var"),
        description="Directory for local state: the SQLite file, derived indexes, the local mailbox.",
    )
    base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Public URL of the service, used in links, feeds and mail.",
    )
    secret_key: str = Field(
        default=DEV_SECRET,
        description="Signs tokens and cookies. Must be set (≥ 32 characters) outside development.",
    )
    mail_url: str = Field(
        default="",
        description="Where mail goes: `smtp://…`, `smtps://…`, `maildir:///path` or `console://`; unset, a"
        " Maildir in `PAPERTREND_DATA_DIR`/mail.",
    )
    contact_email: str = Field(
        default="",
        description="Operator address put in the User-Agent sent to arXiv and Hugging Face.",
    )
    http_timeout: float = Field(
        default=30.0, gt=0, description="Seconds before an upstream request times out."
    )
    http_retries: int = Field(
        default=4, ge=0, description="Retries of an upstream request after a timeout, 429 or 5xx."
    )
    arxiv_api_interval: float = Field(
        default=3.0,
        ge=0,
        description="Seconds between requests to arXiv's export API and OAI-PMH (arXiv asks for 3).",
    )
    embedding_model: str = Field(
        default="minilm",
        description="Embedding model for semantic search (see docs/search.md for the choices).",
    )
    embedding_device: Literal["cpu", "cuda"] = Field(
        default="cpu", description="Where embeddings are computed: `cpu` or `cuda`."
    )
    ann_threshold: int = Field(
        default=50_000,
        ge=0,
        description="Vectors per model past which search uses the on-disk HNSW index, not exact search.",
    )
    trending_gravity: float = Field(
        default=1.8,
        ge=0,
        description="How fast age outweighs votes in the trending score; higher favours newer papers.",
    )
    trending_offset_hours: float = Field(
        default=2.0,
        gt=0,
        description="Hours added to a paper's age in the trending score, so a new paper's score is finite.",
    )
    log_json: bool = Field(default=False, description="Log one JSON object per line instead of plain text.")
    ingest_interval_minutes: int = Field(
        default=60, ge=1, description="How often the worker fetches new papers from the sources."
    )
    job_lease_seconds: float = Field(
        default=120.0,
        ge=5,
        description="How long a worker's hold on a periodic job lasts without renewal; a dead worker's "
        "job is taken over after this.",
    )
    rss_categories: list[str] = Field(
        default=["cs.AI", "cs.CL", "cs.CV", "cs.LG"],
        description="arXiv categories whose daily RSS feeds the worker reads (a JSON list).",
    )
    mail_from: str = Field(
        default="Papertrend <papertrend@localhost>",
        description="From header and envelope sender; its domain names Message-IDs and List-Id.",
    )
    mail_rate: float = Field(
        default=100.0, ge=0, description="Messages per second, all senders together; 0 = no limit."
    )
    mail_concurrency: int = Field(default=2, ge=1, description="SMTP connections sending at once.")
    mail_timeout: float = Field(default=30.0, gt=0, description="Seconds before an SMTP operation times out.")
    mail_max_attempts: int = Field(
        default=8, ge=1, description="Tries after 4xx replies or timeouts before an edition is `failed`."
    )
    mail_bounce_after: int = Field(
        default=2, ge=1, description="5xx recipient rejections before an address is `bounced` and suppressed."
    )
    mail_retry_seconds: float = Field(
        default=300.0, gt=0, description="First retry delay; doubles with each attempt, at most 6 hours."
    )
    mail_lease_seconds: float = Field(
        default=600.0,
        gt=0,
        description="How long a sender holds claimed editions before another run may settle them.",
    )
    web_threads: int = Field(
        default=12,
        ge=1,
        le=32,
        description="Requests a web process works on at once; more wait their turn without holding"
        " database connections (each may take three: the PostgreSQL pool allows 40).",
    )
    page_cache_seconds: float = Field(
        default=10.0,
        ge=0,
        description="How long a web process keeps a page it rendered for visitors who are not signed in"
        " (0: off). Signed-in readers and this process's own writes always see fresh pages.",
    )
    digest_interval_minutes: int = Field(
        default=5, ge=1, description="How often the worker runs `digest run`."
    )
    digest_trending: int = Field(default=10, ge=1, description="Papers in a digest's Trending section.")
    digest_for_you: int = Field(default=8, ge=0, description="Papers in a digest's For you section.")
    subscribe_per_ip_per_hour: int = Field(
        default=20, ge=1, description="Subscribe attempts per client IP per hour."
    )
    subscribe_per_address_per_hour: int = Field(
        default=3, ge=1, description="Subscribe attempts per email address per hour."
    )
    login_token_minutes: int = Field(
        default=15, ge=1, le=24 * 60, description="Minutes a sign-in link works (once)."
    )
    session_days: int = Field(default=30, ge=1, description="Days a sign-in lasts before signing in again.")
    login_per_ip_per_hour: int = Field(
        default=20, ge=1, description="Sign-in mails asked for per client IP per hour."
    )
    login_per_address_per_hour: int = Field(
        default=5, ge=1, description="Sign-in mails sent to one email address per hour."
    )
    mcp_http: bool = Field(
        default=False,
        description="Serve the MCP paper tools over Streamable HTTP at /mcp (read-only; no sign-in).",
    )
    mcp_per_ip_per_minute: int = Field(
        default=120, ge=1, description="Requests to /mcp per client IP per minute."
    )
    hf_base_url: str = Field(
        default="https://huggingface.co",
        description="Base URL of the Hugging Face API (tests point it at a local server).",
    )
    arxiv_api_url: str = Field(
        default="https://export.arxiv.org/api/query", description="arXiv export API endpoint."
    )
    arxiv_oai_url: str = Field(default="https://oaipmh.arxiv.org/oai", description="arXiv OAI-PMH endpoint.")
    arxiv_rss_url: str = Field(
        default="https://rss.arxiv.org/rss", description="Base URL of arXiv's daily RSS feeds."
    )

    @model_validator(mode="after")
    def _mail_in_the_data_dir(self) -> Settings:
        # The local mailbox is local state like the rest: it was ./var/mail whatever the data
        # directory was, so two installs side by side shared one mailbox (#11).
        if not self.mail_url:
            self.mail_url = f"maildir://{self.data_dir / 'mail'}"
        return self

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        # Fail fast: a production deployment with the well-known dev secret would let anyone forge
        # sign-in and unsubscribe tokens (DESIGN §6.5).
        if self.env == "production" and (self.secret_key == DEV_SECRET or len(self.secret_key) < 32):
            raise ValueError(
                "PAPERTREND_SECRET_KEY must be set to a random value of at least 32 characters in "
                "production (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
            )
        return self

    @property
    def user_agent(self) -> str:
        """The descriptive User-Agent arXiv and Hugging Face ask API clients to send."""
        from papertrend import __version__

        contact = f"; mailto:{self.contact_email}" if self.contact_email else ""
        return f"Papertrend/{__version__} (+{self.base_url}{contact})"
