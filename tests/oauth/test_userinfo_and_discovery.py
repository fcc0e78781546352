"""Userinfo, discovery and the JWKS: what platforms read."""

from __future__ import annotations

import pytest

from tests.browser import Browser
from tests.factories import Platform
from tests.oauth.test_token import get_code
from tests.tokens import redeem


def access_token(browser: Browser, platform: Platform, scope: str) -> str:
    code, request = get_code(browser, platform, scope=scope)
    return str(redeem(browser.client, platform, code, request.verifier).get_json()["access_token"])


def test_userinfo_returns_only_the_granted_scopes(logged_in: Browser, platform: Platform) -> None:
    token = access_token(logged_in, platform, "openid email")
    headers = {"Authorization": f"Bearer {token}"}
    claims = logged_in.client.get("/userinfo", headers=headers).get_json()
    assert set(claims) == {"sub", "email", "email_verified"}


def test_userinfo_accepts_post_with_the_token_in_the_header_or_the_body(
        logged_in: Browser, platform: Platform) -> None:
    token = access_token(logged_in, platform, "openid profile")
    by_header = logged_in.client.post("/userinfo", headers={"Authorization": f"Bearer {token}"})
    by_body = logged_in.client.post("/userinfo", data={"access_token": token})
    assert by_header.status_code == by_body.status_code == 200
    assert by_header.get_json() == by_body.get_json()
    assert by_body.get_json()["given_name"] == "Umberto"


@pytest.mark.parametrize("headers", [
    {"Authorization": "Bearer not-a-token"},
    {"Authorization": "Basic abc"},
    {"Authorization": "Bearer"},
])
def test_userinfo_refuses_a_bad_token_with_a_bearer_challenge(client, headers) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/userinfo", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].lower().startswith("bearer")
    assert response.headers["Cache-Control"] == "no-store"


def test_userinfo_without_a_token_gets_a_bare_challenge(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/userinfo")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="userinfo"'


def test_discovery_is_complete_and_every_endpoint_answers(client) -> None:  # type: ignore[no-untyped-def]
    doc = client.get("/.well-known/openid-configuration").get_json()
    assert doc["issuer"] == "https://idp.test"
    for key in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
                "revocation_endpoint", "introspection_endpoint"):
        assert doc[key].startswith("https://idp.test/")
        path = doc[key].removeprefix("https://idp.test")
        assert client.get(path).status_code != 404
    assert doc["response_types_supported"] == ["code"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert set(doc["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic", "client_secret_post", "private_key_jwt", "none"}
    assert set(doc["id_token_signing_alg_values_supported"]) == {"RS256", "ES256"}
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert {"openid", "profile", "email", "phone", "address", "offline_access"} <= set(
        doc["scopes_supported"])


def test_jwks_publishes_public_keys_only(client) -> None:  # type: ignore[no-untyped-def]
    keys = client.get("/jwks.json").get_json()["keys"]
    assert {k["alg"] for k in keys} == {"RS256", "ES256"}
    for key in keys:
        assert key["kid"] and key["use"] == "sig"
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)


def test_discovery_and_jwks_are_cacheable(client) -> None:  # type: ignore[no-untyped-def]
    for path in ("/.well-known/openid-configuration", "/jwks.json"):
        first = client.get(path)
        assert "max-age" in first.headers["Cache-Control"]
        again = client.get(path, headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304


def test_signing_keys_are_encrypted_at_rest(app, client) -> None:  # type: ignore[no-untyped-def]
    from idp.extensions import db
    from idp.keys import SigningKey

    client.get("/jwks.json")
    for row in db.session.scalars(db.select(SigningKey)):
        assert b"PRIVATE KEY" not in row.private_key_encrypted


def test_pages_carry_security_headers(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/login")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Lax" in cookie


def test_an_unknown_page_is_a_friendly_404(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/nowhere")
    assert response.status_code == 404
    assert "<h1>" in response.get_data(as_text=True)
