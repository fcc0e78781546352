"""Interoperability with a second, independent OpenID Connect library (issue 4): pyoidc,
not the provider's Authlib, plays a platform that joins on its own. Over real HTTP
against the live provider it registers itself (RFC 7591), signs a traveller in with the
code flow and PKCE, verifies the ID token with the keys it discovered, refreshes,
introspects (RFC 7662), revokes (RFC 7009) and sends the traveller to RP-initiated logout.

Where pyoidc falls short, the gap is said where it is bridged:
- ``oic.oic.Client.register`` base64-encodes any initial access token that is not a JWT
  before sending it as a Bearer token, which no RFC 7591 server would recognise; pyoidc
  builds the registration request and reads the answer, only the POST is made here.
- ``oic.oic.Client`` has no introspection or revocation; pyoidc's OAuth 2.0 extension
  client (``oic.extension.client.Client``) has both, and is given the same discovery and
  registration."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from oic import rndstr
from oic.extension.client import Client as ExtensionClient
from oic.oauth2.message import ErrorResponse
from oic.oic import Client
from oic.oic.message import (
    AccessTokenResponse,
    AuthorizationResponse,
    EndSessionRequest,
    IdToken,
    RegistrationResponse,
)
from oic.utils.authn.client import CLIENT_AUTHN_METHOD

from clients.credentials import issue_initial_access_token
from idp.extensions import db
from tests.browser import form_action, query_of
from tests.live import (  # noqa: F401  (live_server is a fixture)
    PLATFORMS_PATH,
    HttpBrowser,
    LiveServer,
    LiveTraveller,
    live_server,
)

SCOPE = "openid email offline_access"


@dataclass
class SignIn:
    state: str
    nonce: str
    tokens: AccessTokenResponse


class SelfRegisteredPlatform:
    """A platform as pyoidc builds one from nothing but the issuer and an initial access
    token from the operator: discovery, dynamic registration, then the flows."""

    def __init__(self, issuer: str, initial_access_token: str) -> None:
        self.issuer = issuer
        origin = f"{issuer}{PLATFORMS_PATH}interop"
        self.redirect_uri = f"{origin}/cb"
        self.post_logout_redirect_uri = f"{origin}/logged-out"
        self.client = Client(client_authn_method=CLIENT_AUTHN_METHOD)
        self.discovery = self.client.provider_config(issuer)
        self.registration = self.register(initial_access_token)
        # pyoidc's OAuth 2.0 client for RFC 7662 and RFC 7009, with the same registration.
        self.oauth = ExtensionClient(client_authn_method=CLIENT_AUTHN_METHOD)
        self.oauth.introspection_endpoint = self.discovery["introspection_endpoint"]
        self.oauth.revocation_endpoint = self.discovery["revocation_endpoint"]
        self.oauth.store_registration_info(self.registration)

    def register(self, initial_access_token: str) -> RegistrationResponse:
        request = self.client.create_registration_request(
            client_name="Interop Carpool",
            redirect_uris=[self.redirect_uri],
            post_logout_redirect_uris=[self.post_logout_redirect_uri],
            response_types=["code"],
            token_endpoint_auth_method="client_secret_basic",
        )
        # OIDC Registration 1.0, which pyoidc's request follows, has no `scope` (RFC 7591
        # 2 has); and pyoidc derives grant_types from response_types alone, while
        # offline_access needs refresh_token. Both are set on pyoidc's request.
        request["scope"] = SCOPE
        request["grant_types"] = ["authorization_code", "refresh_token"]
        # The one request pyoidc cannot make (see the module's docstring): the initial
        # access token goes as is, and pyoidc reads the answer into its client.
        answer = requests.post(
            self.discovery["registration_endpoint"], data=request.to_json(), timeout=10,
            headers={"Content-Type": "application/json",
                     "Authorization": f"Bearer {initial_access_token}"},
        )
        assert answer.status_code == 201, answer.text
        registration = self.client.handle_registration_info(answer)
        assert isinstance(registration, RegistrationResponse), registration
        return registration

    @property
    def client_id(self) -> str:
        return str(self.client.client_id)

    def authorization_url(self, **extra: Any) -> tuple[str, str, str, str]:
        """The URL, state, nonce and PKCE code verifier of a new authorization request."""
        challenge, verifier = self.client.add_code_challenge()
        state, nonce = rndstr(32), rndstr(32)
        url, _, _, _ = self.client.authorization_request_info(request_args={
            "response_type": "code", "scope": SCOPE.split(), "redirect_uri": self.redirect_uri,
            "state": state, "nonce": nonce, **challenge, **extra,
        })
        return url, state, nonce, verifier

    def sign_in(self, browser: HttpBrowser, traveller: LiveTraveller) -> SignIn:
        url, state, nonce, verifier = self.authorization_url()
        page = browser.get(url)
        assert page.status_code == 200 and "Interop Carpool" in page.text
        page = browser.submit({"email": traveller.email, "password": traveller.password})
        assert form_action(page.text, "").startswith("/consent/"), page.text
        answer = browser.allow_all()
        assert answer.status_code == 302, answer.text
        location = answer.headers["Location"]
        assert location.startswith(self.redirect_uri + "?")
        # pyoidc checks the iss parameter of the response against the issuer.
        response = self.client.parse_response(AuthorizationResponse, info=location,
                                              sformat="urlencoded")
        assert response["state"] == state
        tokens = self.client.do_access_token_request(
            state=state, request_args={"code_verifier": verifier},
            authn_method="client_secret_basic",
        )
        assert isinstance(tokens, AccessTokenResponse), tokens
        return SignIn(state, nonce, tokens)

    def introspect(self, token: str) -> dict[str, Any]:
        answer = self.oauth.do_token_introspection(
            request_args={"token": token}, authn_method="client_secret_basic")
        return dict(answer.to_dict())

    def revoke(self, token: str, hint: str) -> Any:
        return self.oauth.do_token_revocation(
            request_args={"token": token, "token_type_hint": hint},
            authn_method="client_secret_basic")

    def refresh(self, state: str) -> AccessTokenResponse | ErrorResponse:
        return self.client.do_access_token_refresh(state=state,
                                                   authn_method="client_secret_basic")


@pytest.fixture
def initial_access_token(live_server: LiveServer) -> str:
    """What ``idp clients registration-token --uses 1`` prints, issued in the server's app."""
    with live_server.app.app_context():
        _, token = issue_initial_access_token(expires_in=3600, uses=1)
        db.session.remove()
    return token


