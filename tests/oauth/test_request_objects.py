"""Request objects (RFC 9101, OIDC Core 6): the authorization request as a JWT signed with
the platform's registered key. Only what is inside counts; a request object that is
unsigned, signed with another key, expired or for another client is refused; and a
request the provider cannot use is refused first, with the error that says why."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jws, jwt
from joserfc.jwk import ECKey, RSAKey
from werkzeug.test import TestResponse

from idp import create_app
from idp.extensions import db
from idp.oauth.replay import PURGE_INTERVAL
from idp.oauth.request_objects import UsedRequestObject
from tests import conftest
from tests.browser import AuthorizationRequest, Browser, pkce_pair, query_of
from tests.conftest import TEST_CONFIG, IsolatedClient
from tests.factories import Platform, make_platform
from tests.live import HttpBrowser, LiveServer, live_server  # noqa: F401

ISSUER = "https://idp.test"


@pytest.fixture(scope="module")
def ec_key() -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": "jar-ec"}, private=True)


@pytest.fixture(scope="module")
def rsa_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "jar-rsa"}, private=True)


@pytest.fixture
def jar_platform(app: Any, ec_key: ECKey, rsa_key: RSAKey) -> Platform:
    jwks = {"keys": [ec_key.as_dict(private=False), rsa_key.as_dict(private=False)]}
    return make_platform(token_endpoint_auth_method="private_key_jwt", jwks=jwks)


def request_claims(platform: Platform, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    _, challenge = pkce_pair()
    claims: dict[str, Any] = {
        "iss": platform.client_id, "aud": ISSUER, "iat": now, "nbf": now, "exp": now + 300,
        "client_id": platform.client_id, "response_type": "code",
        "redirect_uri": platform.redirect_uri, "scope": "openid email", "state": "inner",
        "nonce": "n-1", "code_challenge": challenge, "code_challenge_method": "S256"}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def sign(claims: dict[str, Any], key: ECKey | RSAKey) -> str:
    alg = "ES256" if isinstance(key, ECKey) else "RS256"
    return jwt.encode({"alg": alg, "kid": key.kid, "typ": "oauth-authz-req+jwt"}, claims, key)


def unsigned(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")
    return f"{part({'alg': 'none'})}.{part(claims)}."


def send(browser: Browser, platform: Platform, request_object: str,
         **outer: str) -> TestResponse:
    query = {"client_id": platform.client_id, "response_type": "code",
             "request": request_object, **outer}
    return browser.follow_local(browser.get("/authorize?" + urlencode(query)))


def assert_refused(response: TestResponse, platform: Platform, error: str) -> None:
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.location.startswith(platform.redirect_uri + "?")
    params = query_of(response.location)
    assert params["error"] == error, params
    assert params["iss"] == ISSUER


@pytest.mark.parametrize("key_name", ["ec_key", "rsa_key"])
def test_a_request_object_signed_with_a_registered_key_is_used(
        logged_in: Browser, jar_platform: Platform, key_name: str,
        request: pytest.FixtureRequest) -> None:
    key = request.getfixturevalue(key_name)
    # The query says otherwise: only what is inside the signed object counts (RFC 9101 6.3).
    page = send(logged_in, jar_platform, sign(request_claims(jar_platform), key),
                state="outer", scope="openid phone", redirect_uri="https://evil.example/cb")
    assert page.status_code == 200 and "/consent/" in page.get_data(as_text=True)
    answer = logged_in.follow_local(logged_in.consent("allow"))
    assert answer.location.startswith(jar_platform.redirect_uri + "?")
    params = query_of(answer.location)
    assert params["state"] == "inner" and "code" in params


def test_a_request_object_signed_with_another_key_is_refused(
        logged_in: Browser, jar_platform: Platform) -> None:
    intruder = ECKey.generate_key("P-256", parameters={"kid": "jar-ec"}, private=True)
    response = send(logged_in, jar_platform, sign(request_claims(jar_platform), intruder),
                    redirect_uri=jar_platform.redirect_uri)
    assert_refused(response, jar_platform, "invalid_request_object")


def test_without_a_registered_redirect_uri_outside_the_refusal_is_a_page(
        logged_in: Browser, jar_platform: Platform) -> None:
    intruder = ECKey.generate_key("P-256", parameters={"kid": "jar-ec"}, private=True)
    response = send(logged_in, jar_platform, sign(request_claims(jar_platform), intruder))
    assert response.status_code == 400 and "Location" not in response.headers
    assert "invalid_request_object" in response.get_data(as_text=True)


@pytest.mark.parametrize("changes", [
    pytest.param({"exp": int(time.time()) - 3600}, id="expired"),
    pytest.param({"exp": None}, id="no-exp"),
    pytest.param({"exp": int(time.time()) + 2 * 3600}, id="exp-too-far"),
    pytest.param({"nbf": int(time.time()) - 2 * 3600}, id="nbf-too-old"),
    pytest.param({"iat": int(time.time()) + 3600}, id="iat-in-the-future"),
    pytest.param({"iss": "someone-else"}, id="wrong-iss"),
    pytest.param({"aud": "https://other-idp.example"}, id="wrong-aud"),
    pytest.param({"client_id": "someone-else"}, id="client-id-differs"),
    pytest.param({"response_type": "token"}, id="response-type-differs"),
    pytest.param({"request_uri": "https://a.example/r"}, id="nested"),
    pytest.param({"max_age": [1]}, id="wrong-type"),
    pytest.param({"jti": 5}, id="jti-not-a-string"),
    pytest.param({"jti": ""}, id="jti-empty"),
])
def test_a_bad_request_object_is_refused(logged_in: Browser, jar_platform: Platform,
                                         ec_key: ECKey, changes: dict[str, Any]) -> None:
    token = sign(request_claims(jar_platform, **changes), ec_key)
    response = send(logged_in, jar_platform, token, redirect_uri=jar_platform.redirect_uri)
    assert_refused(response, jar_platform, "invalid_request_object")


def test_a_jti_that_is_not_text_is_refused(logged_in: Browser, jar_platform: Platform,
                                           ec_key: ECKey) -> None:
    # A lone surrogate, as JSON may escape it; it could not be hashed as UTF-8 text.
    payload = json.dumps(request_claims(jar_platform, jti="\ud800")).encode()
    token = jws.serialize_compact({"alg": "ES256", "kid": ec_key.kid}, payload, ec_key)
    response = send(logged_in, jar_platform, token, redirect_uri=jar_platform.redirect_uri)
    assert_refused(response, jar_platform, "invalid_request_object")


def test_a_request_object_with_a_jti_is_used_once(
        logged_in: Browser, jar_platform: Platform, ec_key: ECKey,
        database_url: str, tmp_path: Any) -> None:
    token = sign(request_claims(jar_platform, jti="once"), ec_key)
    first = send(logged_in, jar_platform, token, redirect_uri=jar_platform.redirect_uri)
    assert first.status_code == 200 and "/consent/" in first.get_data(as_text=True)
    again = send(logged_in, jar_platform, token, redirect_uri=jar_platform.redirect_uri)
    assert_refused(again, jar_platform, "invalid_request_object")  # RFC 9101 10.8
    # Another instance sharing the database refuses it too.
    other = create_app(settings=conftest.test_settings(database_url), config=TEST_CONFIG)
    other.test_client_class = IsolatedClient
    try:
        replayed = send(Browser(other.test_client()), jar_platform, token,
                        redirect_uri=jar_platform.redirect_uri)
    finally:
        with other.app_context():
            db.engine.dispose()
    assert_refused(replayed, jar_platform, "invalid_request_object")


def test_the_same_jti_from_another_platform_is_its_own(
        logged_in: Browser, jar_platform: Platform, ec_key: ECKey) -> None:
    twin = make_platform(token_endpoint_auth_method="private_key_jwt",
                         jwks={"keys": [ec_key.as_dict(private=False)]})
    for platform in (jar_platform, twin):
        page = send(logged_in, platform, sign(request_claims(platform, jti="j-1"), ec_key),
                    redirect_uri=platform.redirect_uri)
        assert page.status_code == 200, page.get_data(as_text=True)


def test_a_request_object_with_a_jti_is_pushed_once(
        browser: Browser, jar_platform: Platform, ec_key: ECKey) -> None:
    token = sign(request_claims(jar_platform, jti="pushed-once"), ec_key)
    assertion = {"iss": jar_platform.client_id, "sub": jar_platform.client_id,
                 "aud": ISSUER, "exp": int(time.time()) + 60}
    answers = [browser.client.post("/par", data={
        "client_id": jar_platform.client_id, "request": token,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": jwt.encode({"alg": "ES256", "kid": ec_key.kid},
                                       {**assertion, "jti": f"assertion-{n}"}, ec_key)})
        for n in range(2)]
    assert answers[0].status_code == 201, answers[0].get_json()
    assert answers[1].status_code == 400
    assert answers[1].get_json()["error"] == "invalid_request_object"


def test_used_jtis_are_deleted_once_their_object_expired(
        logged_in: Browser, jar_platform: Platform, ec_key: ECKey, frozen: Any) -> None:
    send(logged_in, jar_platform, sign(request_claims(jar_platform, jti="old"), ec_key))
    assert db.session.scalar(db.select(db.func.count(UsedRequestObject.id))) == 1
    frozen.shift(300 + 30 + PURGE_INTERVAL + 1)  # past exp and the leeway
    send(logged_in, jar_platform, sign(request_claims(jar_platform, jti="new"), ec_key))
    db.session.expire_all()
    assert db.session.scalar(db.select(db.func.count(UsedRequestObject.id))) == 1


def test_a_request_object_expires_with_time(logged_in: Browser, jar_platform: Platform,
                                            ec_key: ECKey, frozen: Any) -> None:
    token = sign(request_claims(jar_platform), ec_key)  # exp five minutes ahead
    frozen.shift(301 + 30)
    response = send(logged_in, jar_platform, token, redirect_uri=jar_platform.redirect_uri)
    assert_refused(response, jar_platform, "invalid_request_object")


def test_an_unsigned_request_object_is_refused_by_default(
        logged_in: Browser, jar_platform: Platform) -> None:
    response = send(logged_in, jar_platform, unsigned(request_claims(jar_platform)),
                    redirect_uri=jar_platform.redirect_uri)
    assert_refused(response, jar_platform, "invalid_request_object")


def test_an_unsigned_request_object_is_used_when_the_operator_allows_it(
        logged_in: Browser, jar_platform: Platform) -> None:
    jar_platform.model.request_object_signing_alg = "none"
    db.session.commit()
    page = send(logged_in, jar_platform, unsigned(request_claims(jar_platform)))
    assert page.status_code == 200 and "/consent/" in page.get_data(as_text=True)


def test_a_registered_signing_alg_is_the_only_one_accepted(
        logged_in: Browser, jar_platform: Platform, rsa_key: RSAKey) -> None:
    jar_platform.model.request_object_signing_alg = "ES256"
    db.session.commit()
    response = send(logged_in, jar_platform, sign(request_claims(jar_platform), rsa_key),
                    redirect_uri=jar_platform.redirect_uri)
    assert_refused(response, jar_platform, "invalid_request_object")


@pytest.mark.parametrize("extra, error", [
    ({"request": "eyJhbGciOiJub25lIn0.e30."}, "invalid_request_object"),
    ({"request": "not a jwt"}, "invalid_request_object"),
    ({"request_uri": "https://carpool.example/request.jwt"}, "request_uri_not_supported"),
    ({"request_uri": "urn:ietf:params:oauth:request_uri:unknown"}, "invalid_request_uri"),
    ({"request": "a.b.c", "request_uri": "urn:ietf:params:oauth:request_uri:x"},
     "invalid_request"),
])
def test_the_request_parameters_are_checked_before_any_other_check(
        browser: Browser, platform: Platform, extra: dict[str, str], error: str) -> None:
    # No PKCE, no openid scope: a conformant client must still learn what it can fix.
    request = AuthorizationRequest(platform.client_id, platform.redirect_uri, scope="email",
                                   extra={"code_challenge": None,  # type: ignore[dict-item]
                                          "code_challenge_method": None, **extra})
    response = browser.authorize(request)
    assert_refused(response, platform, error)


@pytest.fixture
def http_browser(live_server: LiveServer) -> Iterator[HttpBrowser]:  # noqa: F811
    browser = HttpBrowser(live_server.url)
    yield browser
    browser.close()


def test_a_signed_request_object_over_real_http_with_authlibs_client(
        live_server: LiveServer, http_browser: HttpBrowser, ec_key: ECKey) -> None:  # noqa: F811
    traveller = live_server.add_traveller()
    platform = live_server.add_platform(
        jwks={"keys": [ec_key.as_dict(private=False)]})
    issuer = live_server.url
    session = OAuth2Session(platform.client_id, platform.client_secret, scope="openid email",
                            redirect_uri=platform.redirect_uri, code_challenge_method="S256")
    verifier = "a-code-verifier-for-the-live-request-object-test"
    url, state = session.create_authorization_url(f"{issuer}/authorize",
                                                  code_verifier=verifier, nonce="n-live")
    claims: dict[str, Any] = dict(parse_qsl(urlsplit(url).query))
    now = int(time.time())
    claims |= {"iss": platform.client_id, "aud": issuer, "iat": now, "exp": now + 120}
    signed = sign(claims, ec_key)
    page = http_browser.get(f"{issuer}/authorize?" + urlencode({
        "client_id": platform.client_id, "response_type": "code", "request": signed}))
    assert page.status_code == 200 and 'name="password"' in page.text
    http_browser.submit({"email": traveller.email, "password": traveller.password})
    location = http_browser.allow_all().headers["Location"]
    assert location.startswith(platform.redirect_uri + "?")
    token = session.fetch_token(f"{issuer}/token", authorization_response=location,
                                code_verifier=verifier, state=state)
    assert token["id_token"] and token["access_token"]
    # The same object signed by another key is refused, and the platform is told why.
    intruder = ECKey.generate_key("P-256", parameters={"kid": "jar-ec"}, private=True)
    refused = requests.get(f"{issuer}/authorize?" + urlencode({
        "client_id": platform.client_id, "redirect_uri": platform.redirect_uri,
        "request": sign(claims, intruder)}), allow_redirects=False, timeout=10)
    assert query_of(refused.headers["Location"])["error"] == "invalid_request_object"
