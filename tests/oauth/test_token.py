"""The token endpoint: codes, PKCE, client authentication, refresh tokens."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

import pytest

from idp.extensions import db, utcnow
from idp.oauth.models import AuthorizationCode
from tests.browser import AuthorizationRequest, Browser, query_of
from tests.factories import Platform, make_platform
from tests.tokens import basic, redeem, refresh, userinfo, verify_id_token


def get_code(browser: Browser, platform: Platform,
             **extra: str) -> tuple[str, AuthorizationRequest]:
    request = AuthorizationRequest(platform.client_id, platform.redirect_uri,
                                   scope=extra.pop("scope", "openid profile email"), extra=extra)
    page = browser.authorize(request)
    if page.status_code == 200:
        page = browser.follow_local(browser.consent("allow"))
    assert page.status_code == 302, page.get_data(as_text=True)
    return query_of(page.location)["code"], request


def test_a_code_is_single_use_and_its_replay_revokes_the_tokens(
        logged_in: Browser, platform: Platform) -> None:
    code, request = get_code(logged_in, platform)
    first = redeem(logged_in.client, platform, code, request.verifier)
    assert first.status_code == 200
    access_token = first.get_json()["access_token"]
    assert userinfo(logged_in.client, access_token).status_code == 200

    replay = redeem(logged_in.client, platform, code, request.verifier)
    assert replay.status_code == 400
    assert replay.get_json()["error"] == "invalid_grant"
    assert userinfo(logged_in.client, access_token).status_code == 401


def test_an_expired_code_is_refused(logged_in: Browser, platform: Platform) -> None:
    code, request = get_code(logged_in, platform)
    row = db.session.scalar(db.select(AuthorizationCode))
    assert row.expires_at - row.created_at == timedelta(seconds=60)
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    response = redeem(logged_in.client, platform, code, request.verifier)
    assert response.get_json()["error"] == "invalid_grant"


def test_codes_are_stored_as_digests(logged_in: Browser, platform: Platform) -> None:
    code, _ = get_code(logged_in, platform)
    row = db.session.scalar(db.select(AuthorizationCode))
    assert code not in row.code_hash and len(row.code_hash) == 64


@pytest.mark.parametrize("verifier, error", [
    (None, "invalid_request"),
    ("x" * 43, "invalid_grant"),
    ("short", "invalid_request"),
])
def test_pkce_verifier_must_match(logged_in: Browser, platform: Platform,
                                  verifier: str | None, error: str) -> None:
    code, _ = get_code(logged_in, platform)
    response = redeem(logged_in.client, platform, code, verifier)
    assert response.status_code == 400
    assert response.get_json()["error"] == error


def test_a_verifier_without_an_earlier_challenge_is_refused(logged_in: Browser) -> None:
    platform = make_platform(require_pkce=False)
    code, _ = get_code(logged_in, platform, code_challenge=None, code_challenge_method=None)
    response = redeem(logged_in.client, platform, code, "a" * 50)
    assert response.get_json()["error"] == "invalid_request"


def test_a_client_that_opted_out_of_pkce_can_still_redeem(logged_in: Browser) -> None:
    platform = make_platform(require_pkce=False)
    code, _ = get_code(logged_in, platform, code_challenge=None, code_challenge_method=None)
    assert redeem(logged_in.client, platform, code, None).status_code == 200


def test_a_wrong_client_secret_is_refused(logged_in: Browser, platform: Platform) -> None:
    code, request = get_code(logged_in, platform)
    response = logged_in.client.post("/token", headers=basic(platform, "wrong"), data={
        "grant_type": "authorization_code", "code": code,
        "redirect_uri": platform.redirect_uri, "code_verifier": request.verifier})
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"


def test_a_code_read_before_the_platform_authenticates_is_not_spent_by_a_failure(
        logged_in: Browser, platform: Platform) -> None:
    """The code grant reads the code with its platform before the platform authenticates
    (issue 13): a wrong secret leaves the code unspent, and another platform is still
    read and refused it."""
    code, request = get_code(logged_in, platform)
    data = {"grant_type": "authorization_code", "code": code,
            "redirect_uri": platform.redirect_uri, "code_verifier": request.verifier}
    wrong = logged_in.client.post("/token", headers=basic(platform, "wrong"), data=data)
    assert wrong.status_code == 401 and wrong.get_json()["error"] == "invalid_client"
    other = make_platform(redirect_uri=platform.redirect_uri)
    stolen = logged_in.client.post("/token", headers=basic(other), data=data)
    assert stolen.status_code == 400 and stolen.get_json()["error"] == "invalid_grant"
    answer = logged_in.client.post("/token", headers=basic(platform), data=data)
    assert answer.status_code == 200, answer.get_json()


def test_client_secret_post_is_accepted(logged_in: Browser, platform: Platform) -> None:
    code, request = get_code(logged_in, platform)
    response = logged_in.client.post("/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": platform.redirect_uri,
        "code_verifier": request.verifier, "client_id": platform.client_id,
        "client_secret": platform.secret})
    assert response.status_code == 200


def test_a_code_is_bound_to_its_client_and_redirect_uri(logged_in: Browser,
                                                       platform: Platform) -> None:
    other = make_platform()
    code, request = get_code(logged_in, platform)
    stolen = redeem(logged_in.client, other, code, request.verifier,
                    redirect_uri=platform.redirect_uri)
    assert stolen.get_json()["error"] == "invalid_grant"
    code, request = get_code(logged_in, platform)
    moved = redeem(logged_in.client, platform, code, request.verifier,
                   redirect_uri="https://evil.example/cb")
    assert moved.get_json()["error"] == "invalid_grant"


def test_public_client_redeems_with_pkce_and_no_secret(logged_in: Browser,
                                                      public_platform: Platform) -> None:
    code, request = get_code(logged_in, public_platform)
    response = redeem(logged_in.client, public_platform, code, request.verifier)
    assert response.status_code == 200
    assert "refresh_token" not in response.get_json()


def test_refresh_tokens_only_with_offline_access_and_they_rotate(
        logged_in: Browser, platform: Platform) -> None:
    code, request = get_code(logged_in, platform, scope="openid email offline_access")
    tokens = redeem(logged_in.client, platform, code, request.verifier).get_json()
    assert "refresh_token" in tokens

    renewed = refresh(logged_in.client, platform, tokens["refresh_token"])
    assert renewed.status_code == 200, renewed.get_json()
    body = renewed.get_json()
    assert body["access_token"] != tokens["access_token"]
    assert body["refresh_token"] != tokens["refresh_token"]
    assert userinfo(logged_in.client, body["access_token"]).get_json()["email"]

    reused = refresh(logged_in.client, platform, tokens["refresh_token"])
    assert reused.get_json()["error"] == "invalid_grant"
    # Reuse of a rotated token revokes the whole family.
    assert refresh(logged_in.client, platform, body["refresh_token"]).status_code == 400


def test_a_refresh_token_read_before_the_platform_authenticates_decides_nothing(
        logged_in: Browser, platform: Platform) -> None:
    """The refresh grant reads the token with its platform before the platform
    authenticates (issue 13): the wrong secret is still refused, another platform is
    still read and refused the token, and the token still works for its own platform."""
    code, request = get_code(logged_in, platform, scope="openid email offline_access")
    tokens = redeem(logged_in.client, platform, code, request.verifier).get_json()
    data = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}

    wrong = logged_in.client.post("/token", headers=basic(platform, "wrong"), data=data)
    assert wrong.status_code == 401 and wrong.get_json()["error"] == "invalid_client"
    other = make_platform(scope="openid email offline_access")
    stolen = logged_in.client.post("/token", headers=basic(other), data=data)
    assert stolen.status_code == 400 and stolen.get_json()["error"] == "invalid_grant"
    unknown = logged_in.client.post("/token", headers=basic(other), data={
        **data, "refresh_token": "not-a-token"})
    assert unknown.get_json()["error"] == "invalid_grant"

    assert refresh(logged_in.client, platform, tokens["refresh_token"]).status_code == 200


def test_a_refresh_brings_a_new_id_token_of_the_same_authentication(
        logged_in: Browser, platform: Platform) -> None:
    """OIDC Core 12.2: same issuer, subject, audience, session, authentication time and
    context; a new ``iat``, an ``at_hash`` of the new access token, no ``nonce``; the
    claims asked for the ID token, as at the code."""
    asked = '{"id_token": {"email": null}}'
    code, request = get_code(logged_in, platform, scope="openid email offline_access",
                             claims=asked)
    tokens = redeem(logged_in.client, platform, code, request.verifier).get_json()
    first = verify_id_token(logged_in.client, tokens["id_token"])
    assert first["nonce"] == request.nonce and first["email"]

    renewed = refresh(logged_in.client, platform, tokens["refresh_token"]).get_json()
    again = verify_id_token(logged_in.client, renewed["id_token"])
    for claim in ("iss", "sub", "aud", "sid", "auth_time", "amr", "email"):
        assert again[claim] == first[claim], claim
    assert again.get("acr") == first.get("acr")
    assert again["iat"] >= first["iat"] and "nonce" not in again
    assert again["at_hash"] != first["at_hash"]
    assert again["at_hash"] == verify_at_hash(renewed["access_token"])


def verify_at_hash(access_token: str) -> str:
    """OIDC Core 3.1.3.6: the left half of the access token's SHA-256, base64url."""
    half = hashlib.sha256(access_token.encode()).digest()[:16]
    return base64.urlsafe_b64encode(half).decode().rstrip("=")


