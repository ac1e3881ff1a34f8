"""The digest's settings take their defaults from `Settings`, defined once there (issue #11)."""

from __future__ import annotations

from dataclasses import fields

from papertrend.config import Settings
from papertrend.digest import DigestSettings
from papertrend.digest.outbox import Policy


def test_every_digest_default_is_the_settings_default() -> None:
    defaults = DigestSettings()
    for f in fields(DigestSettings):
        assert getattr(defaults, f.name) == Settings.model_fields[f.name].default, f.name


def test_the_outbox_policy_defaults_follow_the_settings() -> None:
    assert Policy() == Policy.of(DigestSettings())
