"""Authorization codes bound to a DPoP key (RFC 9449 10): the platform names the key with
``dpop_jkt`` at /authorize, or sends a proof with its pushed request (10.1); the code is
then redeemed only with a proof of that key, so a stolen code is of no use."""

from __future__ import annotations

from typing import Any

import pytest
from werkzeug.test import TestResponse

from idp.extensions import db
from idp.oauth.models import AuthorizationCode
from tests.browser import AuthorizationRequest, Browser, query_of
from tests.factories import Platform
from tests.oauth.test_dpop import TOKEN_URL, Key, make_proof, new_key, thumbprint
from tests.oauth.test_par import authorize, push, request_uri_of
from tests.oauth.test_public_refresh import OFFLINE, make_mobile_app

PAR_URL = "https://idp.test/par"


@pytest.fixture
def mobile_app(app: Any) -> Platform:
    return make_mobile_app()


def code_for(browser: Browser, app: Platform, **extra: str) -> tuple[str, str]:
    """Sign in and consent to a request with ``extra``; the code and its PKCE verifier."""
    request = AuthorizationRequest(app.client_id, app.redirect_uri, scope=OFFLINE,
                                   extra=extra)
    page = browser.authorize(request)
    if page.status_code == 200:
        page = browser.follow_local(browser.consent("allow"))
    return query_of(page.location)["code"], request.verifier


def redeem(browser: Browser, app: Platform, code: str, verifier: str,
           key: Key | None) -> TestResponse:
    headers = {"DPoP": make_proof(key, "POST", TOKEN_URL)} if key is not None else {}
    return browser.client.post("/token", headers=headers, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": app.redirect_uri,
        "code_verifier": verifier, "client_id": app.client_id})


def test_a_code_asked_for_with_dpop_jkt_is_redeemed_with_a_proof_of_that_key(
        logged_in: Browser, mobile_app: Platform) -> None:
    key = new_key()
    code, verifier = code_for(logged_in, mobile_app, dpop_jkt=thumbprint(key))
    assert db.session.scalar(db.select(AuthorizationCode.dpop_jkt)) == thumbprint(key)
    issued = redeem(logged_in, mobile_app, code, verifier, key)
    assert issued.status_code == 200, issued.get_json()
    assert issued.get_json()["token_type"] == "DPoP"


@pytest.mark.parametrize("proof", ["none", "other-key"])
def test_a_bound_code_without_a_proof_of_its_key_is_an_invalid_grant(
        logged_in: Browser, mobile_app: Platform, proof: str) -> None:
    code, verifier = code_for(logged_in, mobile_app, dpop_jkt=thumbprint(new_key()))
    thief = new_key() if proof == "other-key" else None
    refused = redeem(logged_in, mobile_app, code, verifier, thief)
    assert refused.status_code == 400
    assert refused.get_json()["error"] == "invalid_grant"
    assert "DPoP" in refused.get_json()["error_description"]


def test_a_code_without_dpop_jkt_is_not_bound(logged_in: Browser,
                                              mobile_app: Platform) -> None:
    code, verifier = code_for(logged_in, mobile_app)
    assert redeem(logged_in, mobile_app, code, verifier, None).status_code == 200


@pytest.mark.parametrize("value", ["x", "a" * 44, "a" * 42 + "!"])
def test_a_malformed_dpop_jkt_is_refused_at_authorize(
        logged_in: Browser, mobile_app: Platform, value: str) -> None:
    request = AuthorizationRequest(mobile_app.client_id, mobile_app.redirect_uri,
                                   extra={"dpop_jkt": value})
    answer = logged_in.authorize(request)
    assert answer.status_code == 302
    assert query_of(answer.location)["error"] == "invalid_request"


def test_a_proof_at_par_binds_the_code(logged_in: Browser, mobile_app: Platform) -> None:
    key = new_key()
    request = AuthorizationRequest(mobile_app.client_id, mobile_app.redirect_uri,
                                   scope=OFFLINE)
    pushed = logged_in.client.post("/par", data=request.params(),
                                   headers={"DPoP": make_proof(key, "POST", PAR_URL)})
    page = authorize(logged_in, mobile_app.client_id, request_uri_of(pushed))
    if page.status_code == 200:
        page = logged_in.follow_local(logged_in.consent("allow"))
    code = query_of(page.location)["code"]
    assert db.session.scalar(db.select(AuthorizationCode.dpop_jkt)) == thumbprint(key)
    refused = redeem(logged_in, mobile_app, code, request.verifier, None)
    assert refused.get_json()["error"] == "invalid_grant"
    assert "DPoP" in refused.get_json()["error_description"]


def test_a_code_pushed_with_a_proof_is_redeemed_with_the_same_key(
        logged_in: Browser, mobile_app: Platform) -> None:
    key = new_key()
    request = AuthorizationRequest(mobile_app.client_id, mobile_app.redirect_uri,
                                   scope=OFFLINE)
    pushed = logged_in.client.post("/par", data=request.params(),
                                   headers={"DPoP": make_proof(key, "POST", PAR_URL)})
    page = authorize(logged_in, mobile_app.client_id, request_uri_of(pushed))
    if page.status_code == 200:
        page = logged_in.follow_local(logged_in.consent("allow"))
    issued = redeem(logged_in, mobile_app, query_of(page.location)["code"],
                    request.verifier, key)
    assert issued.status_code == 200, issued.get_json()
    assert issued.get_json()["token_type"] == "DPoP"


def test_par_refuses_a_dpop_jkt_that_is_not_the_proofs_key(
        browser: Browser, mobile_app: Platform) -> None:
    proof = make_proof(new_key(), "POST", PAR_URL)
    answer = push(browser, mobile_app, headers={"DPoP": proof},
                  dpop_jkt=thumbprint(new_key()))
    assert answer.status_code == 400
    assert answer.get_json()["error"] == "invalid_request"


def test_par_refuses_a_bad_proof(browser: Browser, mobile_app: Platform) -> None:
    proof = make_proof(new_key(), "POST", TOKEN_URL)  # made for another endpoint
    answer = push(browser, mobile_app, headers={"DPoP": proof})
    assert answer.status_code == 400
    assert answer.get_json()["error"] == "invalid_dpop_proof"
