"""JWT access tokens (RFC 9068), an option per platform: signed with the provider's
published keys, and still stored by digest so revocation and introspection hold."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import KeySet

from clients.credentials import issue_initial_access_token
from idp.digests import digest
from idp.extensions import db
from idp.oauth.models import Client, Token
from idp.oauth.subjects import subject_for
from tests.browser import Browser
from tests.factories import Platform, make_platform
from tests.tokens import basic, issue_tokens, refresh, userinfo

ISSUER = "https://idp.test"



def decode_access_token(client: FlaskClient, token: str) -> tuple[dict[str, Any],
                                                                   dict[str, Any]]:
    keys = KeySet.import_key_set(client.get("/jwks.json").get_json())
    decoded = jwt.decode(token, keys, algorithms=["RS256", "ES256"])
    return dict(decoded.header), dict(decoded.claims)


def revoke(client: FlaskClient, platform: Platform, token: str) -> None:
    response = client.post("/revoke", data={"token": token}, headers=basic(platform))
    assert response.status_code == 200


def introspect(client: FlaskClient, platform: Platform, token: str) -> dict[str, Any]:
    response = client.post("/introspect", data={"token": token}, headers=basic(platform))
    assert response.status_code == 200
    body: dict[str, Any] = response.get_json()
    return body


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_a_jwt_platform_gets_a_signed_at_jwt_with_the_rfc_9068_claims(
        logged_in: Browser, alg: str) -> None:
    platform = make_platform(access_token_format="jwt", id_token_signed_response_alg=alg)
    tokens = issue_tokens(logged_in, platform)

    header, claims = decode_access_token(logged_in.client, tokens["access_token"])
    assert header["typ"] == "at+jwt" and header["alg"] == alg and header["kid"]
    row = db.session.scalar(db.select(Token))
    assert claims["iss"] == ISSUER
    assert claims["aud"] == claims["client_id"] == platform.client_id
    assert claims["sub"] == subject_for(row.user, row.client)
    assert claims["scope"] == tokens["scope"] == "openid email offline_access"
    assert claims["exp"] - claims["iat"] == tokens["expires_in"]
    assert claims["auth_time"] == int(row.auth_time.timestamp())
    assert claims["amr"] == ["pwd"] and claims["jti"]
    # Only the digest is stored, as for an opaque token.
    assert row.access_token_hash == digest(tokens["access_token"])


def test_userinfo_accepts_a_jwt_access_token_until_it_is_revoked(logged_in: Browser) -> None:
    platform = make_platform(access_token_format="jwt")
    access_token = issue_tokens(logged_in, platform)["access_token"]
    assert userinfo(logged_in.client, access_token).get_json()["email"]
    assert introspect(logged_in.client, platform, access_token)["active"] is True

    revoke(logged_in.client, platform, access_token)

    # The signature still verifies, but the provider checks its own record.
    assert userinfo(logged_in.client, access_token).status_code == 401
    assert introspect(logged_in.client, platform, access_token) == {"active": False}


def test_a_refresh_gives_a_jwt_platform_a_new_jwt_access_token(logged_in: Browser) -> None:
    platform = make_platform(access_token_format="jwt")
    tokens = issue_tokens(logged_in, platform)
    renewed = refresh(logged_in.client, platform, tokens["refresh_token"]).get_json()

    assert renewed["access_token"] != tokens["access_token"]
    first = decode_access_token(logged_in.client, tokens["access_token"])[1]
    header, claims = decode_access_token(logged_in.client, renewed["access_token"])
    assert header["typ"] == "at+jwt"
    assert claims["jti"] != first["jti"]
    assert claims["sub"] == first["sub"] and claims["auth_time"] == first["auth_time"]
    assert userinfo(logged_in.client, renewed["access_token"]).status_code == 200


def test_an_opaque_platform_still_gets_an_opaque_token(logged_in: Browser,
                                                       platform: Platform) -> None:
    assert platform.model.access_token_format == "opaque"
    access_token = issue_tokens(logged_in, platform)["access_token"]
    assert access_token.count(".") == 0
    assert userinfo(logged_in.client, access_token).status_code == 200


def test_a_platform_registers_itself_for_jwt_access_tokens(client: FlaskClient) -> None:
    _, initial = issue_initial_access_token(expires_in=3600, uses=2)
    body = {"client_name": "National carpool", "scope": "openid email",
            "redirect_uris": ["https://national-carpool.example/callback"]}
    headers = {"Authorization": f"Bearer {initial}"}

    jwt_client = client.post("/register", headers=headers,
                             json=body | {"mob_access_token_format": "jwt"}).get_json()
    default = client.post("/register", headers=headers, json=body).get_json()

    assert jwt_client["mob_access_token_format"] == "jwt"
    assert default["mob_access_token_format"] == "opaque"
    stored = db.session.scalar(db.select(Client).where(
        Client.client_id == jwt_client["client_id"]))
    assert stored is not None and stored.access_token_format == "jwt"


@pytest.mark.parametrize("value", ["JWT", "paseto", 1, ["jwt"]])
def test_registration_refuses_an_unknown_access_token_format(client: FlaskClient,
                                                             value: Any) -> None:
    _, initial = issue_initial_access_token(expires_in=3600, uses=1)
    response = client.post("/register", headers={"Authorization": f"Bearer {initial}"}, json={
        "client_name": "National carpool", "mob_access_token_format": value,
        "redirect_uris": ["https://national-carpool.example/callback"]})
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_client_metadata"
    assert "mob_access_token_format" in response.get_json()["error_description"]


def test_the_operator_creates_a_jwt_platform_from_the_command_line(runner: CliRunner) -> None:
    result = runner.invoke(args=["clients", "create", "--name", "Regional carpool",
                                 "--redirect-uri", "https://carpool.example/callback",
                                 "--access-token-format", "jwt", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["access_token_format"] == "jwt"

    refused = runner.invoke(args=["clients", "create", "--name", "Regional carpool",
                                  "--redirect-uri", "https://carpool.example/callback",
                                  "--access-token-format", "paseto"])
    assert refused.exit_code == 2