@pytest.fixture
def platform(live_server: LiveServer, initial_access_token: str) -> SelfRegisteredPlatform:
    return SelfRegisteredPlatform(live_server.url, initial_access_token)


@pytest.fixture
def traveller(live_server: LiveServer) -> LiveTraveller:
    return live_server.add_traveller()


@pytest.fixture
def browser(live_server: LiveServer) -> Iterator[HttpBrowser]:
    browser = HttpBrowser(live_server.url)
    yield browser
    browser.close()


def test_a_self_registered_pyoidc_platform_lives_its_whole_life(
    live_server: LiveServer, platform: SelfRegisteredPlatform, browser: HttpBrowser,
    traveller: LiveTraveller,
) -> None:
    # Discovery names every endpoint the story uses.
    for endpoint in ("registration_endpoint", "introspection_endpoint",
                     "revocation_endpoint", "end_session_endpoint"):
        assert platform.discovery[endpoint].startswith(live_server.url + "/")

    # Registration: pyoidc now holds the credentials the provider issued.
    registration = platform.registration
    assert platform.client.client_secret == registration["client_secret"]
    assert registration["token_endpoint_auth_method"] == "client_secret_basic"
    assert registration["redirect_uris"] == [platform.redirect_uri]
    assert registration["post_logout_redirect_uris"] == [platform.post_logout_redirect_uri]
    assert set(registration["grant_types"]) == {"authorization_code", "refresh_token"}
    assert registration["registration_access_token"]
    assert registration["registration_client_uri"] == (
        f"{live_server.url}/register/{platform.client_id}")

    # Code flow with PKCE; pyoidc verified the ID token's signature (keys from jwks_uri),
    # issuer, audience and nonce when it parsed the token response.
    signed_in = platform.sign_in(browser, traveller)
    tokens = signed_in.tokens
    id_token = tokens["id_token"]
    assert isinstance(id_token, IdToken)
    assert id_token["iss"] == live_server.url
    assert id_token["aud"] == [platform.client_id]
    assert id_token["nonce"] == signed_in.nonce
    assert id_token["sub"] == live_server.subject_for(traveller, platform.client_id)
    assert id_token["sid"]
    assert tokens["refresh_token"]
    assert set(tokens["scope"]) == set(SCOPE.split())

    # Introspection of the access token, by the platform it was issued to.
    introspected = platform.introspect(tokens["access_token"])
    assert introspected["active"] is True
    assert introspected["client_id"] == platform.client_id
    assert introspected["sub"] == id_token["sub"]

    # Refresh: a new access token and a rotated refresh token.
    refreshed = platform.refresh(signed_in.state)
    assert isinstance(refreshed, AccessTokenResponse), refreshed
    assert refreshed["access_token"] != tokens["access_token"]
    assert refreshed["refresh_token"] != tokens["refresh_token"]
    assert platform.introspect(refreshed["access_token"])["active"] is True
    assert platform.introspect(refreshed["refresh_token"])["active"] is True

    # Revocation of the refresh token ends its grant, access token included.
    assert platform.revoke(refreshed["refresh_token"], "refresh_token") == 200
    assert platform.introspect(refreshed["refresh_token"]) == {"active": False}
    assert platform.introspect(refreshed["access_token"]) == {"active": False}
    failed = platform.refresh(signed_in.state)
    assert isinstance(failed, ErrorResponse), failed
    assert failed["error"] == "invalid_grant"

    # RP-initiated logout: pyoidc builds the request with the ID token as hint; the
    # browser goes there and comes back to the registered URI with the state. (pyoidc
    # would take the hint from its grant, but the refresh answer, without an ID token as
    # OIDC Core 12.2 allows, replaced the token that held it: it is handed over.)
    logout_state = rndstr(16)
    url, _, _, _ = platform.client.request_info(
        EndSessionRequest, method="GET", state=signed_in.state, id_token=id_token.jwt,
        request_args={"post_logout_redirect_uri": platform.post_logout_redirect_uri,
                      "state": logout_state})
    assert url.startswith(platform.discovery["end_session_endpoint"] + "?")
    assert query_of(url)["id_token_hint"] == id_token.jwt
    answer = browser.get(url)
    assert answer.status_code == 302, answer.text
    assert answer.headers["Location"] == (
        f"{platform.post_logout_redirect_uri}?state={logout_state}")

    # The provider session is gone: a silent authorization request needs a login.
    url, state, _, _ = platform.authorization_url(prompt="none")
    answer = browser.get(url)
    assert answer.status_code == 302, answer.text
    assert answer.headers["Location"].startswith(platform.redirect_uri + "?")
    error = platform.client.parse_response(AuthorizationResponse,
                                           info=answer.headers["Location"],
                                           sformat="urlencoded")
    assert isinstance(error, ErrorResponse), error
    assert error["error"] == "login_required"
    assert error["state"] == state


