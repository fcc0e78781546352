"""DPoP (RFC 9449): tokens bound to a key the platform holds, proofs checked at the token
and userinfo endpoints, bound tokens refused as bearer tokens. The proofs are built here
with joserfc, as a platform's library would; the provider's checks are its own."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey
from time_machine import TimeMachineFixture
from werkzeug.test import TestResponse

from idp.extensions import db
from idp.oauth.models import JWT_ACCESS_TOKENS, Token
from tests.browser import AuthorizationRequest, Browser, query_of
from tests.factories import Platform
from tests.live import (  # noqa: F401  (live_server is a fixture)
    PLATFORMS_PATH,
    HttpBrowser,
    LiveServer,
    live_server,
)
from tests.oauth.test_public_refresh import OFFLINE, make_mobile_app
from tests.tokens import basic

ISSUER = "https://idp.test"
TOKEN_URL = f"{ISSUER}/token"
USERINFO_URL = f"{ISSUER}/userinfo"
Key = ECKey | RSAKey


def new_key() -> ECKey:
    return ECKey.generate_key("P-256")


def ath(access_token: str) -> str:
    raw = hashlib.sha256(access_token.encode()).digest()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def thumbprint(key: Key) -> str:
    return str(key.thumbprint())


def make_proof(key: Key, method: str, url: str, access_token: str | None = None,
               **claims: Any) -> str:
    alg = "ES256" if isinstance(key, ECKey) else "RS256"
    body: dict[str, Any] = {"jti": secrets.token_urlsafe(16), "htm": method, "htu": url,
                            "iat": int(time.time())}
    if access_token is not None:
        body["ath"] = ath(access_token)
    body.update(claims)
    header = {"typ": "dpop+jwt", "alg": alg, "jwk": key.as_dict(private=False)}
    return jwt.encode(header, body, key, algorithms=[alg])


def obtain(browser: Browser, app: Platform, key: Key | None,
           scope: str = OFFLINE) -> TestResponse:
    """Sign in and redeem the code, with a proof of ``key`` when one is given."""
    request = AuthorizationRequest(app.client_id, app.redirect_uri, scope=scope)
    page = browser.authorize(request)
    if page.status_code == 200:
        page = browser.follow_local(browser.consent("allow"))
    data = {"grant_type": "authorization_code", "code": query_of(page.location)["code"],
            "redirect_uri": app.redirect_uri, "code_verifier": request.verifier}
    headers = {}
    if app.secret:
        headers = basic(app)
    else:
        data["client_id"] = app.client_id
    if key is not None:
        headers["DPoP"] = make_proof(key, "POST", TOKEN_URL)
    return browser.client.post("/token", data=data, headers=headers)


def bound_tokens(browser: Browser, app: Platform, key: Key) -> dict[str, Any]:
    response = obtain(browser, app, key)
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def userinfo(client: FlaskClient, token: str, proof: str | None,
             scheme: str = "DPoP") -> TestResponse:
    headers = {"Authorization": f"{scheme} {token}"}
    if proof is not None:
        headers["DPoP"] = proof
    return client.get("/userinfo", headers=headers)


def refresh(client: FlaskClient, app: Platform, refresh_token: str,
            proof: str | None) -> TestResponse:
    headers = {"DPoP": proof} if proof else {}
    return client.post("/token", headers=headers, data={
        "grant_type": "refresh_token", "client_id": app.client_id,
        "refresh_token": refresh_token})


def assert_challenged(response: TestResponse, error: str) -> None:
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.get_json()["error"] == error
    assert response.headers["WWW-Authenticate"].startswith(f'DPoP error="{error}"')


@pytest.fixture
def mobile_app(app: Any) -> Platform:
    return make_mobile_app()


@pytest.fixture
def key() -> ECKey:
    return new_key()


def test_a_proof_at_the_token_endpoint_binds_the_tokens(
        logged_in: Browser, mobile_app: Platform, key: ECKey) -> None:
    tokens = bound_tokens(logged_in, mobile_app, key)
    assert tokens["token_type"] == "DPoP"
    row = db.session.scalar(db.select(Token))
    assert row.dpop_jkt == thumbprint(key)


def test_without_a_proof_tokens_stay_bearer(logged_in: Browser, mobile_app: Platform) -> None:
    response = obtain(logged_in, mobile_app, None)
    assert response.get_json()["token_type"] == "Bearer"
    assert db.session.scalar(db.select(Token)).dpop_jkt is None


def test_an_invalid_proof_at_the_token_endpoint_is_refused_before_the_code_is_spent(
        logged_in: Browser, mobile_app: Platform, key: ECKey) -> None:
    request = AuthorizationRequest(mobile_app.client_id, mobile_app.redirect_uri, scope=OFFLINE)
    page = logged_in.follow_local(logged_in.consent("allow")) \
        if (page := logged_in.authorize(request)).status_code == 200 else page
    data = {"grant_type": "authorization_code", "code": query_of(page.location)["code"],
            "redirect_uri": mobile_app.redirect_uri, "code_verifier": request.verifier,
            "client_id": mobile_app.client_id}
    wrong = make_proof(key, "GET", TOKEN_URL)
    response = logged_in.client.post("/token", data=data, headers={"DPoP": wrong})
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_dpop_proof"
    good = logged_in.client.post("/token", data=data,
                                 headers={"DPoP": make_proof(key, "POST", TOKEN_URL)})
    assert good.status_code == 200, good.get_json()


@pytest.mark.parametrize("garbage", ["", "x", "a.b.c", "eyJhbGciOiJub25lIn0.e30."])
def test_a_garbage_proof_is_an_invalid_dpop_proof(
        logged_in: Browser, mobile_app: Platform, garbage: str) -> None:
    response = logged_in.client.post("/token", headers={"DPoP": garbage}, data={
        "grant_type": "refresh_token", "client_id": mobile_app.client_id,
        "refresh_token": "x"})
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_dpop_proof"


def test_two_proofs_in_one_request_are_refused(client: FlaskClient, key: ECKey) -> None:
    proofs = [("DPoP", make_proof(key, "POST", TOKEN_URL)) for _ in range(2)]
    response = client.post("/token", headers=proofs,
                           data={"grant_type": "refresh_token", "refresh_token": "x"})
    assert response.get_json()["error"] == "invalid_dpop_proof"  # RFC 9449 4.3 step 1


def test_a_proof_with_a_private_key_in_its_header_is_refused(
        client: FlaskClient, key: ECKey) -> None:
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=True)}
    claims = {"jti": "j", "htm": "POST", "htu": TOKEN_URL, "iat": int(time.time())}
    proof = jwt.encode(header, claims, key, algorithms=["ES256"])
    response = client.post("/token", headers={"DPoP": proof},
                           data={"grant_type": "refresh_token", "refresh_token": "x"})
    assert response.get_json()["error"] == "invalid_dpop_proof"


def test_userinfo_with_a_proof_of_the_key(logged_in: Browser, mobile_app: Platform,
                                          key: ECKey) -> None:
    token = bound_tokens(logged_in, mobile_app, key)["access_token"]
    response = userinfo(logged_in.client, token, make_proof(key, "GET", USERINFO_URL, token))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["email"]


def test_an_rsa_key_works_too(logged_in: Browser, mobile_app: Platform) -> None:
    key = RSAKey.generate_key(2048)
    token = bound_tokens(logged_in, mobile_app, key)["access_token"]
    response = userinfo(logged_in.client, token, make_proof(key, "GET", USERINFO_URL, token))
    assert response.status_code == 200, response.get_json()


def test_a_bound_token_is_refused_as_a_bearer_token(
        logged_in: Browser, mobile_app: Platform, key: ECKey) -> None:
    token = bound_tokens(logged_in, mobile_app, key)["access_token"]
    assert_challenged(userinfo(logged_in.client, token, None, scheme="Bearer"), "invalid_token")
    proof = make_proof(key, "GET", USERINFO_URL, token)
    assert_challenged(userinfo(logged_in.client, token, proof, scheme="Bearer"),
                      "invalid_token")
    form = logged_in.client.post("/userinfo", data={"access_token": token})
    assert_challenged(form, "invalid_token")


def test_a_bound_token_is_refused_without_a_proof(
        logged_in: Browser, mobile_app: Platform, key: ECKey) -> None:
    token = bound_tokens(logged_in, mobile_app, key)["access_token"]
    assert_challenged(userinfo(logged_in.client, token, None), "invalid_dpop_proof")


def test_a_proof_of_another_key_is_refused(logged_in: Browser, mobile_app: Platform,
                                           key: ECKey) -> None:
    token = bound_tokens(logged_in, mobile_app, key)["access_token"]
    proof = make_proof(new_key(), "GET", USERINFO_URL, token)
    assert_challenged(userinfo(logged_in.client, token, proof), "invalid_dpop_proof")


def test_a_replayed_proof_is_refused(logged_in: Browser, mobile_app: Platform,
                                     key: ECKey) -> None:
    token = bound_tokens(logged_in, mobile_app, key)["access_token"]
    proof = make_proof(key, "GET", USERINFO_URL, token)
    assert userinfo(logged_in.client, token, proof).status_code == 200
    assert_challenged(userinfo(logged_in.client, token, proof), "invalid_dpop_proof")


@pytest.mark.parametrize("claims", [
    {"htm": "POST"},
    {"htu": f"{ISSUER}/token"},
    {"htu": "https://elsewhere.example/userinfo"},
    {"ath": ath("another token")},
    {"iat": int(time.time()) - 3600},
])
def test_a_proof_that_does_not_fit_the_request_is_refused(
        logged_in: Browser, mobile_app: Platform, key: ECKey, claims: dict[str, Any]) -> None:
    token = bound_tokens(logged_in, mobile_app, key)["access_token"]
    proof = make_proof(key, "GET", USERINFO_URL, token, **claims)
    assert_challenged(userinfo(logged_in.client, token, proof), "invalid_dpop_proof")


def test_htu_is_compared_without_query_and_fragment(
        logged_in: Browser, mobile_app: Platform, key: ECKey) -> None:
    token = bound_tokens(logged_in, mobile_app, key)["access_token"]
    proof = make_proof(key, "GET", USERINFO_URL + "?x=1#f", token)
    assert userinfo(logged_in.client, token, proof).status_code == 200


def test_a_stale_proof_is_refused(logged_in: Browser, mobile_app: Platform, key: ECKey,
                                  frozen: TimeMachineFixture) -> None:
    token = bound_tokens(logged_in, mobile_app, key)["access_token"]
    proof = make_proof(key, "GET", USERINFO_URL, token)
    frozen.shift(61)
    assert_challenged(userinfo(logged_in.client, token, proof), "invalid_dpop_proof")


def test_the_bound_refresh_token_needs_a_proof_of_the_same_key(
        logged_in: Browser, mobile_app: Platform, key: ECKey) -> None:
    tokens = bound_tokens(logged_in, mobile_app, key)
    for proof in (None, make_proof(new_key(), "POST", TOKEN_URL)):
        # RFC 9449 5: a public client's refresh token is bound to the key.
        refused = refresh(logged_in.client, mobile_app, tokens["refresh_token"], proof)
        assert refused.status_code == 400
        assert refused.get_json()["error"] == "invalid_dpop_proof"
    renewed = refresh(logged_in.client, mobile_app, tokens["refresh_token"],
                      make_proof(key, "POST", TOKEN_URL))
    assert renewed.status_code == 200, renewed.get_json()
    assert renewed.get_json()["token_type"] == "DPoP"
    token = renewed.get_json()["access_token"]
    proof = make_proof(key, "GET", USERINFO_URL, token)
    assert userinfo(logged_in.client, token, proof).status_code == 200


def test_jwt_access_tokens_carry_the_key_and_introspection_shows_it(
        logged_in: Browser, platform: Platform, key: ECKey) -> None:
    platform.model.access_token_format = JWT_ACCESS_TOKENS
    db.session.commit()
    tokens = bound_tokens(logged_in, platform, key)
    keys = KeySet.import_key_set(logged_in.client.get("/jwks.json").get_json())
    access = jwt.decode(tokens["access_token"], keys, algorithms=["RS256", "ES256"])
    assert access.claims["cnf"] == {"jkt": thumbprint(key)}  # RFC 9449 6.1
    answer = logged_in.client.post("/introspect", headers=basic(platform),
                                   data={"token": tokens["access_token"]}).get_json()
    assert answer["active"] is True
    assert answer["cnf"] == {"jkt": thumbprint(key)}
    assert answer["token_type"] == "DPoP"
    # RFC 9449 5: a confidential client's refresh token is not bound to the key.
    held = logged_in.client.post("/introspect", headers=basic(platform),
                                 data={"token": tokens["refresh_token"]}).get_json()
    assert held["active"] is True
    assert "cnf" not in held


def test_a_request_without_a_token_is_offered_both_schemes(client: FlaskClient) -> None:
    response = client.get("/userinfo")
    assert response.status_code == 401
    assert response.headers.getlist("WWW-Authenticate") == [
        'Bearer realm="userinfo"', 'DPoP algs="ES256 RS256"']


def test_discovery_lists_the_proof_algorithms(client: FlaskClient) -> None:
    document = client.get("/.well-known/openid-configuration").get_json()
    assert document["dpop_signing_alg_values_supported"] == ["ES256", "RS256"]


# Over real HTTP: a phone app binds its tokens, a thief with the token but not the key fails.


def test_dpop_over_http(live_server: LiveServer) -> None:  # noqa: F811
    with live_server.app.app_context():
        registered = make_mobile_app(redirect_uri=f"http://127.0.0.1{PLATFORMS_PATH}dpop/cb")
        client_id, redirect_uri = registered.client_id, registered.redirect_uri
        db.session.remove()
    traveller = live_server.add_traveller()
    key = new_key()
    code, verifier = live_sign_in(live_server, traveller, client_id, redirect_uri)
    token_url, userinfo_url = f"{live_server.url}/token", f"{live_server.url}/userinfo"
    issued = requests.post(token_url, timeout=10, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
        "code_verifier": verifier, "client_id": client_id},
        headers={"DPoP": make_proof(key, "POST", token_url)})
    assert issued.status_code == 200, issued.text
    assert issued.json()["token_type"] == "DPoP"
    token = issued.json()["access_token"]

    proof = make_proof(key, "GET", userinfo_url, token)
    ok = requests.get(userinfo_url, timeout=10,
                      headers={"Authorization": f"DPoP {token}", "DPoP": proof})
    assert ok.status_code == 200, ok.text
    replayed = requests.get(userinfo_url, timeout=10,
                            headers={"Authorization": f"DPoP {token}", "DPoP": proof})
    assert replayed.status_code == 401
    assert replayed.json()["error"] == "invalid_dpop_proof"
    stolen = requests.get(userinfo_url, timeout=10, headers={"Authorization": f"Bearer {token}"})
    assert stolen.status_code == 401
    assert stolen.headers["WWW-Authenticate"].startswith("DPoP ")


def live_sign_in(live_server: LiveServer, traveller: Any, client_id: str,
                 redirect_uri: str) -> tuple[str, str]:
    request = AuthorizationRequest(client_id, redirect_uri, scope=OFFLINE)
    browser = HttpBrowser(live_server.url)
    try:
        browser.get(f"{live_server.url}/authorize?{urlencode(request.params())}")
        browser.submit({"email": traveller.email, "password": traveller.password})
        answer = browser.allow_all()
    finally:
        browser.close()
    location = answer.headers["Location"]
    return query_of(location)["code"], request.verifier
