"""Settings: every field documented in the README table (DESIGN §6.5), and the secret check."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from papertrend.config import DEV_SECRET, Settings
from papertrend.mail.maildir import maildir_path

README = Path(__file__).resolve().parents[2] / "README.md"


def _documented() -> set[str]:
    return set(re.findall(r"^\| `(PAPERTREND_[A-Z_]+)` \|", README.read_text(), flags=re.MULTILINE))


def test_every_setting_is_documented_and_every_documented_one_exists() -> None:
    fields = {f"PAPERTREND_{name.upper()}" for name in Settings.model_fields}
    assert fields == _documented()


def test_defaults_match_the_issue() -> None:
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.database_url == "sqlite:///./var/papertrend.db"
    assert s.data_dir == Path("./var")
    assert s.mail_url == "maildir://var/mail"


def test_the_default_mailbox_is_in_the_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # It was ./var/mail whatever PAPERTREND_DATA_DIR said (#11).
    monkeypatch.delenv("PAPERTREND_MAIL_URL", raising=False)
    monkeypatch.setenv("PAPERTREND_DATA_DIR", str(tmp_path / "data"))
    mail_url = Settings().mail_url
    assert mail_url == f"maildir://{tmp_path}/data/mail"
    assert maildir_path(mail_url) == tmp_path / "data" / "mail"
    monkeypatch.setenv("PAPERTREND_MAIL_URL", "console://")
    assert Settings().mail_url == "console://"


def test_reads_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERTREND_DATABASE_URL", "sqlite:////tmp/x.db")
    monkeypatch.setenv("PAPERTREND_HTTP_RETRIES", "7")
    s = Settings()
    assert s.database_url == "sqlite:////tmp/x.db"
    assert s.http_retries == 7


def test_production_refuses_the_default_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERTREND_ENV", "production")
    monkeypatch.delenv("PAPERTREND_SECRET_KEY", raising=False)
    with pytest.raises(ValidationError, match="PAPERTREND_SECRET_KEY"):
        Settings()
    monkeypatch.setenv("PAPERTREND_SECRET_KEY", "short")
    with pytest.raises(ValidationError):
        Settings()
    monkeypatch.setenv("PAPERTREND_SECRET_KEY", "x" * 40)
    assert Settings().secret_key != DEV_SECRET


def test_user_agent_is_descriptive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERTREND_CONTACT_EMAIL", "ops@example.org")
    ua = Settings().user_agent
    assert ua.startswith("Papertrend/") and "mailto:ops@example.org" in ua
