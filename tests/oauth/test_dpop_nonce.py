"""DPoP server nonces (RFC 9449 8 and 9), turned on by the operator: a proof without the
current nonce is answered with ``use_dpop_nonce`` and the nonce to use; every instance
sharing the secret key accepts the others' nonces, with no shared store."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from time_machine import TimeMachineFixture
from werkzeug.test import TestResponse

from idp import create_app
from idp.extensions import db
from tests import conftest
from tests.browser import AuthorizationRequest, Browser, query_of
from tests.conftest import TEST_CONFIG, IsolatedClient, _empty_tables
from tests.factories import Platform
from tests.oauth.test_dpop import (
    TOKEN_URL,
    USERINFO_URL,
    make_proof,
    new_key,
    userinfo,
)
from tests.oauth.test_public_refresh import OFFLINE, make_mobile_app
from tests.tokens import basic

WINDOW = 300  # the default IDP_DPOP_NONCE_WINDOW
PAR_URL = "https://idp.test/par"


def nonce_app(database_url: str, tmp_path: Path, **overrides: Any) -> Flask:
    settings = {"dpop_nonce": True, **overrides}
    app = create_app(settings=conftest.test_settings(database_url, **settings),
                     config=TEST_CONFIG)
    app.instance_path = str(tmp_path)
    app.test_client_class = IsolatedClient
    return app


@contextmanager
def another_instance(database_url: str, tmp_path: Path,
                     **overrides: Any) -> Iterator[FlaskClient]:
    """A second instance of the provider on the same database, as behind a load balancer."""
    other = nonce_app(database_url, tmp_path, **overrides)
    try:
        yield other.test_client()
    finally:
        with other.app_context():
            db.engine.dispose()


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The provider with nonces on (replaces the suite's ``app`` in this module)."""
    app = nonce_app(database_url, tmp_path)
    with app.app_context():
        yield app
        db.session.remove()
        _empty_tables()
        db.engine.dispose()


@pytest.fixture
def mobile_app(app: Flask) -> Platform:
    return make_mobile_app()


def code_request(browser: Browser, app: Platform) -> dict[str, str]:
    """Sign in and consent; the token request's form, without its proof."""
    request = AuthorizationRequest(app.client_id, app.redirect_uri, scope=OFFLINE)
    page = browser.authorize(request)
    if page.status_code == 200:
        page = browser.follow_local(browser.consent("allow"))
    return {"grant_type": "authorization_code", "code": query_of(page.location)["code"],
            "redirect_uri": app.redirect_uri, "code_verifier": request.verifier,
            "client_id": app.client_id}


def assert_asks_for_nonce_at_token(response: TestResponse) -> str:
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"] == "use_dpop_nonce"
    return str(response.headers["DPoP-Nonce"])


def bound_token(browser: Browser, app: Platform, key: Any) -> tuple[str, str]:
    """Tokens bound to ``key`` the way a platform gets them: refused once, with a nonce."""
    form = code_request(browser, app)
    first = browser.client.post("/token", data=form,
                                headers={"DPoP": make_proof(key, "POST", TOKEN_URL)})
    nonce = assert_asks_for_nonce_at_token(first)
    proof = make_proof(key, "POST", TOKEN_URL, nonce=nonce)
    issued = browser.client.post("/token", data=form, headers={"DPoP": proof})
    assert issued.status_code == 200, issued.get_json()
    assert issued.get_json()["token_type"] == "DPoP"
    return str(issued.get_json()["access_token"]), issued.headers["DPoP-Nonce"]


def assert_asks_for_nonce_at_userinfo(response: TestResponse) -> str:
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.headers["WWW-Authenticate"].startswith('DPoP error="use_dpop_nonce"')
    return str(response.headers["DPoP-Nonce"])


def test_the_token_endpoint_asks_for_a_nonce_before_spending_the_code(
        logged_in: Browser, mobile_app: Platform) -> None:
    token, nonce = bound_token(logged_in, mobile_app, new_key())
    assert token and nonce  # the successful answer hands the nonce out too


def test_userinfo_asks_for_a_nonce_then_accepts_it(
        logged_in: Browser, mobile_app: Platform) -> None:
    key = new_key()
    token, _ = bound_token(logged_in, mobile_app, key)
    refused = userinfo(logged_in.client, token, make_proof(key, "GET", USERINFO_URL, token))
    nonce = assert_asks_for_nonce_at_userinfo(refused)
    proof = make_proof(key, "GET", USERINFO_URL, token, nonce=nonce)
    ok = userinfo(logged_in.client, token, proof)
    assert ok.status_code == 200, ok.get_json()
    assert ok.headers["DPoP-Nonce"] == nonce


