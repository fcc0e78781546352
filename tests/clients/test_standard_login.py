"""A platform registered with what its library sends signs a traveller in (issue 10,
item 1), over real HTTP against the live provider. The registration is the library's
own payload (see tests/clients/test_standard_registration.py for their sources); the
login is pyoidc's code flow with PKCE. With no scope registered, the platform asks for
email at authorization time and receives it in userinfo once the traveller allowed it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from oic import rndstr
from oic.oic import Client
from oic.oic.message import AccessTokenResponse, AuthorizationResponse, RegistrationResponse
from oic.utils.authn.client import CLIENT_AUTHN_METHOD

from clients.credentials import issue_initial_access_token
from idp.extensions import db
from tests.browser import form_action
from tests.clients.test_standard_registration import mod_auth_openidc, native_app, openid_client
from tests.live import (  # noqa: F401  (live_server is a fixture)
    PLATFORMS_PATH,
    HttpBrowser,
    LiveServer,
    LiveTraveller,
    live_server,
)


def register(server: LiveServer, body: dict[str, Any]) -> RegistrationResponse:
    with server.app.app_context():
        _, token = issue_initial_access_token(expires_in=3600, uses=1)
        db.session.remove()
    answer = requests.post(f"{server.url}/register", json=body, timeout=10,
                           headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 201, answer.text
    return RegistrationResponse(**answer.json())


def sign_in(server: LiveServer, registration: RegistrationResponse, traveller: LiveTraveller,
            browser: HttpBrowser, scope: str) -> tuple[Client, str, AccessTokenResponse]:
    """pyoidc's code flow with PKCE; a public client authenticates with its id only."""
    client = Client(client_authn_method=CLIENT_AUTHN_METHOD)
    client.provider_config(server.url)
    client.store_registration_info(registration)
    redirect_uri = registration["redirect_uris"][0]
    challenge, verifier = client.add_code_challenge()
    state = rndstr(32)
    url, _, _, _ = client.authorization_request_info(request_args={
        "response_type": "code", "scope": scope.split(), "redirect_uri": redirect_uri,
        "state": state, "nonce": rndstr(32), **challenge})
    browser.get(url)
    page = browser.submit({"email": traveller.email, "password": traveller.password})
    assert form_action(page.text, "").startswith("/consent/"), page.text
    answer = browser.allow_all()
    assert answer.status_code == 302, answer.text
    client.parse_response(AuthorizationResponse, info=answer.headers["Location"],
                          sformat="urlencoded")
    public = registration["token_endpoint_auth_method"] == "none"
    tokens = client.do_access_token_request(
        state=state, authn_method="" if public else "client_secret_basic",
        request_args={"code_verifier": verifier,
                      **({"client_id": registration["client_id"]} if public else {})})
    assert isinstance(tokens, AccessTokenResponse), tokens
    return client, state, tokens


@pytest.fixture
def browser(live_server: LiveServer) -> Iterator[HttpBrowser]:
    browser = HttpBrowser(live_server.url)
    yield browser
    browser.close()


PAYLOADS = {
    "mod_auth_openidc": lambda uri: mod_auth_openidc(uri),
    "openid-client": lambda uri: openid_client(uri),
    "openid-client-with-scope": lambda uri: openid_client(uri, scope="openid email"),
    "native-app": lambda uri: native_app(uri),
}


@pytest.mark.parametrize("library", PAYLOADS)
def test_a_platform_registered_by_its_library_receives_email_after_consent(
        live_server: LiveServer, browser: HttpBrowser, library: str) -> None:
    traveller = live_server.add_traveller()
    # The provider's own loopback origin: a native app's loopback redirect URI too.
    redirect_uri = f"{live_server.url}{PLATFORMS_PATH}{library}/cb"
    registration = register(live_server, PAYLOADS[library](redirect_uri))

    client, state, tokens = sign_in(live_server, registration, traveller, browser,
                                    scope="openid email")

    assert set(tokens["scope"]) == {"openid", "email"}
    info = client.do_user_info_request(state=state)
    assert info["email"] == traveller.email
    assert info["sub"] == live_server.subject_for(traveller, registration["client_id"])


def test_openid_clients_refresh_grant_brings_refresh_tokens_with_offline_access(
        live_server: LiveServer, browser: HttpBrowser) -> None:
    traveller = live_server.add_traveller()
    registration = register(live_server, openid_client(
        f"{live_server.url}{PLATFORMS_PATH}node/cb"))

    client, state, tokens = sign_in(live_server, registration, traveller, browser,
                                    scope="openid email offline_access")

    assert tokens["refresh_token"]
    refreshed = client.do_access_token_refresh(state=state, authn_method="client_secret_basic")
    assert isinstance(refreshed, AccessTokenResponse), refreshed
    assert client.do_user_info_request(token=refreshed["access_token"])["email"] == (
        traveller.email)
