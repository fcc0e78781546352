"""The claims parameter (OIDC Core 5.5) as an independent library sends it, over real
HTTP: pyoidc builds the request from its own ``ClaimsRequest`` message, with ``scope``
openid alone; the traveller sees email on the consent screen, marked essential, allows
it, and pyoidc reads it from userinfo and, asked for the ID token, from the ID token it
verified with the keys it discovered."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from oic import rndstr
from oic.oic import Client
from oic.oic.message import (
    AccessTokenResponse,
    AuthorizationResponse,
    Claims,
    ClaimsRequest,
    OpenIDSchema,
    RegistrationResponse,
)
from oic.utils.authn.client import CLIENT_AUTHN_METHOD

from tests.browser import form_action
from tests.live import (  # noqa: F401  (live_server is a fixture)
    HttpBrowser,
    LivePlatform,
    LiveServer,
    LiveTraveller,
    live_server,
)


@pytest.fixture
def carpool(live_server: LiveServer) -> LivePlatform:
    return live_server.add_platform(name="Claims Carpool")


@pytest.fixture
def browser(live_server: LiveServer) -> Iterator[HttpBrowser]:
    browser = HttpBrowser(live_server.url)
    yield browser
    browser.close()


def pyoidc_client(live_server: LiveServer, platform: LivePlatform) -> Client:
    """pyoidc configured as an operator would: discovery, then the registered credentials."""
    client = Client(client_authn_method=CLIENT_AUTHN_METHOD)
    client.provider_config(live_server.url)
    client.store_registration_info(RegistrationResponse(
        client_id=platform.client_id, client_secret=platform.client_secret,
        redirect_uris=[platform.redirect_uri], token_endpoint_auth_method="client_secret_basic"))
    client.redirect_uris = [platform.redirect_uri]
    return client


def test_pyoidc_asks_email_by_the_claims_parameter_and_gets_it(
        live_server: LiveServer, carpool: LivePlatform, browser: HttpBrowser) -> None:
    traveller: LiveTraveller = live_server.add_traveller()
    client = pyoidc_client(live_server, carpool)
    assert client.provider_info["claims_parameter_supported"] is True
    challenge, verifier = client.add_code_challenge()
    state, nonce = rndstr(32), rndstr(32)
    claims = ClaimsRequest(userinfo=Claims(email={"essential": True}),
                           id_token=Claims(email=None))
    url, _, _, _ = client.authorization_request_info(request_args={
        "response_type": "code", "scope": ["openid"], "redirect_uri": carpool.redirect_uri,
        "state": state, "nonce": nonce, "claims": claims, **challenge})

    browser.get(url)
    page = browser.submit({"email": traveller.email, "password": traveller.password})
    assert form_action(page.text, "").startswith("/consent/"), page.text
    assert 'name="claim" value="email"' in page.text and "tag--essential" in page.text
    answer = browser.allow_all()
    assert answer.status_code == 302, answer.text

    response = client.parse_response(AuthorizationResponse, info=answer.headers["Location"],
                                     sformat="urlencoded")
    assert response["state"] == state
    tokens = client.do_access_token_request(
        state=state, request_args={"code_verifier": verifier},
        authn_method="client_secret_basic")
    assert isinstance(tokens, AccessTokenResponse), tokens
    assert tokens["id_token"]["email"] == traveller.email  # verified by pyoidc
    info = client.do_user_info_request(state=state)
    assert isinstance(info, OpenIDSchema), info
    assert info["email"] == traveller.email
    assert info["sub"] == tokens["id_token"]["sub"]
