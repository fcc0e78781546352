"""Pushed Authorization Requests (RFC 9126): a platform pushes its request to /par with
its credentials and sends the traveller to /authorize with the request_uri it got back,
which works once, for a minute, for that platform only."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import ECKey
from werkzeug.test import TestResponse

from idp.extensions import db
from idp.oauth.models import Client, PushedAuthorizationRequest
from tests.browser import AuthorizationRequest, Browser, query_of
from tests.factories import Platform, make_platform
from tests.live import HttpBrowser, LiveServer, live_server  # noqa: F401

URN_PREFIX = "urn:ietf:params:oauth:request_uri:"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def basic(platform: Platform) -> dict[str, str]:
    pair = f"{platform.client_id}:{platform.secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


def push(browser: Browser, platform: Platform, headers: dict[str, str] | None = None,
         **extra: Any) -> TestResponse:
    params = AuthorizationRequest(platform.client_id, platform.redirect_uri,
                                  state="pushed", extra=extra).params()
    params = {k: v for k, v in params.items() if v is not None}
    return browser.client.post("/par", data=params,
                               headers=basic(platform) if headers is None else headers)


def request_uri_of(response: TestResponse) -> str:
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["expires_in"] == 60 and body["request_uri"].startswith(URN_PREFIX)
    assert response.headers["Cache-Control"] == "no-store"
    return str(body["request_uri"])


def authorize(browser: Browser, client_id: str, request_uri: str,
              **outer: str) -> TestResponse:
    query = urlencode({"client_id": client_id, "request_uri": request_uri, **outer})
    return browser.follow_local(browser.get("/authorize?" + query))


def assert_refused(response: TestResponse, error: str, platform: Platform | None = None) -> None:
    if platform is None:
        assert response.status_code == 400 and "Location" not in response.headers
        assert error in response.get_data(as_text=True)
        return
    assert response.status_code == 302
    assert response.location.startswith(platform.redirect_uri + "?")
    assert query_of(response.location)["error"] == error


def test_a_pushed_request_is_used_through_its_request_uri(logged_in: Browser,
                                                          platform: Platform) -> None:
    request_uri = request_uri_of(push(logged_in, platform))
    page = authorize(logged_in, platform.client_id, request_uri)
    assert page.status_code == 200 and "/consent/" in page.get_data(as_text=True)
    answer = logged_in.follow_local(logged_in.consent("allow"))
    params = query_of(answer.location)
    assert answer.location.startswith(platform.redirect_uri + "?")
    assert params["state"] == "pushed" and "code" in params


def test_only_the_digest_of_the_request_uri_is_stored(logged_in: Browser,
                                                      platform: Platform) -> None:
    request_uri = request_uri_of(push(logged_in, platform))
    row = db.session.scalars(db.select(PushedAuthorizationRequest)).one()
    assert row.client_id == platform.client_id
    assert request_uri not in row.request_uri_hash
    assert request_uri[len(URN_PREFIX):] not in row.request_uri_hash


def test_a_request_uri_works_once(logged_in: Browser, platform: Platform) -> None:
    request_uri = request_uri_of(push(logged_in, platform))
    assert authorize(logged_in, platform.client_id, request_uri).status_code == 200
    again = authorize(logged_in, platform.client_id, request_uri,
                      redirect_uri=platform.redirect_uri)
    assert_refused(again, "invalid_request_uri", platform)


def test_a_request_uri_expires_after_a_minute(logged_in: Browser, platform: Platform,
                                              frozen: Any) -> None:
    request_uri = request_uri_of(push(logged_in, platform))
    frozen.shift(61)
    assert_refused(authorize(logged_in, platform.client_id, request_uri),
                   "invalid_request_uri")


def test_another_platform_cannot_use_a_request_uri(logged_in: Browser,
                                                   platform: Platform) -> None:
    request_uri = request_uri_of(push(logged_in, platform))
    other = make_platform()
    assert_refused(authorize(logged_in, other.client_id, request_uri), "invalid_request_uri")
    # Left for its owner: another client cannot spend it.
    assert authorize(logged_in, platform.client_id, request_uri).status_code == 200


def test_a_platform_that_must_push_cannot_send_a_plain_request(logged_in: Browser,
                                                               platform: Platform) -> None:
    platform.model.require_pushed_authorization_requests = True
    db.session.commit()
    plain = AuthorizationRequest(platform.client_id, platform.redirect_uri)
    assert_refused(logged_in.authorize(plain), "invalid_request", platform)
    request_uri = request_uri_of(push(logged_in, platform))
    assert authorize(logged_in, platform.client_id, request_uri).status_code == 200


@pytest.mark.parametrize("headers", [
    pytest.param({}, id="no-credentials"),
    pytest.param({"Authorization": "Basic " + base64.b64encode(b"x:y").decode()},
                 id="unknown-client"),
    pytest.param({"Authorization": "Basic %%%"}, id="malformed"),
])
def test_pushing_needs_the_platform_credentials(browser: Browser, platform: Platform,
                                                headers: dict[str, str]) -> None:
    response = push(browser, platform, headers=headers)
    assert response.status_code in (400, 401)
    assert response.get_json()["error"] == "invalid_client"


def test_a_wrong_secret_is_refused(browser: Browser, platform: Platform) -> None:
    pair = base64.b64encode(f"{platform.client_id}:wrong".encode()).decode()
    response = push(browser, platform, headers={"Authorization": "Basic " + pair})
    assert response.get_json()["error"] == "invalid_client"
    assert db.session.scalar(db.select(db.func.count(PushedAuthorizationRequest.id))) == 0


@pytest.mark.parametrize("extra, error", [
    pytest.param({"request_uri": URN_PREFIX + "abc"}, "invalid_request", id="request-uri-pushed"),
    pytest.param({"redirect_uri": "https://evil.example/cb"}, "invalid_request",
                 id="unregistered-redirect"),
    pytest.param({"redirect_uri": None}, "invalid_request", id="no-redirect-uri"),
    pytest.param({"client_id": "someone-else"}, "invalid_request", id="other-client-id"),
    pytest.param({"response_type": "token"}, "unsupported_response_type", id="response-type"),
    pytest.param({"response_type": None}, "unsupported_response_type", id="no-response-type"),
    pytest.param({"state": "x" * 5000}, "invalid_request", id="too-large"),
    pytest.param({"request": "not-a-jwt"}, "invalid_request_object", id="bad-request-object"),
    # RFC 9126 2.1: everything /authorize checks, checked when the request is pushed.
    pytest.param({"code_challenge": None, "code_challenge_method": None}, "invalid_request",
                 id="no-pkce"),
    pytest.param({"code_challenge_method": "plain"}, "invalid_request", id="plain-pkce"),
    pytest.param({"code_challenge": "short"}, "invalid_request", id="bad-code-challenge"),
    pytest.param({"scope": "email"}, "invalid_scope", id="no-openid"),
    pytest.param({"scope": "unknown"}, "invalid_scope", id="only-unknown-scopes"),
    pytest.param({"response_mode": "fragment"}, "invalid_request", id="response-mode"),
    pytest.param({"max_age": "-1"}, "invalid_request", id="max-age"),
    pytest.param({"claims": "{not json"}, "invalid_request", id="claims"),
    pytest.param({"prompt": "none login"}, "invalid_request", id="prompt-none-and-more"),
    pytest.param({"dpop_jkt": "not-a-thumbprint"}, "invalid_request", id="dpop-jkt"),
])
def test_a_bad_pushed_request_is_refused_in_json_without_a_request_uri(
        browser: Browser, platform: Platform, extra: dict[str, Any], error: str) -> None:
    response = push(browser, platform, **extra)
    assert response.status_code == 400, response.get_json()
    assert "Location" not in response.headers
    assert response.get_json()["error"] == error
    assert "state" not in response.get_json()
    assert db.session.scalar(db.select(db.func.count(PushedAuthorizationRequest.id))) == 0


def test_unknown_scopes_are_dropped_as_at_authorize(logged_in: Browser,
                                                    platform: Platform) -> None:
    request_uri = request_uri_of(push(logged_in, platform, scope="openid email unknown"))
    page = authorize(logged_in, platform.client_id, request_uri)
    assert page.status_code == 200 and "/consent/" in page.get_data(as_text=True)


def test_prompt_none_is_pushed_and_decided_at_authorize(browser: Browser,
                                                        platform: Platform) -> None:
    request_uri = request_uri_of(push(browser, platform, prompt="none"))
    # Nobody is signed in in this browser: the answer goes to the platform, as a code would.
    assert_refused(authorize(browser, platform.client_id, request_uri), "login_required",
                   platform)


def test_a_public_client_pushes_with_its_client_id(logged_in: Browser,
                                                   public_platform: Platform) -> None:
    request_uri = request_uri_of(push(logged_in, public_platform, headers={}))
    assert authorize(logged_in, public_platform.client_id, request_uri).status_code == 200


@pytest.mark.parametrize("audience", ["https://idp.test", "https://idp.test/par"])
def test_a_signed_request_object_can_be_pushed(logged_in: Browser, audience: str) -> None:
    key = ECKey.generate_key("P-256", parameters={"kid": "par-1"}, private=True)
    platform = make_platform(token_endpoint_auth_method="private_key_jwt",
                             jwks={"keys": [key.as_dict(private=False)]})
    now = int(time.time())
    # RFC 9126 2: the assertion may name the issuer or the PAR endpoint.
    client = {"iss": platform.client_id, "sub": platform.client_id, "aud": audience,
              "iat": now, "exp": now + 60, "jti": f"par-{now}"}
    claims = {**AuthorizationRequest(platform.client_id, platform.redirect_uri,
                                     state="signed").params(),
              "iss": platform.client_id, "aud": "https://idp.test", "exp": now + 60}
    response = logged_in.client.post("/par", data={
        "client_id": platform.client_id,
        "request": jwt.encode({"alg": "ES256", "kid": "par-1"}, claims, key),
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": jwt.encode({"alg": "ES256", "kid": "par-1"}, client, key)})
    page = authorize(logged_in, platform.client_id, request_uri_of(response))
    assert page.status_code == 200 and "/consent/" in page.get_data(as_text=True)


def test_discovery_names_the_endpoint(client: Any) -> None:
    document = client.get("/.well-known/openid-configuration").get_json()
    assert document["pushed_authorization_request_endpoint"] == "https://idp.test/par"
    assert document["require_pushed_authorization_requests"] is False
    assert document["request_parameter_supported"] is True
    assert document["request_uri_parameter_supported"] is True
    assert document["require_request_uri_registration"] is False
    assert document["request_object_signing_alg_values_supported"] == ["RS256", "ES256"]


@pytest.fixture
def http_browser(live_server: LiveServer) -> Iterator[HttpBrowser]:  # noqa: F811
    browser = HttpBrowser(live_server.url)
    yield browser
    browser.close()


def must_push(live_server: LiveServer, client_id: str) -> None:  # noqa: F811
    """The operator's setting (registration of the metadata is another change's)."""
    with live_server.app.app_context():
        client = db.session.scalar(db.select(Client).where(Client.client_id == client_id))
        assert client is not None
        client.require_pushed_authorization_requests = True
        db.session.commit()
        db.session.remove()


def test_authlibs_client_logs_in_through_a_pushed_request_over_http(
        live_server: LiveServer, http_browser: HttpBrowser) -> None:  # noqa: F811
    traveller = live_server.add_traveller()
    platform = live_server.add_platform()
    must_push(live_server, platform.client_id)
    discovery = requests.get(f"{live_server.url}/.well-known/openid-configuration",
                             timeout=10).json()
    session = OAuth2Session(platform.client_id, platform.client_secret,
                            scope="openid email", redirect_uri=platform.redirect_uri,
                            code_challenge_method="S256")
    verifier = "v" * 20 + "erifier-of-the-live-test-0123456789"
    url, state = session.create_authorization_url(
        discovery["authorization_endpoint"], code_verifier=verifier, nonce="n-live")
    # RFC 9126 2.1: the same parameters, pushed with the client's credentials.
    pushed = requests.post(discovery["pushed_authorization_request_endpoint"],
                           data=dict(parse_qsl(urlsplit(url).query)),
                           auth=(platform.client_id, platform.client_secret), timeout=10)
    assert pushed.status_code == 201, pushed.text
    page = http_browser.get(f"{discovery['authorization_endpoint']}?" + urlencode({
        "client_id": platform.client_id, "request_uri": pushed.json()["request_uri"]}))
    assert page.status_code == 200 and 'name="password"' in page.text
    page = http_browser.submit({"email": traveller.email, "password": traveller.password})
    assert "/consent/" in page.text
    answer = http_browser.allow_all()
    location = answer.headers["Location"]
    assert location.startswith(platform.redirect_uri + "?")
    token = session.fetch_token(discovery["token_endpoint"], authorization_response=location,
                                code_verifier=verifier, state=state)
    assert token["id_token"] and token["access_token"]
    # A plain request from this platform is refused: it must push.
    plain = requests.get(url, allow_redirects=False, timeout=10)
    assert query_of(plain.headers["Location"])["error"] == "invalid_request"
