"""The client credentials grant (RFC 6749 4.4): a platform's server gets a token for
itself, with platform scopes only, and reads its own consent records with it instead of
sending its secret on every call. The token carries no traveller: no refresh token, no
ID token, nothing at userinfo; it can be introspected and revoked, and it expires."""

from __future__ import annotations

import secrets
import time
from typing import Any

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet
from werkzeug.test import TestResponse

from idp.digests import digest
from idp.extensions import db
from idp.oauth.models import Client
from idp.oauth.platform_tokens import PlatformToken
from idp.oauth.subjects import subject_for
from tests.browser import Browser
from tests.factories import Platform, Traveller, make_platform
from tests.live import LiveServer, live_server  # noqa: F401  (a fixture)
from tests.tokens import basic, issue_tokens, userinfo

ISSUER = "https://idp.test"
GRANT = "client_credentials"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def allow_grant(platform: Platform) -> Platform:
    """What registration will store for a platform that lists the grant (RFC 7591 2)."""
    platform.model.grant_types = [*platform.model.grant_types, GRANT]
    db.session.commit()
    return platform


@pytest.fixture
def backend(app: Flask) -> Platform:
    return allow_grant(make_platform(name="Covoiturage régional"))


def ask(client: FlaskClient, platform: Platform, how: str = "basic",
        **data: str) -> TestResponse:
    form = {"grant_type": GRANT, **data}
    headers = {}
    if how == "basic":
        headers = basic(platform)
    elif how == "post":
        form |= {"client_id": platform.client_id, "client_secret": str(platform.secret)}
    else:  # none: a public client names itself
        form["client_id"] = platform.client_id
    return client.post("/token", data=form, headers=headers)


def platform_token(client: FlaskClient, platform: Platform, **data: str) -> str:
    response = ask(client, platform, **data)
    assert response.status_code == 200, response.get_json()
    token: str = response.get_json()["access_token"]
    return token