def test_es256_id_tokens_for_clients_that_ask(logged_in: Browser) -> None:
    platform = make_platform(id_token_signed_response_alg="ES256")
    code, request = get_code(logged_in, platform)
    tokens = redeem(logged_in.client, platform, code, request.verifier).get_json()
    claims = verify_id_token(logged_in.client, tokens["id_token"])
    assert claims["_header"]["alg"] == "ES256"
    assert claims["at_hash"]


@pytest.mark.parametrize("data, status, error", [
    ({"grant_type": "password", "username": "a", "password": "b"}, 400, "unsupported_grant_type"),
    # Supported, for the platforms that registered it (tests/oauth/test_client_credentials.py).
    ({"grant_type": "client_credentials"}, 400, "unauthorized_client"),
    ({"grant_type": "authorization_code"}, 400, "invalid_request"),
    ({"grant_type": "authorization_code", "code": "nope", "redirect_uri": "x"},
     400, "invalid_grant"),
    ({"grant_type": "refresh_token", "refresh_token": "nope"}, 400, "invalid_grant"),
    ({}, 400, "unsupported_grant_type"),
])
def test_bad_token_requests_get_oauth_errors(client, platform: Platform, data, status,  # type: ignore[no-untyped-def]
                                             error) -> None:
    response = client.post("/token", data=data, headers=basic(platform))
    assert response.status_code == status
    assert response.get_json()["error"] == error


def test_token_endpoint_refuses_get_and_oversized_bodies(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/token").status_code == 405
    assert client.get("/token").get_json()["error"]
    big = client.post("/token", data={"grant_type": "x" * (300 * 1024)})
    assert big.status_code == 413
    assert big.get_json()["error"]
