"""Subscription states, tokens, validation and rate limits (issue #5 items 1 and 2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from papertrend import ratelimit
from papertrend.db import reading, transaction
from papertrend.digest import subscriptions as subs
from papertrend.digest.tables import subscription_tokens, suppressions
from papertrend.errors import BadRequest

NOW = datetime(2026, 6, 20, 10, 0, tzinfo=UTC)


def test_addresses_are_validated_and_normalised() -> None:
    assert subs.normalize_email("  Ada@EXAMPLE.org ") == ("Ada@example.org", "ada@example.org")
    for bad in (
        "",
        "ada",
        "ada@",
        "@example.org",
        "a b@example.org",
        "a@example.org\r\nBcc: x@y.org",
        "x" * 300,
    ):
        with pytest.raises(subs.InvalidEmail):
            subs.normalize_email(bad)


def test_preferences_are_validated() -> None:
    prefs = subs.parse_preferences(
        subs.PreferenceInput(
            topics=["agents\r\n\r\nAgents\nvideo diffusion"],
            include_keywords=["LLM, agent ,"],
            categories=["cs.CL cs.CL,hep-th"],
            cadence="weekly",
            send_hour="7",
            timezone="Asia/Tokyo",
        )
    )
    assert prefs.topics == ("agents", "video diffusion")  # duplicates (any case) dropped
    assert prefs.include_keywords == ("LLM", "agent") and prefs.categories == ("cs.CL", "hep-th")
    assert (prefs.cadence, prefs.send_hour, prefs.timezone) == ("weekly", 7, "Asia/Tokyo")
    for bad in (
        subs.PreferenceInput(topics=["\n".join(f"t{i}" for i in range(6))]),
        subs.PreferenceInput(topics=["x" * 201]),
        subs.PreferenceInput(cadence="hourly"),
        subs.PreferenceInput(send_hour="24"),
        subs.PreferenceInput(send_hour="eight"),
        subs.PreferenceInput(timezone="Nowhere/City"),
        subs.PreferenceInput(timezone="x" * 5000),  # once an OSError (File name too long): a 500
        subs.PreferenceInput(timezone="Europe/" + "a" * 300),
        subs.PreferenceInput(categories=["cs.CL; DROP TABLE"]),
    ):
        with pytest.raises(BadRequest):
            subs.parse_preferences(bad)


def test_states_pending_confirmed_unsubscribed_and_again(engine: Engine) -> None:
    with transaction(engine) as conn:
        first = subs.subscribe(
            conn=conn, email="a@example.org", prefs=subs.Preferences(topics=("x",)), now=NOW
        )
        assert first.action == "confirm" and first.token
        assert subs.peek_confirmation(conn=conn, token=first.token, now=NOW) is not None
        assert subs.get_by_email(conn=conn, email="A@example.org").status == "pending"  # type: ignore[union-attr]
        sub = subs.confirm(conn=conn, token=first.token, now=NOW)
        assert sub is not None and sub.status == "confirmed" and sub.confirmed_at == NOW
        # Anyone may type the address again: a confirmed subscription is left as it was.
        again = subs.subscribe(
            conn=conn, email="a@example.org", prefs=subs.Preferences(topics=("y",)), now=NOW
        )
        assert again.action == "already" and again.token is None
        assert subs.get(conn=conn, subscription_id=sub.id).prefs.topics == ("x",)  # type: ignore[union-attr]
        subs.unsubscribe(conn=conn, subscription_id=sub.id, now=NOW)
        assert subs.get(conn=conn, subscription_id=sub.id).status == "unsubscribed"  # type: ignore[union-attr]
        assert subs.confirm(conn=conn, token=first.token, now=NOW) is None
        back = subs.subscribe(conn=conn, email="a@example.org", prefs=subs.Preferences(), now=NOW)
        assert back.action == "confirm" and back.subscription_id == sub.id and back.token
        assert subs.confirm(conn=conn, token=back.token, now=NOW + timedelta(days=8)) is None  # expired
        assert subs.confirm(conn=conn, token=back.token, now=NOW + timedelta(days=1)) is not None
    with reading(engine) as conn:
        hashes = conn.execute(sa.select(subscription_tokens.c.token_hash)).scalars().all()
    assert back.token not in hashes and all(len(h) == 64 for h in hashes)


def test_suppressed_addresses_get_nothing(engine: Engine) -> None:
    with transaction(engine) as conn:
        result = subs.subscribe(conn=conn, email="b@example.org", prefs=subs.Preferences(), now=NOW)
        assert result.token and result.subscription_id
        subs.confirm(conn=conn, token=result.token, now=NOW)
        subs.suppress(
            conn=conn, subscription_id=result.subscription_id, reason="bounced", detail="550", now=NOW
        )
        assert conn.execute(sa.select(suppressions.c.reason)).scalar() == "bounced"
        assert (
            subs.subscribe(conn=conn, email="B@example.org", prefs=subs.Preferences(), now=NOW).action
            == "suppressed"
        )


def test_signed_links(engine: Engine) -> None:
    with transaction(engine) as conn:
        result = subs.subscribe(conn=conn, email="c@example.org", prefs=subs.Preferences(), now=NOW)
        sub = subs.get(conn=conn, subscription_id=result.subscription_id or 0)
    assert sub is not None
    token = subs.link_token(secret="k" * 40, subscription=sub, purpose="unsubscribe")
    with reading(engine) as conn:
        assert subs.verify_link(conn=conn, secret="k" * 40, token=token, purpose="unsubscribe") == sub
        assert subs.verify_link(conn=conn, secret="k" * 40, token=token, purpose="manage") is None
        assert subs.verify_link(conn=conn, secret="other" * 8, token=token, purpose="unsubscribe") is None
        for bad in ("", "x", f"{sub.id}.", f"{sub.id + 1}.{token.split('.')[1]}", "1" * 40 + ".x"):
            assert subs.verify_link(conn=conn, secret="k" * 40, token=bad, purpose="unsubscribe") is None


def test_rate_limit_windows(engine: Engine) -> None:
    hour = timedelta(hours=1)
    with transaction(engine) as conn:
        key = ratelimit.rate_key("addr", "Ada@Example.org")
        assert "ada" not in key and key == ratelimit.rate_key("addr", "ada@example.org")
        assert [ratelimit.allow(conn=conn, key=key, limit=2, window=hour, now=NOW) for _ in range(3)] == [
            True,
            True,
            False,
        ]
        assert ratelimit.allow(conn=conn, key=key, limit=2, window=hour, now=NOW + hour)
        assert ratelimit.allow(
            conn=conn, key=ratelimit.rate_key("ip", "10.0.0.1"), limit=2, window=hour, now=NOW
        )
