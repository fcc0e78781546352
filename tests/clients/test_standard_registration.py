"""Registration accepts what standard libraries send (issue 10, item 1): no ``scope``
(OpenID Connect Dynamic Client Registration 1.0 has none), grant types and scope that
disagree, every flow a library knows, and native apps (RFC 8252) with ``application_type``.

The payloads are the ones the libraries themselves send:
- Apache's mod_auth_openidc, ``oidc_metadata_client_register`` in src/metadata.c
  (github.com/OpenIDC/mod_auth_openidc): client_name, one redirect URI, every flow it
  supports as response_types, grant_types ``["authorization_code", "implicit",
  "refresh_token"]``, initiate_login_uri, and front- and back-channel logout URIs on its
  redirect URI; no scope (its OIDCScope is sent at authorization time).
- openid-client (Node, github.com/panva/openid-client), ``issuer.Client.register`` as
  Inrupt's solid-client-authn-node calls it: redirect_uris, client_name,
  id_token_signed_response_alg and grant_types ``["authorization_code",
  "refresh_token"]``, no scope; its documented defaults fill the rest (response_types
  code, client_secret_basic).
- A native app as AppAuth registers one: application_type native, token endpoint
  authentication none, a loopback or private-use redirect URI."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from clients.credentials import issue_initial_access_token
from consent.scopes import CATALOGUE
from idp.extensions import db
from idp.oauth.models import Client
from idp.oauth.subjects import sector_of
from tests.browser import AuthorizationRequest, Browser, query_of
from tests.factories import Platform
from tests.tokens import redeem

ISSUER = "https://idp.test"
REDIRECT = "https://carpool.example/redirect_uri"
MOD_AUTH_OPENIDC_FLOWS = ["code", "id_token", "id_token token", "code id_token", "code token",
                          "code id_token token"]
EVERYDAY = ["openid", "profile:alias", "profile", "age_over_18", "email", "phone", "address",
            "home_commune", "carpool", "preferred_modes", "transit_pass", "employer"]


def mod_auth_openidc(redirect_uri: str = REDIRECT) -> dict[str, Any]:
    return {
        "client_name": "Apache carpool",
        "redirect_uris": [redirect_uri],
        "response_types": MOD_AUTH_OPENIDC_FLOWS,
        "grant_types": ["authorization_code", "implicit", "refresh_token"],
        "initiate_login_uri": redirect_uri,
        "frontchannel_logout_uri": f"{redirect_uri}?logout=get",
        "backchannel_logout_uri": f"{redirect_uri}?logout=backchannel",
    }


def openid_client(redirect_uri: str = REDIRECT, **extra: Any) -> dict[str, Any]:
    return {"redirect_uris": [redirect_uri], "client_name": "Node carpool",
            "id_token_signed_response_alg": "ES256",
            "grant_types": ["authorization_code", "refresh_token"], **extra}


def native_app(*redirect_uris: str, **extra: Any) -> dict[str, Any]:
    return {"client_name": "Carpool app", "application_type": "native",
            "token_endpoint_auth_method": "none",
            "redirect_uris": list(redirect_uris) or ["org.example.carpool:/oauth2redirect"],
            **extra}


@pytest.fixture
def initial_token(app: Flask) -> str:
    _, token = issue_initial_access_token(expires_in=3600, uses=20)
    return token


def post(client: FlaskClient, token: str, body: dict[str, Any]) -> TestResponse:
    return client.post("/register", json=body, headers={"Authorization": f"Bearer {token}"})


def register(client: FlaskClient, token: str, body: dict[str, Any]) -> dict[str, Any]:
    response = post(client, token, body)
    assert response.status_code == 201, response.get_json()
    info: dict[str, Any] = response.get_json()
    return info


def stored(client_id: str) -> Client:
    db.session.expire_all()
    client = db.session.scalar(db.select(Client).where(Client.client_id == client_id))
    assert client is not None
    return client


# Scope (item 1)

def test_without_scope_a_platform_may_ask_for_the_standard_and_everyday_scopes(
        client: FlaskClient, initial_token: str) -> None:
    info = register(client, initial_token, {"client_name": "Plain OIDC client",
                                            "redirect_uris": [REDIRECT]})

    # RFC 7591 3.2.1: the response says which scope was registered.
    assert info["scope"].split() == EVERYDAY
    assert info["grant_types"] == ["authorization_code"]
    for name in ("accessibility_needs", "eligibility", "identity_verified", "driving_licence",
                 "offline_access"):
        assert name not in info["scope"].split()
    assert all(not CATALOGUE[s].sensitive for s in EVERYDAY if s != "address")


def test_sensitive_and_verified_scopes_stay_behind_a_declaration(
        client: FlaskClient, initial_token: str) -> None:
    undeclared = stored(register(client, initial_token, openid_client())["client_id"])
    declared = stored(register(client, initial_token, openid_client(
        scope="openid email accessibility_needs identity_verified",
        mob_scope_policy={"accessibility_needs": {"required": False, "purpose": {
            "en": "The driver keeps room for your wheelchair."}},
            "identity_verified": {"required": False, "purpose": {
                "en": "Drivers carry only checked travellers."}}}))["client_id"])

    asked = "openid email accessibility_needs eligibility identity_verified driving_licence"
    assert undeclared.get_allowed_scope(asked) == "openid email"
    assert declared.get_allowed_scope(asked) == "openid email accessibility_needs " \
                                                "identity_verified"


def test_openid_clients_registration_gets_refresh_tokens_with_offline_access(
        client: FlaskClient, initial_token: str) -> None:
    info = register(client, initial_token, openid_client())

    assert info["grant_types"] == ["authorization_code", "refresh_token"]
    assert info["scope"].split() == [*EVERYDAY, "offline_access"]
    assert info["id_token_signed_response_alg"] == "ES256"
    assert info["token_endpoint_auth_method"] == "client_secret_basic"
    assert info["application_type"] == "web"


def test_a_refresh_grant_without_offline_access_is_kept(client: FlaskClient,
                                                        initial_token: str) -> None:
    # OIDC Core 11: refresh tokens are issued only when offline_access is asked and
    # granted, so the grant type alone gives nothing and needs no refusal.
    info = register(client, initial_token, openid_client(scope="openid email"))

    assert info["scope"] == "openid email"
    assert info["grant_types"] == ["authorization_code", "refresh_token"]


def test_offline_access_without_the_refresh_grant_gets_it_added(
        client: FlaskClient, initial_token: str) -> None:
    info = register(client, initial_token, openid_client(
        scope="openid email offline_access", grant_types=["authorization_code"]))

    assert info["scope"] == "openid email offline_access"
    assert info["grant_types"] == ["authorization_code", "refresh_token"]


def test_mod_auth_openidc_is_registered_for_the_code_flow(client: FlaskClient,
                                                          initial_token: str) -> None:
    info = register(client, initial_token, mod_auth_openidc())

    # Only the code flow is built; the response shows what was kept (RFC 7591 3.2.1).
    assert info["response_types"] == ["code"]
    assert info["grant_types"] == ["authorization_code", "refresh_token"]
    assert info["scope"].split() == [*EVERYDAY, "offline_access"]
    assert info["backchannel_logout_uri"] == f"{REDIRECT}?logout=backchannel"
    assert "initiate_login_uri" not in info  # not understood, so not registered


def test_a_public_client_asking_for_refresh_gets_offline_access(
        client: FlaskClient, initial_token: str) -> None:
    # A phone app stays signed in: its refresh tokens rotate, and live 7 days at most and
    # 1 day unused (RFC 9700 4.14.2; tests/oauth/test_public_refresh.py).
    info = register(client, initial_token, openid_client(token_endpoint_auth_method="none"))

    assert info["scope"].split() == [*EVERYDAY, "offline_access"]
    assert info["grant_types"] == ["authorization_code", "refresh_token"]


def test_a_public_client_may_declare_offline_access(client: FlaskClient,
                                                    initial_token: str) -> None:
    info = register(client, initial_token, native_app(scope="openid offline_access"))

    assert info["scope"].split() == ["openid", "offline_access"]
    assert info["grant_types"] == ["authorization_code", "refresh_token"]


def test_a_platform_back_end_registers_client_credentials_and_uses_it(
        client: FlaskClient, initial_token: str) -> None:
    info = register(client, initial_token, openid_client(
        grant_types=["authorization_code", "client_credentials"]))
    assert info["grant_types"] == ["authorization_code", "client_credentials"]

    token = client.post("/token", data={"grant_type": "client_credentials",
                                        "scope": "consent:read"},
                        auth=(info["client_id"], info["client_secret"]))
    assert token.status_code == 200, token.get_json()
    assert token.get_json()["scope"] == "consent:read"


def test_request_object_and_par_settings_are_registered(client: FlaskClient,
                                                        initial_token: str) -> None:
    info = register(client, initial_token, openid_client(
        require_pushed_authorization_requests=True, request_object_signing_alg="ES256"))

    assert info["require_pushed_authorization_requests"] is True
    assert info["request_object_signing_alg"] == "ES256"
    assert stored(info["client_id"]).require_pushed_authorization_requests


@pytest.mark.parametrize(("body", "description"), [
    ({"response_types": ["id_token", "code id_token"]}, "only code"),
    ({"grant_types": ["implicit"]}, "implicit not supported"),
    ({"grant_types": ["authorization_code", "client_credentials"],
      "token_endpoint_auth_method": "none"}, "client_credentials is for confidential clients"),
    ({"application_type": "desktop"}, "application_type must be web or native"),
    ({"application_type": 7}, "application_type must be a string"),
])
def test_what_cannot_be_reconciled_is_refused(client: FlaskClient, initial_token: str,
                                              body: dict[str, Any], description: str) -> None:
    response = post(client, initial_token, openid_client(**body))

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_client_metadata"
    assert description in response.get_json()["error_description"]


# application_type and native redirect URIs (RFC 8252)

NATIVE_URIS = ["http://127.0.0.1/cb", "http://127.0.0.1:61023/oauth2/cb", "http://[::1]/cb",
               "http://[::1]:8080/cb", "org.example.carpool:/oauth2redirect",
               "com.example.app:/cb?x=1", "https://app.carpool.example/oauth2/cb"]


@pytest.mark.parametrize("uri", NATIVE_URIS)
def test_a_native_app_registers_rfc_8252_redirect_uris_in_production(
        app: Flask, client: FlaskClient, initial_token: str, uri: str) -> None:
    settings = app.extensions["idp.settings"]
    app.extensions["idp.settings"] = replace(settings, env="production")
    try:
        response = post(client, initial_token, native_app(uri))
    finally:
        app.extensions["idp.settings"] = settings

    assert response.status_code == 201, response.get_json()
    info = response.get_json()
    assert info["application_type"] == "native"
    assert info["redirect_uris"] == [uri]
    assert stored(info["client_id"]).application_type == "native"


@pytest.mark.parametrize(("uri", "description"), [
    ("http://localhost/cb", "a native app uses https, a private-use scheme"),
    ("http://carpool.example/cb", "a native app uses https, a private-use scheme"),
    ("http://192.168.1.4:8080/cb", "a native app uses https, a private-use scheme"),
    ("carpool:/cb", "must be an absolute URL"),
    ("javascript:alert(1)", "must be an absolute URL"),
    ("org.example.carpool:/cb#frag", "a fragment is not allowed"),
])
def test_a_native_app_cannot_register_other_redirect_uris(
        client: FlaskClient, initial_token: str, uri: str, description: str) -> None:
    response = post(client, initial_token, native_app(uri))

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_redirect_uri"
    assert description in response.get_json()["error_description"]


def test_a_web_platform_keeps_the_web_rules(client: FlaskClient, initial_token: str) -> None:
    response = post(client, initial_token, openid_client("org.example.carpool:/cb"))

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_redirect_uri"


def test_the_application_type_is_read_and_updated_with_the_registration(
        client: FlaskClient, initial_token: str) -> None:
    info = register(client, initial_token, native_app("http://127.0.0.1/cb"))
    path = str(info["registration_client_uri"]).removeprefix(ISSUER)
    headers = {"Authorization": f"Bearer {info['registration_access_token']}"}

    assert client.get(path, headers=headers).get_json()["application_type"] == "native"
    update = {**native_app("http://[::1]/cb"), "client_id": info["client_id"]}
    updated = client.put(path, json=update, headers=headers)
    assert updated.status_code == 200, updated.get_json()
    assert updated.get_json()["application_type"] == "native"
    assert updated.get_json()["redirect_uris"] == ["http://[::1]/cb"]
    # Turned web, the loopback host would become its sector: every `sub` would change.
    headers = {"Authorization": f"Bearer {updated.get_json()['registration_access_token']}"}
    refused = client.put(path, json={**update, "application_type": "web"}, headers=headers)
    assert refused.status_code == 400
    assert "the sector stays" in refused.get_json()["error_description"]


def test_native_apps_on_the_loopback_do_not_share_a_sector(client: FlaskClient,
                                                           initial_token: str) -> None:
    # Every native app listens on 127.0.0.1: that host names no platform, so two such
    # apps must not receive the same pairwise `sub` for a traveller (OIDC Core 8.1).
    first = stored(register(client, initial_token, native_app("http://127.0.0.1/cb"))[
        "client_id"])
    second = stored(register(client, initial_token, native_app("http://127.0.0.1/cb"))[
        "client_id"])
    scheme = stored(register(client, initial_token, native_app())["client_id"])
    both = stored(register(client, initial_token, native_app(
        "http://127.0.0.1/cb", "org.example.carpool:/cb"))["client_id"])

    assert sector_of(first) == first.client_id
    assert sector_of(second) == second.client_id
    assert sector_of(scheme) == "org.example.carpool"
    # Its loopback URI names no host of another party: no sector_identifier_uri needed.
    assert sector_of(both) == "org.example.carpool"


def test_a_native_app_receives_its_code_at_its_private_use_scheme(
        logged_in: Browser, initial_token: str) -> None:
    info = register(logged_in.client, initial_token, native_app())
    platform = Platform(stored(info["client_id"]), info["client_id"], None,
                        "org.example.carpool:/oauth2redirect")
    request = AuthorizationRequest(platform.client_id, platform.redirect_uri,
                                   scope="openid email")
    assert logged_in.authorize(request).status_code == 200  # the consent screen

    response = logged_in.follow_local(logged_in.consent("allow"))

    assert response.status_code == 302
    assert response.location.startswith("org.example.carpool:/oauth2redirect?")
    tokens = redeem(logged_in.client, platform, query_of(response.location)["code"],
                    request.verifier)
    assert tokens.status_code == 200, tokens.get_json()
    assert tokens.get_json()["scope"] == "openid email"
