"""A platform's story over real HTTP. pyoidc, an OpenID Connect library independent of
the provider's Authlib, plays the platform's backend; a requests session plays the
traveller's browser; the provider runs live on a loopback port."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from jwkest import BadSignature, jws
from oic import rndstr
from oic.oic import Client
from oic.oic.message import (
    AccessTokenResponse,
    AuthorizationRequest,
    AuthorizationResponse,
    IdToken,
    RegistrationResponse,
)
from oic.utils.authn.client import CLIENT_AUTHN_METHOD

from tests.browser import form_action, query_of
from tests.live import (  # noqa: F401  (live_server is a fixture)
    HttpBrowser,
    LivePlatform,
    LiveServer,
    LiveTraveller,
    live_server,
)

OFFLINE = "openid profile email offline_access"


@dataclass
class Login:
    """One authorization request a platform sent, kept in its session until the callback."""

    url: str
    request: AuthorizationRequest
    verifier: str

    @property
    def state(self) -> str:
        return str(self.request["state"])

    @property
    def nonce(self) -> str:
        return str(self.request["nonce"])


class PyoidcPlatform:
    """A platform's backend as pyoidc's documentation builds one: discovery first, then
    the registration its operator was given, then requests with state, nonce and PKCE."""

    def __init__(self, issuer: str, registration: LivePlatform) -> None:
        self.registration = registration
        self.client = Client(client_authn_method=CLIENT_AUTHN_METHOD)
        self.discovery = self.client.provider_config(issuer)
        self.client.store_registration_info(RegistrationResponse(
            client_id=registration.client_id,
            client_secret=registration.client_secret,
            redirect_uris=[registration.redirect_uri],
        ))

    @property
    def client_id(self) -> str:
        return self.registration.client_id

    def start_login(self, scope: str) -> Login:
        challenge, verifier = self.client.add_code_challenge()
        url, _, _, request = self.client.authorization_request_info(request_args={
            "response_type": "code",
            "scope": scope.split(),
            "redirect_uri": self.registration.redirect_uri,
            "state": rndstr(32),
            "nonce": rndstr(32),
            **challenge,
        })
        return Login(url, request, verifier)

    def callback(self, location: str, login: Login) -> AuthorizationResponse:
        """Parse the redirect the browser brought back; pyoidc checks its ``iss``."""
        response = self.client.parse_response(AuthorizationResponse, info=location,
                                              sformat="urlencoded")
        assert response["state"] == login.state
        return response

    def redeem(self, login: Login, auth_method: str = "client_secret_basic") -> AccessTokenResponse:
        """Exchange the code; pyoidc verifies the ID token against the JWKS it discovered."""
        return self.client.do_access_token_request(
            state=login.state,
            request_args={"code_verifier": login.verifier},
            authn_method=auth_method,
        )


@pytest.fixture
def traveller(live_server: LiveServer) -> LiveTraveller:
    # Phone and address are filled in so that their absence from userinfo means something.
    return live_server.add_traveller(phone_number="+33 6 12 34 56 78",
                                     street_address="12 rue de la Gare", postal_code="69002",
                                     locality="Lyon", country="France")


@pytest.fixture
def carpool(live_server: LiveServer) -> PyoidcPlatform:
    return PyoidcPlatform(live_server.url, live_server.add_platform(name="Carpool Lyon"))


@pytest.fixture
def transit(live_server: LiveServer) -> PyoidcPlatform:
    # Another host, so another sector (OIDC Core 8.1): the traveller gets another sub.
    other_host = live_server.url.replace("127.0.0.1", "localhost")
    return PyoidcPlatform(live_server.url, live_server.add_platform(
        name="Transit Rhône", redirect_uri=f"{other_host}/platforms/transit/cb"))


@pytest.fixture
def browser(live_server: LiveServer) -> Iterator[HttpBrowser]:
    browser = HttpBrowser(live_server.url)
    yield browser
    browser.close()  # ends keep-alive connections before the server stops


def is_consent_page(html: str) -> bool:
    return form_action(html, "").startswith("/consent/")


def sign_in(browser: HttpBrowser, traveller: LiveTraveller, platform: PyoidcPlatform,
            scope: str) -> tuple[Login, AuthorizationResponse]:
    """The traveller goes from the platform to the provider, logs in, allows, and comes back."""
    login = platform.start_login(scope)
    browser.get(login.url)
    page = browser.submit({"email": traveller.email, "password": traveller.password})
    assert is_consent_page(page.text), page.text
    answer = browser.allow_all()
    assert answer.status_code == 302, answer.text
    return login, platform.callback(answer.headers["Location"], login)


def decode_part(part: str) -> dict[str, Any]:
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


def encode_part(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def test_discovery_gives_pyoidc_the_endpoints_and_keys(live_server: LiveServer,
                                                       carpool: PyoidcPlatform) -> None:
    client = carpool.client
    assert carpool.discovery["issuer"] == live_server.url
    assert client.authorization_endpoint == f"{live_server.url}/authorize"
    assert client.token_endpoint == f"{live_server.url}/token"
    assert client.userinfo_endpoint == f"{live_server.url}/userinfo"
    assert carpool.discovery["code_challenge_methods_supported"] == ["S256"]
    assert {"client_secret_basic", "client_secret_post"} <= set(
        carpool.discovery["token_endpoint_auth_methods_supported"])
    assert carpool.discovery["authorization_response_iss_parameter_supported"] is True
    # pyoidc fetched the JWKS named by jwks_uri: public signing keys, nothing private.
    keys = client.keyjar.get_verify_key(owner=live_server.url)
    assert {key.kty for key in keys} >= {"RSA"}
    assert all(not key.d for key in keys)


@pytest.mark.parametrize("auth_method", ["client_secret_basic", "client_secret_post"])
def test_platform_signs_a_traveller_in_with_the_code_flow(
    live_server: LiveServer, browser: HttpBrowser, traveller: LiveTraveller,
    carpool: PyoidcPlatform, auth_method: str,
) -> None:
    login = carpool.start_login("openid profile email")
    assert login.request["code_challenge_method"] == "S256"
    assert login.request["code_challenge"]

    # The provider has no session for this browser yet: it asks who the traveller is.
    page = browser.get(login.url)
    assert page.status_code == 200
    assert urlsplit(page.url).path == "/login"
    assert "Carpool Lyon" in page.text

    page = browser.submit({"email": traveller.email, "password": traveller.password})
    assert page.status_code == 200
    assert is_consent_page(page.text)
    assert "Carpool Lyon" in page.text

    answer = browser.allow_all()
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(carpool.registration.redirect_uri + "?")
    params = query_of(location)
    assert set(params) == {"code", "state", "iss"}
    assert params["state"] == login.state
    assert params["iss"] == live_server.url  # RFC 9207: the answer names who gave it

    authorization = carpool.callback(location, login)
    tokens = carpool.redeem(login, auth_method)
    assert "error" not in tokens, tokens.to_dict()
    assert tokens["token_type"].lower() == "bearer"
    assert "refresh_token" not in tokens  # no offline_access asked

    id_token: IdToken = tokens["id_token"]  # already verified by pyoidc
    carpool.client.verify_id_token(id_token, login.request)  # iss, aud, exp, nonce
    assert id_token["iss"] == live_server.url
    assert id_token["aud"] == [carpool.client_id]
    assert id_token["sub"] == live_server.subject_for(traveller, carpool.client_id)
    assert id_token["nonce"] == login.nonce
    assert id_token["at_hash"] == jws.left_hash(tokens["access_token"], "HS256")
    assert abs(id_token["auth_time"] - time.time()) < 60
    assert id_token.jws_header["alg"] == "RS256"
    assert id_token.jws_header["kid"] in {
        key.kid for key in carpool.client.keyjar.get_verify_key(owner=live_server.url)}
    assert "email" not in id_token  # profile claims go through userinfo only
    assert authorization["code"] == params["code"]

    # POST with the token in the body (OIDC Core 5.3.1); pyoidc checks sub against the ID token.
    info = carpool.client.do_user_info_request(state=login.state)
    assert info.to_dict() == {
        "sub": id_token["sub"], "email": traveller.email, "email_verified": False,
        "given_name": "Umberto", "family_name": "Rossi",
        "updated_at": info["updated_at"],
    }


def test_userinfo_releases_only_the_granted_scopes(live_server: LiveServer,
                                                   browser: HttpBrowser,
                                                   traveller: LiveTraveller,
                                                   carpool: PyoidcPlatform) -> None:
    login, _ = sign_in(browser, traveller, carpool, "openid email")
    tokens = carpool.redeem(login)
    assert tokens["scope"] == ["openid", "email"]

    # GET with the token in the Authorization header this time.
    info = carpool.client.do_user_info_request(method="GET", state=login.state)
    sub = live_server.subject_for(traveller, carpool.client_id)
    assert info.to_dict() == {"sub": sub, "email": traveller.email,
                              "email_verified": False}


def forge_with_edited_claims(genuine: str) -> str:
    header, payload, signature = genuine.split(".")
    claims = decode_part(payload) | {"sub": "somebody-else"}
    return ".".join([header, encode_part(claims), signature])


def forge_with_another_key(genuine: str) -> str:
    header, payload, _ = genuine.split(".")
    stranger = RSAKey.generate_key(2048, private=True)
    # The stranger claims the provider's key id: only the signature can tell them apart.
    return jwt.encode({"alg": "RS256", "kid": decode_part(header)["kid"]},
                      decode_part(payload), stranger)


@pytest.mark.parametrize("forge", [forge_with_edited_claims, forge_with_another_key],
                         ids=["edited-claims", "another-key"])
def test_pyoidc_rejects_a_forged_id_token(browser: HttpBrowser, traveller: LiveTraveller,
                                          carpool: PyoidcPlatform,
                                          forge: Callable[[str], str]) -> None:
    login, _ = sign_in(browser, traveller, carpool, "openid")
    tokens = carpool.redeem(login)
    genuine = {key: value for key, value in tokens.to_dict().items() if key != "id_token_jwt"}
    genuine["id_token"] = tokens["id_token_jwt"]
    # The untouched response passes the very verification the forged one fails.
    carpool.client.parse_response(AccessTokenResponse, info=json.dumps(genuine), sformat="json")

    forged = genuine | {"id_token": forge(genuine["id_token"])}
    with pytest.raises(BadSignature):
        carpool.client.parse_response(AccessTokenResponse, info=json.dumps(forged),
                                      sformat="json")


def test_refresh_rotates_the_refresh_token(browser: HttpBrowser, traveller: LiveTraveller,
                                           carpool: PyoidcPlatform) -> None:
    login, _ = sign_in(browser, traveller, carpool, OFFLINE)
    first = carpool.redeem(login)
    assert first["refresh_token"]
    first_token = carpool.client.get_grant(login.state).get_token()
    assert first_token.refresh_token == first["refresh_token"]

    renewed = carpool.client.do_access_token_refresh(state=login.state,
                                                     authn_method="client_secret_basic")
    assert "error" not in renewed, renewed.to_dict()
    assert renewed["access_token"] != first["access_token"]
    assert renewed["refresh_token"] not in (None, first["refresh_token"])
    info = carpool.client.do_user_info_request(token=renewed["access_token"])
    assert info["sub"] == first["id_token"]["sub"]

    replay = carpool.client.do_access_token_refresh(state=login.state, token=first_token,
                                                    authn_method="client_secret_basic")
    assert replay["error"] == "invalid_grant"
    # A rotated refresh token coming back means it leaked: its whole family is revoked.
    revoked = carpool.client.do_user_info_request(token=renewed["access_token"])
    assert revoked["error"] == "invalid_token"


def test_second_platform_signs_in_without_asking_the_password_again(
    live_server: LiveServer, browser: HttpBrowser, traveller: LiveTraveller,
    carpool: PyoidcPlatform,
    transit: PyoidcPlatform,
) -> None:
    carpool_login, _ = sign_in(browser, traveller, carpool, "openid profile")
    carpool_id_token = carpool.redeem(carpool_login)["id_token"]

    transit_login = transit.start_login("openid email")
    page = browser.get(transit_login.url)
    # Straight to the new platform's consent screen: the session cookie was enough.
    assert page.status_code == 200
    assert urlsplit(page.url).path == "/authorize"
    assert is_consent_page(page.text)
    assert "Transit Rhône" in page.text
    assert 'name="password"' not in page.text

    answer = browser.allow_all()
    assert answer.status_code == 302
    transit.callback(answer.headers["Location"], transit_login)
    transit_id_token = transit.redeem(transit_login)["id_token"]
    assert transit_id_token["aud"] == [transit.client_id]
    # Pairwise subjects: each platform its own sub, stable for its sector.
    assert transit_id_token["sub"] == live_server.subject_for(traveller, transit.client_id)
    assert carpool_id_token["sub"] == live_server.subject_for(traveller, carpool.client_id)
    assert transit_id_token["sub"] != carpool_id_token["sub"]
    assert transit_id_token["auth_time"] == carpool_id_token["auth_time"]  # one login
