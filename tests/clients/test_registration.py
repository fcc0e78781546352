"""Dynamic registration (RFC 7591) and management (RFC 7592): a platform joins the
federation on its own with the operator's initial access token, then reads, updates and
deletes its registration with its registration access token."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect
from werkzeug.test import TestResponse

from clients import credentials
from clients.credentials import issue_initial_access_token
from clients.models import InitialAccessToken
from clients.registration import ClientMetadata, ClientMetadataError, register
from idp.extensions import db, utcnow
from idp.oauth.models import Client
from tests.browser import AuthorizationRequest, Browser, query_of
from tests.factories import Platform, make_platform
from tests.tokens import redeem, userinfo, verify_id_token

ISSUER = "https://idp.test"
REDIRECT_URI = "https://national-carpool.example/callback"
EMAIL_PURPOSE = {"fr": "Nous vous envoyons la confirmation de chaque trajet.",
                 "en": "We send you the confirmation of each trip."}
DROP = object()  # leaves a field out of the metadata


def metadata(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "client_name": "National carpool",
        "redirect_uris": [REDIRECT_URI],
        "scope": "openid email phone",
        "logo_uri": "https://national-carpool.example/logo.png",
        "policy_uri": "https://national-carpool.example/privacy",
        "tos_uri": "https://national-carpool.example/terms",
        "client_uri": "https://national-carpool.example/",
        "contacts": ["dpo@national-carpool.example"],
        "mob_scope_policy": {
            "email": {"required": True, "purpose": EMAIL_PURPOSE},
            "phone": {"required": False, "purpose": {"en": "The driver can call you."}},
        },
    }
    data.update(overrides)
    return {name: value for name, value in data.items() if value is not DROP}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def post_registration(client: FlaskClient, token: str, **overrides: Any) -> TestResponse:
    return client.post("/register", json=metadata(**overrides), headers=bearer(token))


def registered(client: FlaskClient, token: str, **overrides: Any) -> dict[str, Any]:
    response = post_registration(client, token, **overrides)
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def management_path(info: dict[str, Any]) -> str:
    return str(info["registration_client_uri"]).removeprefix(ISSUER)


def stored(client_id: str) -> Client | None:
    db.session.expire_all()
    return db.session.scalar(db.select(Client).where(Client.client_id == client_id))


def count_clients() -> int:
    return db.session.scalar(db.select(db.func.count()).select_from(Client))


def uses_left(token: str) -> int:
    db.session.expire_all()
    row = db.session.scalar(db.select(InitialAccessToken).where(
        InitialAccessToken.token_hash == hashlib.sha256(token.encode()).hexdigest()))
    assert row is not None
    return row.uses_left


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@pytest.fixture
def initial_token(app: Flask) -> str:
    _, token = issue_initial_access_token(expires_in=3600, uses=5)
    return token


# Registration (RFC 7591 3)

def test_a_platform_registers_itself_and_receives_its_credentials_once(
        client: FlaskClient, initial_token: str) -> None:
    response = post_registration(client, initial_token)

    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    info = response.get_json()
    expected = metadata()
    for name in ("client_name", "redirect_uris", "logo_uri", "policy_uri", "tos_uri",
                 "client_uri", "contacts", "scope", "mob_scope_policy"):
        assert info[name] == expected[name], name
    assert info["grant_types"] == ["authorization_code"]
    assert info["response_types"] == ["code"]
    assert info["token_endpoint_auth_method"] == "client_secret_basic"
    assert info["id_token_signed_response_alg"] == "RS256"
    assert info["client_secret_expires_at"] == 0
    assert abs(info["client_id_issued_at"] - utcnow().timestamp()) < 60
    assert info["registration_client_uri"] == f"{ISSUER}/register/{info['client_id']}"
    # Both secrets are shown once and stored only as digests.
    row = stored(info["client_id"])
    assert row is not None
    assert row.client_secret_hash == sha256(info["client_secret"])
    assert row.registration_access_token_hash == sha256(info["registration_access_token"])
    assert row.require_pkce


def test_a_public_client_gets_no_secret(client: FlaskClient, initial_token: str) -> None:
    info = registered(client, initial_token, token_endpoint_auth_method="none")

    assert "client_secret" not in info and "client_secret_expires_at" not in info
    assert info["token_endpoint_auth_method"] == "none"
    row = stored(info["client_id"])
    assert row is not None and row.is_public and row.client_secret_hash is None
    assert row.require_pkce


def test_refresh_tokens_come_with_offline_access(client: FlaskClient,
                                                 initial_token: str) -> None:
    implied = registered(client, initial_token, scope="openid email phone offline_access")
    explicit = registered(client, initial_token, scope="openid email phone offline_access",
                          grant_types=["authorization_code", "refresh_token"],
                          response_types=["code"], token_endpoint_auth_method="client_secret_post")

    assert implied["grant_types"] == ["authorization_code", "refresh_token"]
    assert explicit["grant_types"] == ["authorization_code", "refresh_token"]
    assert explicit["token_endpoint_auth_method"] == "client_secret_post"


def test_without_scope_the_catalogue_decides_and_the_response_says_so(
        client: FlaskClient, initial_token: str) -> None:
    info = registered(client, initial_token, scope=DROP, mob_scope_policy=DROP, contacts=DROP)

    # Never a sensitive mobility scope nor a verified one (tests/clients/
    # test_standard_registration.py has the whole story).
    assert "email" in info["scope"].split()
    assert "accessibility_needs" not in info["scope"].split()
    assert info["mob_scope_policy"] == {} and info["contacts"] == []


def test_loopback_http_redirects_are_only_for_development(
        app: Flask, client: FlaskClient, initial_token: str) -> None:
    loopback = "http://127.0.0.1:8765/callback"
    assert registered(client, initial_token, redirect_uris=[loopback])["redirect_uris"] == [
        loopback]

    settings = app.extensions["idp.settings"]
    app.extensions["idp.settings"] = replace(settings, env="production")
    try:
        response = post_registration(client, initial_token, redirect_uris=[loopback])
    finally:
        app.extensions["idp.settings"] = settings

    assert response.status_code == 400
    assert response.get_json() == {"error": "invalid_redirect_uri",
                                   "error_description": f"{loopback}: must use https."}


BAD_METADATA = [
    pytest.param({"redirect_uris": ["http://national-carpool.example/callback"]},
                 "invalid_redirect_uri", "must use https", id="http-not-loopback"),
    pytest.param({"redirect_uris": ["http://192.168.1.10/callback"]},
                 "invalid_redirect_uri", "must use https", id="http-private-address"),
    pytest.param({"redirect_uris": [REDIRECT_URI + "#done"]},
                 "invalid_redirect_uri", "fragment", id="fragment"),
    pytest.param({"redirect_uris": ["/callback"]},
                 "invalid_redirect_uri", "absolute", id="relative-redirect"),
    pytest.param({"redirect_uris": DROP},
                 "invalid_redirect_uri", "at least one redirect URI", id="missing-redirect-uris"),
    pytest.param({"redirect_uris": []},
                 "invalid_redirect_uri", "at least one redirect URI", id="no-redirect-uri"),
    pytest.param({"redirect_uris": REDIRECT_URI},
                 "invalid_redirect_uri", "array of strings", id="redirect-uris-not-a-list"),
    pytest.param({"redirect_uris": [REDIRECT_URI + "?" + "x" * 500]},
                 "invalid_redirect_uri", "at most 500 characters", id="long-redirect-uri"),
    pytest.param({"redirect_uris": [f"{REDIRECT_URI}/{n}" for n in range(21)]},
                 "invalid_redirect_uri", "at most 20 redirect URIs", id="too-many-redirects"),
    pytest.param({"response_types": ["token"]},
                 "invalid_client_metadata", "only code", id="implicit-response-type"),
    pytest.param({"response_types": ["code id_token"]},
                 "invalid_client_metadata", "only code", id="hybrid-response-type"),
    pytest.param({"grant_types": ["implicit"]},
                 "invalid_client_metadata", "implicit not supported", id="implicit-grant"),
    pytest.param({"grant_types": ["authorization_code", "client_credentials"],
                  "token_endpoint_auth_method": "none"},
                 "invalid_client_metadata", "client_credentials is for confidential clients",
                 id="public-client-credentials-grant"),
    pytest.param({"grant_types": ["authorization_code", "password"]},
                 "invalid_client_metadata", "password not supported", id="password-grant"),
    pytest.param({"request_object_signing_alg": "none"},
                 "invalid_client_metadata", "request_object_signing_alg must be one of",
                 id="unsigned-request-objects"),
    pytest.param({"require_pushed_authorization_requests": "yes"},
                 "invalid_client_metadata", "must be a boolean", id="require-par-not-bool"),
    pytest.param({"grant_types": ["refresh_token"], "scope": "openid offline_access",
                  "mob_scope_policy": DROP},
                 "invalid_client_metadata", "must include authorization_code",
                 id="code-response-without-code-grant"),
    pytest.param({"token_endpoint_auth_method": "tls_client_auth"},
                 "invalid_client_metadata", "token_endpoint_auth_method must be one of",
                 id="unknown-auth-method"),
    pytest.param({"token_endpoint_auth_method": "private_key_jwt"},
                 "invalid_client_metadata", "private_key_jwt needs the client's keys",
                 id="private-key-jwt-without-keys"),
    pytest.param({"scope": "openid address",
                  "mob_scope_policy": {"address": {"required": True,
                                                   "purpose": {"en": "We deliver."}}}},
                 "invalid_client_metadata", "address is sensitive and can never be required",
                 id="sensitive-scope-required"),
    pytest.param({"scope": "openid email"},
                 "invalid_client_metadata", "names phone, not in the client's scope",
                 id="policy-scope-not-in-scope"),
    pytest.param({"mob_scope_policy": {"email": {"required": "yes", "purpose": EMAIL_PURPOSE}}},
                 "invalid_client_metadata", "boolean 'required'", id="required-not-boolean"),
    pytest.param({"mob_scope_policy": {"email": {"required": True}}},
                 "invalid_client_metadata", "'purpose' by language", id="purpose-missing"),
    pytest.param({"mob_scope_policy": {"email": "required"}},
                 "invalid_client_metadata", "mob_scope_policy.email must be an object",
                 id="policy-entry-not-an-object"),
    pytest.param({"mob_scope_policy": {"email": {"required": True,
                                                 "purpose": {"en": "x" * 301}}}},
                 "invalid_client_metadata", "sentences up to 300", id="long-purpose"),
    pytest.param({"mob_scope_policy": {"email": {"required": True, "purpose": {
                      f"l{n}": "We write to you." for n in range(11)}}}},
                 "invalid_client_metadata", "at most 10 languages", id="too-many-languages"),
    pytest.param({"mob_scope_policy": ["email"]},
                 "invalid_client_metadata", "mob_scope_policy must be an object",
                 id="policy-not-an-object"),
    pytest.param({"scope": "openid email teleportation", "mob_scope_policy": DROP},
                 "invalid_client_metadata", "unknown scope: teleportation", id="unknown-scope"),
    pytest.param({"contacts": ["dpo at national-carpool.example"]},
                 "invalid_client_metadata", "is not an email address", id="bad-contact"),
    pytest.param({"contacts": [f"dpo{n}@national-carpool.example" for n in range(11)]},
                 "invalid_client_metadata", "at most 10 addresses", id="too-many-contacts"),
    pytest.param({"contacts": "dpo@national-carpool.example"},
                 "invalid_client_metadata", "contacts must be an array", id="contacts-not-a-list"),
    pytest.param({"logo_uri": "http://national-carpool.example/logo.png"},
                 "invalid_client_metadata", "logo_uri must use https", id="http-logo"),
    pytest.param({"policy_uri": "javascript:alert(1)"},
                 "invalid_client_metadata", "policy_uri must be an absolute URL",
                 id="script-policy"),
    pytest.param({"tos_uri": "https://national-carpool.example/" + "t" * 500},
                 "invalid_client_metadata", "tos_uri has at most 500", id="long-tos-uri"),
    pytest.param({"client_name": DROP},
                 "invalid_client_metadata", "client_name is required", id="no-client-name"),
    pytest.param({"client_name": 42},
                 "invalid_client_metadata", "client_name must be a string", id="name-not-text"),
    pytest.param({"id_token_signed_response_alg": "none"},
                 "invalid_client_metadata", "RS256 or ES256", id="unsigned-id-token"),
    pytest.param({"backchannel_logout_uri": "https://national-carpool.example/bcl#x"},
                 "invalid_client_metadata", "no fragment", id="backchannel-fragment"),
    pytest.param({"mob_events_uri": "https://national-carpool.example/events#x"},
                 "invalid_client_metadata", "mob_events_uri: no fragment", id="events-fragment"),
    pytest.param({"mob_events_uri": "http://national-carpool.example/events"},
                 "invalid_client_metadata", "mob_events_uri must use https", id="http-events"),
    pytest.param({"mob_events_uri": ["https://national-carpool.example/events"]},
                 "invalid_client_metadata", "mob_events_uri must be a string",
                 id="events-not-text"),
    pytest.param({"backchannel_logout_session_required": "yes"},
                 "invalid_client_metadata", "must be a boolean", id="session-required-text"),
]


@pytest.mark.parametrize(("overrides", "error", "description"), BAD_METADATA)
def test_bad_metadata_is_refused_with_the_rule_it_breaks(
        client: FlaskClient, initial_token: str, overrides: dict[str, Any], error: str,
        description: str) -> None:
    response = post_registration(client, initial_token, **overrides)

    assert response.status_code == 400
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["error"] == error
    assert description in body["error_description"]
    assert count_clients() == 0
    assert uses_left(initial_token) == 5  # a refused registration costs no use


def test_an_error_description_stays_within_ascii(client: FlaskClient,
                                                 initial_token: str) -> None:
    response = post_registration(client, initial_token,
                                 redirect_uris=['https://carpool.example/cb#é"\\'])

    description = response.get_json()["error_description"]
    assert response.status_code == 400
    assert all(" " <= c <= "~" and c not in '"\\' for c in description)


@pytest.mark.parametrize("body", [
    {"data": "client_name=Carpool", "content_type": "application/x-www-form-urlencoded"},
    {"data": "{not json", "content_type": "application/json"},
    {"json": ["client_name", "Carpool"]},
])
def test_the_body_must_be_a_json_object(client: FlaskClient, initial_token: str,
                                        body: dict[str, Any]) -> None:
    response = client.post("/register", headers=bearer(initial_token), **body)

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_client_metadata"


def test_a_body_too_large_gets_a_json_answer(client: FlaskClient, initial_token: str) -> None:
    response = post_registration(client, initial_token, client_uri="x" * 300_000)

    assert response.status_code == 413
    assert response.get_json()["error"] == "invalid_request"
    assert uses_left(initial_token) == 5


def test_a_public_client_cannot_claim_a_secret_method(app: Flask) -> None:
    meta = ClientMetadata(client_name="Transit app", redirect_uris=[REDIRECT_URI], public=True,
                          token_endpoint_auth_method="client_secret_basic")

    with pytest.raises(ClientMetadataError, match="public client uses"):
        register(meta)


# Initial access tokens

@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer "},
    {"Authorization": "Basic bmF0aW9uYWw6Y2FycG9vbA=="},
])
def test_registration_without_an_initial_access_token_gets_a_challenge(
        client: FlaskClient, headers: dict[str, str]) -> None:
    response = client.post("/register", json=metadata(), headers=headers)

    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="registration"'
    assert count_clients() == 0


def test_an_unknown_initial_access_token_is_refused(client: FlaskClient,
                                                    initial_token: str) -> None:
    response = post_registration(client, initial_token + "x")

    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert count_clients() == 0


def test_an_initial_access_token_expires(client: FlaskClient, initial_token: str,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    later = utcnow() + timedelta(seconds=3601)
    monkeypatch.setattr(credentials, "utcnow", lambda: later)

    response = post_registration(client, initial_token)

    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"
    assert count_clients() == 0


def test_an_initial_access_token_registers_as_many_platforms_as_it_allows(
        app: Flask, client: FlaskClient) -> None:
    _, token = issue_initial_access_token(expires_in=600, uses=2)

    assert post_registration(client, token, client_name="First").status_code == 201
    assert post_registration(client, token, client_name="Second").status_code == 201
    third = post_registration(client, token, client_name="Third")

    assert third.status_code == 401
    assert third.get_json()["error"] == "invalid_token"
    assert sorted(c.client_name for c in db.session.scalars(db.select(Client))) == [
        "First", "Second"]


def test_the_operator_issues_an_initial_access_token_from_the_command_line(
        runner: CliRunner, client: FlaskClient) -> None:
    result = runner.invoke(args=["clients", "registration-token", "--expires-in", "600",
                                 "--uses", "3", "--json"])

    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    token = printed["initial_access_token"]
    assert printed["uses"] == 3
    assert printed["registration_endpoint"] == f"{ISSUER}/register"
    row = db.session.scalar(db.select(InitialAccessToken))
    assert row is not None
    assert row.token_hash == sha256(token) and row.uses_left == 3
    assert abs((row.expires_at - utcnow()).total_seconds() - 600) < 60
    assert post_registration(client, token).status_code == 201
    assert uses_left(token) == 2


def test_the_command_prints_the_token_once_in_plain_text(runner: CliRunner) -> None:
    result = runner.invoke(args=["clients", "registration-token"])

    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert first.startswith("initial_access_token: ")
    assert "shown once" in result.stdout


@pytest.mark.parametrize("options", [["--uses", "0"], ["--expires-in", "-5"]])
def test_the_command_refuses_a_useless_token(runner: CliRunner, options: list[str]) -> None:
    result = runner.invoke(args=["clients", "registration-token", *options])

    assert result.exit_code == 2
    assert db.session.scalar(db.select(InitialAccessToken)) is None


# Management (RFC 7592)

@pytest.fixture
def registration(client: FlaskClient, initial_token: str) -> dict[str, Any]:
    return registered(client, initial_token)


def test_a_platform_reads_its_registration(client: FlaskClient,
                                           registration: dict[str, Any]) -> None:
    token = registration["registration_access_token"]
    response = client.get(management_path(registration), headers=bearer(token))

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    read = response.get_json()
    assert "client_secret" not in read  # only its digest is kept
    assert read == {k: v for k, v in registration.items() if k != "client_secret"}


def test_a_registration_access_token_opens_only_its_own_registration(
        client: FlaskClient, initial_token: str, registration: dict[str, Any]) -> None:
    other = registered(client, initial_token, client_name="Regional carpool")
    token = registration["registration_access_token"]
    operator_made = make_platform()  # registered by the operator: no registration token

    for path, headers in (
        (management_path(other), bearer(token)),
        (management_path(registration), bearer(other["registration_access_token"])),
        (management_path(registration), bearer(token + "x")),
        (management_path(registration), bearer(registration["client_secret"])),
        (management_path(registration), bearer(initial_token)),
        (f"/register/{operator_made.client_id}", bearer(token)),
        ("/register/no-such-client", bearer(token)),
    ):
        for method in ("GET", "PUT", "DELETE"):
            response = client.open(path, method=method, headers=headers,
                                   json=metadata(client_id=path.rsplit("/", 1)[1]))
            assert response.status_code == 401, (path, method)
            assert response.get_json()["error"] == "invalid_token"
    assert count_clients() == 3


def test_management_without_a_token_gets_a_challenge(client: FlaskClient,
                                                     registration: dict[str, Any]) -> None:
    response = client.get(management_path(registration))

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="registration"'


def test_an_update_replaces_the_registration_and_rotates_the_token(
        client: FlaskClient, registration: dict[str, Any]) -> None:
    old_token = registration["registration_access_token"]
    path = management_path(registration)
    changed = metadata(client_id=registration["client_id"], client_name="National carpool+",
                       redirect_uris=[REDIRECT_URI, "https://national-carpool.example/cb2"],
                       logo_uri=DROP)

    response = client.put(path, json=changed, headers=bearer(old_token))

    assert response.status_code == 200, response.get_json()
    updated = response.get_json()
    new_token = updated["registration_access_token"]
    assert new_token != old_token
    assert updated["client_name"] == "National carpool+"
    assert updated["redirect_uris"] == changed["redirect_uris"]
    assert updated["logo_uri"] is None  # an omitted field is removed (RFC 7592 2.2)
    assert "client_secret" not in updated  # the secret is kept, not reissued
    assert client.get(path, headers=bearer(old_token)).status_code == 401
    assert client.get(path, headers=bearer(new_token)).get_json()["client_name"] == (
        "National carpool+")
    row = stored(registration["client_id"])
    assert row is not None and row.check_client_secret(registration["client_secret"])


def test_a_platform_registers_where_it_receives_events_and_changes_it(
        client: FlaskClient, initial_token: str) -> None:
    """Issue 14: ``mob_events_uri``, where the delegation events are pushed (RFC 8935)."""
    info = registered(client, initial_token,
                      mob_events_uri="https://national-carpool.example/events")
    assert info["mob_events_uri"] == "https://national-carpool.example/events"
    assert stored(info["client_id"]).events_uri == "https://national-carpool.example/events"

    token = info["registration_access_token"]
    response = client.put(management_path(info), headers=bearer(token),
                          json=metadata(client_id=info["client_id"]))

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["mob_events_uri"] is None  # omitted: removed (RFC 7592 2.2)
    assert stored(info["client_id"]).events_uri is None


def test_an_update_is_checked_like_a_registration(client: FlaskClient,
                                                  registration: dict[str, Any]) -> None:
    token = registration["registration_access_token"]
    path = management_path(registration)
    bad = metadata(client_id=registration["client_id"],
                   redirect_uris=["http://national-carpool.example/callback"])

    response = client.put(path, json=bad, headers=bearer(token))

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_redirect_uri"
    # Nothing changed, and the token was not rotated.
    read = client.get(path, headers=bearer(token))
    assert read.status_code == 200
    assert read.get_json()["redirect_uris"] == [REDIRECT_URI]


@pytest.mark.parametrize(("overrides", "description"), [
    ({"client_id": DROP}, "client_id must be the client's own"),
    ({"client_id": "another-client"}, "client_id must be the client's own"),
    ({"registration_access_token": "chosen-by-me"}, "issued by the provider"),
    ({"client_id_issued_at": 0}, "issued by the provider"),
    ({"client_secret": "not-the-secret"}, "not the one issued"),
])
def test_an_update_request_names_the_client_and_sets_nothing_the_provider_issues(
        client: FlaskClient, registration: dict[str, Any], overrides: dict[str, Any],
        description: str) -> None:
    body = metadata(**{"client_id": registration["client_id"], **overrides})
    response = client.put(management_path(registration), json=body,
                          headers=bearer(registration["registration_access_token"]))

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"
    assert description in response.get_json()["error_description"]


def test_an_update_may_repeat_the_current_secret(client: FlaskClient,
                                                 registration: dict[str, Any]) -> None:
    body = metadata(client_id=registration["client_id"],
                    client_secret=registration["client_secret"])
    response = client.put(management_path(registration), json=body,
                          headers=bearer(registration["registration_access_token"]))

    assert response.status_code == 200


def test_a_public_client_turning_confidential_receives_a_secret(
        client: FlaskClient, initial_token: str) -> None:
    public = registered(client, initial_token, token_endpoint_auth_method="none")
    body = metadata(client_id=public["client_id"], token_endpoint_auth_method="client_secret_post")

    response = client.put(management_path(public), json=body,
                          headers=bearer(public["registration_access_token"]))

    assert response.status_code == 200
    secret = response.get_json()["client_secret"]
    row = stored(public["client_id"])
    assert row is not None and row.check_client_secret(secret) and not row.is_public


def test_a_platform_deletes_its_registration(client: FlaskClient,
                                             registration: dict[str, Any]) -> None:
    token = registration["registration_access_token"]
    path = management_path(registration)

    response = client.delete(path, headers=bearer(token))

    assert response.status_code == 204
    assert response.data == b""
    assert stored(registration["client_id"]) is None
    assert client.get(path, headers=bearer(token)).status_code == 401


# Discovery, and a platform registered dynamically in use

def test_discovery_names_the_registration_endpoint(client: FlaskClient) -> None:
    document = client.get("/.well-known/openid-configuration").get_json()

    assert document["registration_endpoint"] == f"{ISSUER}/register"
    assert client.post("/register", json=metadata()).status_code == 401  # it answers


def platform_of(info: dict[str, Any]) -> Platform:
    row = stored(info["client_id"])
    assert row is not None
    return Platform(row, info["client_id"], info.get("client_secret"), info["redirect_uris"][0])


def log_in_through(browser: Browser, platform: Platform, scope: str) -> tuple[str, str]:
    """The code flow with PKCE up to the consent screen; returns the request's verifier
    and the screen's text."""
    request = AuthorizationRequest(platform.client_id, platform.redirect_uri, scope=scope)
    page = browser.authorize(request)
    assert page.status_code == 200, page.status_code
    return request.verifier, unescape(page.get_data(as_text=True))