def introspect(client: FlaskClient, platform: Platform, token: str) -> dict[str, Any]:
    response = client.post("/introspect", data={"token": token}, headers=basic(platform))
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def records(client: FlaskClient, sub: str, token: str) -> TestResponse:
    return client.get("/consent/records", query_string={"sub": sub},
                      headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize("how", ["basic", "post"])
def test_a_platform_gets_a_token_for_itself(client: FlaskClient, backend: Platform,
                                            how: str) -> None:
    response = ask(client, backend, how=how)
    assert response.status_code == 200, response.get_json()
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "consent:read"
    assert body["expires_in"] == 3600
    # RFC 6749 4.4.3: no refresh token; no traveller signed in, so no ID token either.
    assert "refresh_token" not in body and "id_token" not in body
    row = db.session.scalar(db.select(PlatformToken))
    assert row is not None and row.client_id == backend.client_id
    assert row.access_token_hash == digest(body["access_token"])


def test_a_platform_signing_its_assertion_gets_a_token(client: FlaskClient,
                                                       app: Flask) -> None:
    key = ECKey.generate_key("P-256", parameters={"kid": "back-end"}, private=True)
    platform = allow_grant(make_platform(token_endpoint_auth_method="private_key_jwt",
                                         jwks={"keys": [key.as_dict(private=False)]}))
    now = int(time.time())
    assertion = jwt.encode({"alg": "ES256", "kid": "back-end"}, {
        "iss": platform.client_id, "sub": platform.client_id, "aud": f"{ISSUER}/token",
        "iat": now, "exp": now + 60, "jti": secrets.token_urlsafe(16)}, key)
    response = client.post("/token", data={
        "grant_type": GRANT, "client_id": platform.client_id,
        "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["scope"] == "consent:read"


@pytest.mark.parametrize("how", ["unknown client", "no credentials", "client_id only",
                                 "wrong secret", "wrong secret posted"])
def test_a_platform_that_does_not_authenticate_gets_nothing(
        client: FlaskClient, backend: Platform, how: str) -> None:
    data = {"grant_type": GRANT}
    headers: dict[str, str] = {}
    if how == "unknown client":
        headers = {"Authorization": "Basic d3Jvbmc6d3Jvbmc="}  # wrong:wrong
    elif how == "client_id only":
        data["client_id"] = backend.client_id
    elif how == "wrong secret":
        headers = basic(backend, "not-the-secret")
    elif how == "wrong secret posted":
        data |= {"client_id": backend.client_id, "client_secret": "not-the-secret"}
    response = client.post("/token", data=data, headers=headers)
    assert response.status_code in (400, 401)
    assert response.get_json()["error"] == "invalid_client"
    assert db.session.scalar(db.select(PlatformToken)) is None


def test_a_public_client_is_refused(client: FlaskClient, public_platform: Platform) -> None:
    # RFC 6749 4.4: the grant is for confidential clients only, whatever is registered.
    allow_grant(public_platform)
    response = ask(client, public_platform, how="none")
    assert response.status_code == 400
    assert response.get_json()["error"] == "unauthorized_client"


def test_a_platform_without_the_grant_registered_is_refused(client: FlaskClient,
                                                            platform: Platform) -> None:
    response = ask(client, platform)
    assert response.status_code == 400
    assert response.get_json()["error"] == "unauthorized_client"
    assert db.session.scalar(db.select(PlatformToken)) is None


@pytest.mark.parametrize("scope", ["openid", "email", "consent:read email", "offline_access",
                                   "profile:alias", "consent:write"])
def test_a_travellers_scope_is_refused(client: FlaskClient, backend: Platform,
                                       scope: str) -> None:
    response = ask(client, backend, scope=scope)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_scope"
    assert db.session.scalar(db.select(PlatformToken)) is None


def test_a_platform_scope_asked_by_name_is_granted(client: FlaskClient,
                                                   backend: Platform) -> None:
    response = ask(client, backend, scope="consent:read")
    assert response.get_json()["scope"] == "consent:read"


def test_introspection_shows_a_token_without_a_traveller(client: FlaskClient,
                                                         backend: Platform) -> None:
    token = platform_token(client, backend)
    answer = introspect(client, backend, token)
    row = db.session.scalar(db.select(PlatformToken))
    assert answer == {
        "active": True,
        "scope": "consent:read",
        "client_id": backend.client_id,
        "sub": backend.client_id,
        "exp": int(row.expires_at.timestamp()),
        "iat": int(row.issued_at.timestamp()),
        "token_type": "Bearer",
        "iss": ISSUER,
        "aud": backend.client_id,
    }
    other = allow_grant(make_platform())
    assert introspect(client, other, token) == {"active": False}


def test_a_revoked_token_is_spent(client: FlaskClient, backend: Platform) -> None:
    token = platform_token(client, backend)
    assert records(client, "any-sub", token).status_code == 200
    other = allow_grant(make_platform())
    assert client.post("/revoke", data={"token": token}, headers=basic(other)).status_code == 400
    assert introspect(client, backend, token)["active"] is True
    response = client.post("/revoke", data={"token": token, "token_type_hint": "refresh_token"},
                           headers=basic(backend))
    assert response.status_code == 200
    assert introspect(client, backend, token) == {"active": False}
    assert records(client, "any-sub", token).status_code == 401


def test_userinfo_refuses_a_token_without_a_traveller(client: FlaskClient,
                                                      backend: Platform) -> None:
    response = userinfo(client, platform_token(client, backend))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    post = client.post("/userinfo", data={"access_token": platform_token(client, backend)})
    assert post.status_code == 401


def test_the_platform_reads_its_consent_records_with_the_token(
        logged_in: Browser, user: Traveller, backend: Platform) -> None:
    travellers_token = issue_tokens(logged_in, backend)["access_token"]
    client = logged_in.client
    sub = subject_for(user.model, backend.model)
    token = platform_token(client, backend)

    response = records(client, sub, token)
    assert response.status_code == 200, response.get_json()
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert [r["event_type"] for r in body["records"]] == ["given"]
    assert len(body["receipts"]) == 1
    # The same sub read by another platform, with its own token, leads to nothing.
    other = allow_grant(make_platform())
    assert records(client, sub, platform_token(client, other)).get_json()["records"] == []
    # A traveller's token is no platform token, whatever its scopes.
    refused = records(client, sub, travellers_token)
    assert refused.status_code == 401
    assert refused.get_json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
    # The secret still works as before.
    by_secret = client.get("/consent/records", query_string={"sub": sub},
                           headers=basic(backend))
    assert by_secret.get_json()["records"] == body["records"]


def test_a_token_without_consent_read_is_not_enough(client: FlaskClient,
                                                    backend: Platform) -> None:
    # A later platform scope must not open the consent records.
    token = secrets.token_urlsafe(32)
    db.session.add(PlatformToken(client_id=backend.client_id, access_token_hash=digest(token),
                                 scope="", expires_in=3600))
    db.session.commit()
    response = records(client, "any-sub", token)
    assert response.status_code == 403
    assert response.get_json()["error"] == "insufficient_scope"
    assert records(client, "any-sub", "no-such-token").status_code == 401


def test_a_token_of_a_platform_that_lost_the_grant_is_refused(client: FlaskClient,
                                                              backend: Platform) -> None:
    token = platform_token(client, backend)
    assert records(client, "any-sub", token).status_code == 200
    backend.model.grant_types = ["authorization_code", "refresh_token"]
    db.session.commit()
    assert records(client, "any-sub", token).status_code == 401


def test_the_token_expires(client: FlaskClient, backend: Platform, time_machine: Any) -> None:
    time_machine.move_to("2026-12-01 10:00:00+00:00", tick=False)
    token = platform_token(client, backend)
    time_machine.shift(3599)
    assert records(client, "any-sub", token).status_code == 200
    time_machine.shift(1)
    expired = records(client, "any-sub", token)
    assert expired.status_code == 401
    assert expired.get_json()["error"] == "invalid_token"
    assert introspect(client, backend, token) == {"active": False}


def test_a_jwt_platform_gets_an_at_jwt_whose_subject_is_itself(client: FlaskClient,
                                                               app: Flask) -> None:
    platform = allow_grant(make_platform(access_token_format="jwt"))
    token = platform_token(client, platform)
    keys = KeySet.import_key_set(client.get("/jwks.json").get_json())
    decoded = jwt.decode(token, keys, algorithms=["RS256"])
    assert decoded.header["typ"] == "at+jwt"
    claims = decoded.claims
    # RFC 9068 2.2: without a resource owner, sub is the client's own identifier.
    assert claims["sub"] == claims["client_id"] == claims["aud"] == platform.client_id
    assert claims["iss"] == ISSUER and claims["scope"] == "consent:read"
    assert claims["exp"] - claims["iat"] == 3600
    assert not {"auth_time", "acr", "amr"} & set(claims)
    assert records(client, "any-sub", token).status_code == 200
    assert introspect(client, platform, token)["sub"] == platform.client_id


def test_discovery_advertises_the_grant_and_its_scope(client: FlaskClient) -> None:
    doc = client.get("/.well-known/openid-configuration").get_json()
    assert GRANT in doc["grant_types_supported"]
    assert "consent:read" in doc["scopes_supported"]


def test_an_independent_client_gets_and_uses_a_token_over_http(
        live_server: LiveServer) -> None:  # noqa: F811
    live = live_server.add_platform()
    with live_server.app.app_context():
        row = db.session.scalar(db.select(Client).where(Client.client_id == live.client_id))
        assert row is not None
        row.grant_types = [*row.grant_types, GRANT]
        db.session.commit()
        db.session.remove()
    config = requests.get(f"{live_server.url}/.well-known/openid-configuration",
                          timeout=10).json()
    # Authlib's client, as a platform's back-end would configure it; Basic by default.
    session = OAuth2Session(live.client_id, live.client_secret, scope="consent:read")
    token = session.fetch_token(config["token_endpoint"], grant_type=GRANT)
    assert token["scope"] == "consent:read" and "refresh_token" not in token
    answer = session.get(f"{live_server.url}/consent/records", params={"sub": "unknown"},
                         timeout=10)
    assert answer.status_code == 200
    assert answer.json() == {"sub": "unknown", "records": [], "receipts": []}
    # The same session's token is refused where a traveller is needed.
    assert session.get(config["userinfo_endpoint"], timeout=10).status_code == 401
    session.close()


def test_prune_deletes_the_expired_platform_tokens_only(
        client: FlaskClient, backend: Platform, runner: Any,
        time_machine: Any) -> None:
    start = time.time()
    time_machine.move_to(start, tick=False)
    old = platform_token(client, backend)
    time_machine.move_to(start + 1800, tick=False)
    recent = platform_token(client, backend)
    time_machine.move_to(start + 3600, tick=False)  # the first one's lifetime is over
    result = runner.invoke(args=["sessions", "prune"])
    assert result.exit_code == 0, result.output
    assert "deleted 1 expired platform token(s)" in result.output
    db.session.expire_all()
    hashes = db.session.scalars(db.select(PlatformToken.access_token_hash)).all()
    assert hashes == [digest(recent)]
    assert introspect(client, backend, recent)["active"] is True
    assert introspect(client, backend, old) == {"active": False}
    again = runner.invoke(args=["sessions", "prune"])
    assert "platform token" not in again.output
