"""The demo platform checks a logout token (Back-Channel Logout 1.0 2.6) before ending
any session, and ends only the sessions the token names (2.7); its logins in progress
are kept in memory and forgotten when they expire."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from clients.demo_platform.logout import (
    EVENT,
    LogoutTokenError,
    ReplayGuard,
    validate_logout_token,
)
from clients.demo_platform.sessions import SessionStore, StateCache

ISSUER = "https://idp.test"
CLIENT_ID = "demo-national-carpool"
NOW = 1_800_000_000
PROVIDER_KEY = RSAKey.generate_key(2048, parameters={"kid": "provider-1"})
OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "provider-1"})  # same kid, forged


class Jwks:
    """The provider's JWKS as the platform fetches it; counts the forced refetches."""

    def __init__(self, *keys: RSAKey) -> None:
        self.keys = list(keys)
        self.forced = 0

    def __call__(self, force: bool) -> dict[str, Any]:
        self.forced += force
        return KeySet(self.keys).as_dict(private=False)


def logout_token(key: RSAKey = PROVIDER_KEY, typ: str = "logout+jwt",
                 **overrides: Any) -> str:
    claims: dict[str, Any] = {
        "iss": ISSUER, "aud": [CLIENT_ID], "iat": NOW, "exp": NOW + 120,
        "jti": secrets.token_urlsafe(8), "events": {EVENT: {}}, "sub": "umberto", "sid": "s1",
    }
    claims.update(overrides)
    claims = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode({"alg": "RS256", "kid": key.kid, "typ": typ}, claims, key)


def validate(token: str, jwks: Callable[[bool], Any] | None = None,
             replay: ReplayGuard | None = None) -> dict[str, Any]:
    return validate_logout_token(token, issuer=ISSUER, client_id=CLIENT_ID,
                                 fetch_keys=jwks or Jwks(PROVIDER_KEY), algorithms=["RS256"],
                                 replay=replay or ReplayGuard(), now=NOW)


def test_a_logout_token_from_the_provider_is_accepted() -> None:
    claims = validate(logout_token())

    assert (claims["sub"], claims["sid"]) == ("umberto", "s1")


@pytest.mark.parametrize("token", [
    pytest.param(lambda: logout_token(key=OTHER_KEY), id="forged signature"),
    pytest.param(lambda: logout_token(iss="https://other.example"), id="another issuer"),
    pytest.param(lambda: logout_token(aud=["demo-regional-carpool"]), id="another platform"),
    pytest.param(lambda: logout_token(iat=NOW - 600, exp=NOW - 300), id="expired"),
    pytest.param(lambda: logout_token(sub=None, sid=None), id="neither sub nor sid"),
    pytest.param(lambda: logout_token(events={}), id="no logout event"),
    pytest.param(lambda: logout_token(nonce="n"), id="a nonce, like an ID token"),
    pytest.param(lambda: logout_token(typ="JWT"), id="typed as another JWT"),
    pytest.param(lambda: "not.a.token", id="garbage"),
    pytest.param(lambda: "", id="empty"),
])
def test_a_bad_logout_token_is_refused(token: Any) -> None:
    with pytest.raises(LogoutTokenError):
        validate(token())


def test_a_replayed_logout_token_is_refused() -> None:
    replay = ReplayGuard()
    token = logout_token()
    validate(token, replay=replay)

    with pytest.raises(LogoutTokenError, match="jti"):
        validate(token, replay=replay)


def test_a_new_key_of_the_provider_is_fetched_once() -> None:
    rotated = RSAKey.generate_key(2048, parameters={"kid": "provider-2"})
    jwks = Jwks(PROVIDER_KEY)
    jwks_after_rotation = Jwks(PROVIDER_KEY, rotated)

    def fetch(force: bool) -> dict[str, Any]:
        return (jwks_after_rotation if force else jwks)(force)

    validate(logout_token(key=rotated), jwks=fetch)

    assert jwks_after_rotation.forced == 1


def test_a_sid_ends_that_session_only_and_a_sub_alone_ends_them_all() -> None:
    store = SessionStore()
    first = store.open("umberto", "s1", {})
    second = store.open("umberto", "s2", {})
    other = store.open("awa", "s3", {})

    assert store.end_matching("umberto", "s1") == 1
    assert store.get(first.key) is None and store.get(second.key) is not None

    assert store.end_matching("umberto", None) == 1
    assert store.get(second.key) is None
    assert store.get(other.key) is not None


def test_a_login_in_progress_is_forgotten_when_it_expires() -> None:
    now = [100.0]
    cache = StateCache(clock=lambda: now[0])
    cache.set("_state_x_1", "verifier and nonce", 60)

    assert cache.get("_state_x_1") == "verifier and nonce"
    now[0] += 61
    assert cache.get("_state_x_1") is None
