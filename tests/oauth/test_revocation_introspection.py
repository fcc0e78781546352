"""Token revocation (RFC 7009) and introspection (RFC 7662): a platform revokes the
tokens it holds and asks about them, and learns nothing about another platform's."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from idp.extensions import db, utcnow
from idp.oauth.models import Token
from idp.oauth.subjects import subject_for
from tests.browser import Browser
from tests.factories import Platform, make_platform
from tests.tokens import basic, issue_tokens, refresh, userinfo

ISSUER = "https://idp.test"



def call(client: FlaskClient, endpoint: str, platform: Platform, token: str,
         how: str = "basic", **extra: str) -> TestResponse:
    data = {"token": token, **extra}
    headers = {}
    if how == "basic":
        headers = basic(platform)
    elif how == "post":
        data |= {"client_id": platform.client_id, "client_secret": str(platform.secret)}
    else:  # none: a public client names itself
        data["client_id"] = platform.client_id
    return client.post(endpoint, data=data, headers=headers)


def introspect(client: FlaskClient, platform: Platform, token: str, **extra: str) -> Any:
    response = call(client, "/introspect", platform, token, **extra)
    assert response.status_code == 200, response.get_json()
    assert response.headers["Cache-Control"] == "no-store"
    return response.get_json()


def test_revoking_an_access_token_ends_its_use(logged_in: Browser, platform: Platform) -> None:
    tokens = issue_tokens(logged_in, platform)
    response = call(logged_in.client, "/revoke", platform, tokens["access_token"],
                    token_type_hint="access_token")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert userinfo(logged_in.client, tokens["access_token"]).status_code == 401


def test_revoking_a_refresh_token_revokes_its_access_token_too(
        logged_in: Browser, platform: Platform) -> None:
    tokens = issue_tokens(logged_in, platform)
    # A wrong hint only orders the search (RFC 7009 2.1).
    response = call(logged_in.client, "/revoke", platform, tokens["refresh_token"],
                    how="post", token_type_hint="access_token")
    assert response.status_code == 200
    assert refresh(logged_in.client, platform, tokens["refresh_token"]).status_code == 400
    assert userinfo(logged_in.client, tokens["access_token"]).status_code == 401


def test_an_unknown_token_is_revoked_without_complaint(client: FlaskClient,
                                                       platform: Platform) -> None:
    assert call(client, "/revoke", platform, "no-such-token").status_code == 200


def test_a_platform_cannot_revoke_another_platforms_token(
        logged_in: Browser, platform: Platform) -> None:
    tokens = issue_tokens(logged_in, platform)
    other = make_platform()
    response = call(logged_in.client, "/revoke", other, tokens["access_token"])
    assert response.status_code == 400
    assert userinfo(logged_in.client, tokens["access_token"]).status_code == 200


def test_a_public_client_revokes_its_own_token(logged_in: Browser,
                                                public_platform: Platform) -> None:
    tokens = issue_tokens(logged_in, public_platform, scope="openid email")
    response = call(logged_in.client, "/revoke", public_platform, tokens["access_token"],
                    how="none")
    assert response.status_code == 200
    assert userinfo(logged_in.client, tokens["access_token"]).status_code == 401


def test_a_public_client_may_not_introspect(logged_in: Browser,
                                            public_platform: Platform) -> None:
    tokens = issue_tokens(logged_in, public_platform, scope="openid email")
    response = call(logged_in.client, "/introspect", public_platform, tokens["access_token"],
                    how="none")
    assert response.status_code in (400, 401)
    assert response.get_json()["error"] == "invalid_client"


@pytest.mark.parametrize("how", ["basic", "post"])
def test_introspection_describes_an_own_active_token(logged_in: Browser, platform: Platform,
                                                     how: str) -> None:
    tokens = issue_tokens(logged_in, platform)
    answer = introspect(logged_in.client, platform, tokens["access_token"], how=how)
    row = db.session.scalar(db.select(Token))
    assert answer == {
        "active": True,
        "scope": "openid email offline_access",
        "client_id": platform.client_id,
        "sub": subject_for(row.user, platform.model),
        "exp": int(row.expires_at.timestamp()),
        "iat": int(row.issued_at.timestamp()),
        "token_type": "Bearer",
        "iss": ISSUER,
        "aud": platform.client_id,
    }
    assert answer["sub"] == row.user.subject or platform.model.subject_type == "pairwise"


def test_introspection_of_a_refresh_token(logged_in: Browser, platform: Platform) -> None:
    tokens = issue_tokens(logged_in, platform)
    answer = introspect(logged_in.client, platform, tokens["refresh_token"],
                        token_type_hint="refresh_token")
    row = db.session.scalar(db.select(Token))
    assert answer["active"] is True and answer["token_type"] == "refresh_token"
    assert answer["exp"] == int(row.refresh_token_expires_at.timestamp())
    # A rotated refresh token is spent.
    assert refresh(logged_in.client, platform, tokens["refresh_token"]).status_code == 200
    assert introspect(logged_in.client, platform, tokens["refresh_token"]) == {"active": False}


def test_another_platforms_token_is_inactive_for_it(logged_in: Browser,
                                                    platform: Platform) -> None:
    tokens = issue_tokens(logged_in, platform)
    other = make_platform()
    assert introspect(logged_in.client, other, tokens["access_token"]) == {"active": False}
    assert introspect(logged_in.client, other, tokens["refresh_token"]) == {"active": False}


def test_revoked_and_expired_tokens_are_inactive(logged_in: Browser,
                                                 platform: Platform) -> None:
    revoked = issue_tokens(logged_in, platform)
    call(logged_in.client, "/revoke", platform, revoked["access_token"])
    assert introspect(logged_in.client, platform, revoked["access_token"]) == {"active": False}

    expired = issue_tokens(logged_in, platform)
    row = db.session.scalar(db.select(Token).where(Token.revoked_at.is_(None)))
    row.issued_at = utcnow() - timedelta(seconds=row.expires_in + 1)
    db.session.commit()
    assert introspect(logged_in.client, platform, expired["access_token"]) == {"active": False}
    assert introspect(logged_in.client, platform, "no-such-token") == {"active": False}


@pytest.mark.parametrize("endpoint", ["/revoke", "/introspect"])
def test_the_endpoints_need_client_authentication(client: FlaskClient, platform: Platform,
                                                  endpoint: str) -> None:
    response = client.post(endpoint, data={"token": "x"}, headers=basic(platform, "wrong"))
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"
    missing = client.post(endpoint, data={}, headers=basic(platform))
    assert missing.get_json()["error"] == "invalid_request"


def test_discovery_lists_the_endpoints(client: FlaskClient) -> None:
    document = client.get("/.well-known/openid-configuration").get_json()
    assert document["revocation_endpoint"] == f"{ISSUER}/revoke"
    assert document["introspection_endpoint"] == f"{ISSUER}/introspect"
    assert "none" in document["revocation_endpoint_auth_methods_supported"]
    assert "none" not in document["introspection_endpoint_auth_methods_supported"]
    assert "private_key_jwt" in document["token_endpoint_auth_methods_supported"]
    assert document["token_endpoint_auth_signing_alg_values_supported"] == ["RS256", "ES256"]


def test_a_token_read_before_the_platform_authenticates_tells_nothing(
        logged_in: Browser, platform: Platform) -> None:
    """Introspection reads the token with its platform before the platform authenticates
    (issue 13): a wrong secret is still refused, another platform still learns nothing,
    and the owner still gets its answer."""
    tokens = issue_tokens(logged_in, platform)
    data = {"token": tokens["access_token"]}
    wrong = logged_in.client.post("/introspect", data=data, headers=basic(platform, "wrong"))
    assert wrong.status_code == 401 and wrong.get_json()["error"] == "invalid_client"
    other = make_platform()
    assert logged_in.client.post("/introspect", data=data,
                                 headers=basic(other)).get_json() == {"active": False}
    unknown = logged_in.client.post("/introspect", data={"token": "nope"}, headers=basic(other))
    assert unknown.get_json() == {"active": False}
    assert logged_in.client.post("/introspect", data=data,
                                 headers=basic(platform)).get_json()["active"] is True