def test_another_instance_with_the_same_secret_accepts_the_nonce(
        logged_in: Browser, mobile_app: Platform, database_url: str, tmp_path: Path) -> None:
    key = new_key()
    token, nonce = bound_token(logged_in, mobile_app, key)
    proof = make_proof(key, "GET", USERINFO_URL, token, nonce=nonce)
    with another_instance(database_url, tmp_path) as other:
        assert userinfo(other, token, proof).status_code == 200


def test_an_instance_with_another_secret_refuses_the_nonce(
        logged_in: Browser, mobile_app: Platform, database_url: str, tmp_path: Path) -> None:
    key = new_key()
    token, nonce = bound_token(logged_in, mobile_app, key)
    proof = make_proof(key, "GET", USERINFO_URL, token, nonce=nonce)
    with another_instance(database_url, tmp_path,
                          secret_key=secrets.token_urlsafe(32)) as stranger:
        answer = userinfo(stranger, token, proof)
    assert assert_asks_for_nonce_at_userinfo(answer) != nonce


@pytest.mark.parametrize("forged", [
    "", "x", "A" * 43, base64.urlsafe_b64encode(b"\0" * 32).decode().rstrip("="), "n" * 5000,
])
def test_a_forged_nonce_is_refused(logged_in: Browser, mobile_app: Platform,
                                   forged: str) -> None:
    key = new_key()
    token, _ = bound_token(logged_in, mobile_app, key)
    proof = make_proof(key, "GET", USERINFO_URL, token, nonce=forged)
    assert_asks_for_nonce_at_userinfo(userinfo(logged_in.client, token, proof))


def test_a_nonce_lasts_its_window_and_the_next_then_goes_stale(
        logged_in: Browser, mobile_app: Platform, frozen: TimeMachineFixture) -> None:
    key = new_key()
    token, nonce = bound_token(logged_in, mobile_app, key)
    frozen.shift(WINDOW)  # the next window: still accepted
    proof = make_proof(key, "GET", USERINFO_URL, token, nonce=nonce)
    assert userinfo(logged_in.client, token, proof).status_code == 200
    frozen.shift(WINDOW)  # two windows after the nonce's own: stale
    proof = make_proof(key, "GET", USERINFO_URL, token, nonce=nonce)
    fresh = assert_asks_for_nonce_at_userinfo(userinfo(logged_in.client, token, proof))
    assert fresh != nonce


def test_a_confidential_clients_token_request_needs_the_nonce_too(
        logged_in: Browser, platform: Platform) -> None:
    key = new_key()
    form = code_request(logged_in, platform)
    del form["client_id"]
    first = logged_in.client.post("/token", data=form, headers={
        **basic(platform), "DPoP": make_proof(key, "POST", TOKEN_URL)})
    nonce = assert_asks_for_nonce_at_token(first)
    proof = make_proof(key, "POST", TOKEN_URL, nonce=nonce)
    issued = logged_in.client.post("/token", data=form,
                                   headers={**basic(platform), "DPoP": proof})
    assert issued.status_code == 200, issued.get_json()


def test_requests_without_a_proof_are_unaffected(
        logged_in: Browser, mobile_app: Platform) -> None:
    issued = logged_in.client.post("/token", data=code_request(logged_in, mobile_app))
    assert issued.status_code == 200, issued.get_json()
    assert issued.get_json()["token_type"] == "Bearer"


def test_discovery_is_unchanged(client: FlaskClient) -> None:
    document = client.get("/.well-known/openid-configuration").get_json()
    assert document["dpop_signing_alg_values_supported"] == ["ES256", "RS256"]


def test_nonces_are_off_by_default(database_url: str, tmp_path: Path) -> None:
    with another_instance(database_url, tmp_path, dpop_nonce=False) as default:
        answer = default.post("/token", data={"grant_type": "refresh_token"})
    assert "DPoP-Nonce" not in answer.headers  # proofs without nonces: test_dpop.py


def test_par_asks_for_a_nonce_too(browser: Browser, mobile_app: Platform) -> None:
    key = new_key()
    params = AuthorizationRequest(mobile_app.client_id, mobile_app.redirect_uri).params()
    first = browser.client.post("/par", data=params,
                                headers={"DPoP": make_proof(key, "POST", PAR_URL)})
    nonce = assert_asks_for_nonce_at_token(first)  # RFC 9449 8: as at the token endpoint
    proof = make_proof(key, "POST", PAR_URL, nonce=nonce)
    pushed = browser.client.post("/par", data=params, headers={"DPoP": proof})
    assert pushed.status_code == 201, pushed.get_json()
    assert pushed.headers["DPoP-Nonce"] == nonce
