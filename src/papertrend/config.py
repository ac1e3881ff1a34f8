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
        default="maildir://./var/mail",
        description="Where mail goes: `smtp://…`, `smtps://…`, `maildir:///path` or `console://`.",
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