def test_revoking_the_access_token_ends_the_refresh_token_too(
    platform: SelfRegisteredPlatform, browser: HttpBrowser, traveller: LiveTraveller,
) -> None:
    signed_in = platform.sign_in(browser, traveller)
    tokens = signed_in.tokens
    assert platform.revoke(tokens["access_token"], "access_token") == 200
    assert platform.introspect(tokens["access_token"]) == {"active": False}
    assert platform.introspect(tokens["refresh_token"]) == {"active": False}
    failed = platform.refresh(signed_in.state)
    assert isinstance(failed, ErrorResponse) and failed["error"] == "invalid_grant"


def test_the_initial_access_token_is_spent_by_the_registration(
    live_server: LiveServer, platform: SelfRegisteredPlatform, initial_access_token: str,
) -> None:
    with pytest.raises(AssertionError, match="invalid_token"):
        SelfRegisteredPlatform(live_server.url, initial_access_token)


def test_introspection_needs_the_platform_secret(
    platform: SelfRegisteredPlatform, browser: HttpBrowser, traveller: LiveTraveller,
) -> None:
    tokens = platform.sign_in(browser, traveller).tokens
    answer = requests.post(platform.discovery["introspection_endpoint"],
                           data={"token": tokens["access_token"]},
                           auth=(platform.client_id, "not-the-secret"), timeout=10)
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"