def test_a_dynamically_registered_platform_completes_the_code_flow(
        logged_in: Browser, initial_token: str) -> None:
    platform = platform_of(registered(logged_in.client, initial_token))

    verifier, screen = log_in_through(logged_in, platform, "openid email phone")
    assert "National carpool" in screen
    assert EMAIL_PURPOSE["fr"] in screen  # the purpose it registered, in the page's language
    assert "dpo@national-carpool.example" in screen
    response = logged_in.follow_local(logged_in.consent("allow"))

    assert response.status_code == 302
    assert response.location.startswith(REDIRECT_URI + "?")
    tokens = redeem(logged_in.client, platform, query_of(response.location)["code"], verifier)
    assert tokens.status_code == 200, tokens.get_json()
    body = tokens.get_json()
    assert verify_id_token(logged_in.client, body["id_token"])["aud"] == [platform.client_id]
    assert "email" in userinfo(logged_in.client, body["access_token"]).get_json()


def test_a_platform_that_deletes_itself_loses_its_tokens(logged_in: Browser,
                                                         initial_token: str) -> None:
    info = registered(logged_in.client, initial_token, token_endpoint_auth_method="none")
    platform = platform_of(info)
    verifier, _ = log_in_through(logged_in, platform, "openid email")
    response = logged_in.follow_local(logged_in.consent("allow"))
    tokens = redeem(logged_in.client, platform, query_of(response.location)["code"], verifier)
    access_token = tokens.get_json()["access_token"]
    assert userinfo(logged_in.client, access_token).status_code == 200

    logged_in.client.delete(management_path(info),
                            headers=bearer(info["registration_access_token"]))

    assert userinfo(logged_in.client, access_token).status_code == 401


# The schema

def test_the_registration_migration_goes_down_and_up_again(app: Flask) -> None:
    db.session.remove()

    downgrade(revision="0005_registration-1")
    schema = inspect(db.engine)
    assert "initial_access_token" not in schema.get_table_names()
    assert "registration_access_token_hash" not in {c["name"] for c in schema.get_columns("client")}
    upgrade(revision="heads")

    schema = inspect(db.engine)
    assert "initial_access_token" in schema.get_table_names()
    assert "registration_access_token_hash" in {c["name"] for c in schema.get_columns("client")}
