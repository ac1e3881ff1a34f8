"""Pure functions of sign-in: login tokens, their states, safe `next=` paths, CSRF tokens (issue #4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from papertrend import security
from papertrend.accounts import tokens
from papertrend.ratelimit import rate_key
from papertrend.web.cookies import expected_token

NOW = datetime(2026, 6, 20, 10, 0, tzinfo=UTC)


def test_issued_tokens_are_random_and_stored_only_as_their_hash() -> None:
    a = tokens.issue(now=NOW, lifetime=timedelta(minutes=15))
    b = tokens.issue(now=NOW, lifetime=timedelta(minutes=15))
    assert a.raw != b.raw and len(a.raw) >= 43
    assert a.hash == security.hash_token(a.raw) and len(a.hash) == 64 and a.raw not in a.hash
    assert a.expires_at == NOW + timedelta(minutes=15)


def test_token_states() -> None:
    expires = NOW + timedelta(minutes=15)
    assert tokens.state(expires_at=expires, used_at=None, now=NOW) == "usable"
    assert tokens.state(expires_at=expires, used_at=None, now=expires - timedelta(seconds=1)) == "usable"
    assert tokens.state(expires_at=expires, used_at=None, now=expires) == "expired"
    assert tokens.state(expires_at=expires, used_at=NOW, now=NOW) == "used"
    # A used link says "used" even after it has also expired: the truer explanation.
    assert tokens.state(expires_at=expires, used_at=NOW, now=expires + timedelta(days=1)) == "used"


@pytest.mark.parametrize(
    "path", ["/", "/papers/2608.19880", "/papers/trending?window=week&sort=upvotes", "/search?q=a%20b"]
)
def test_local_paths_are_safe(path: str) -> None:
    assert tokens.safe_next(path) == path


@pytest.mark.parametrize(
    "path",
    [
        None,
        "",
        "//evil.example",
        "//evil.example/papers",
        "https://evil.example/",
        "javascript:alert(1)",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "papers/x",
        "/" + "a" * 2001,
    ],
)
def test_other_sites_and_tricks_are_refused(path: str | None) -> None:
    assert tokens.safe_next(path) is None


def test_csrf_token_is_bound_to_the_browser_and_the_secret() -> None:
    one = expected_token(secret="s" * 40, browser="browser-one-xxxxxxxxxxxx")
    assert one == expected_token(secret="s" * 40, browser="browser-one-xxxxxxxxxxxx")
    assert one != expected_token(secret="s" * 40, browser="browser-two-xxxxxxxxxxxx")
    assert one != expected_token(secret="t" * 40, browser="browser-one-xxxxxxxxxxxx")
    assert security.same(one, one) and not security.same(one, one[:-1] + "x")


def test_sign_in_rate_keys_are_apart_from_the_subscribe_form() -> None:
    assert rate_key("ip", "10.0.0.1") == "ip:10.0.0.1"
    assert rate_key("ip", "10.0.0.1", scope="login") == "login:ip:10.0.0.1"
    key = rate_key("addr", "Ada@Example.org", scope="login")
    assert key.startswith("login:addr:") and "ada" not in key
    assert key == rate_key("addr", "ada@example.org", scope="login") != rate_key("addr", "ada@example.org")
