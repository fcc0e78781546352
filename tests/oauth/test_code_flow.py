"""The authorization code flow, as a platform and a traveller live it."""

from __future__ import annotations

import time

from idp.oauth.claims import subject_for
from idp.oauth.grants import claim_code  # noqa: F401  (imported to fail fast if renamed)
from tests.browser import AuthorizationRequest, Browser, query_of
from tests.factories import Platform, Traveller
from tests.tokens import redeem, userinfo, verify_id_token


def log_in_and_allow(browser: Browser, user: Traveller, request: AuthorizationRequest):
    page = browser.authorize(request)
    assert "/login" in page.request.path
    page = browser.login_form(user.email, user.password)
    assert "consent" in page.get_data(as_text=True)
    return browser.follow_local(browser.consent("allow"))


def test_code_flow_issues_a_signed_id_token_and_userinfo(browser: Browser, user: Traveller,
                                                         platform: Platform) -> None:
    request = AuthorizationRequest(platform.client_id, platform.redirect_uri)
    response = log_in_and_allow(browser, user, request)

    assert response.status_code == 302
    assert response.location.startswith(platform.redirect_uri + "?")
    params = query_of(response.location)
    assert params["state"] == request.state
    assert params["iss"] == "https://idp.test"

    tokens = redeem(browser.client, platform, params["code"], request.verifier)
    assert tokens.status_code == 200, tokens.get_json()
    assert tokens.headers["Cache-Control"] == "no-store"
    body = tokens.get_json()
    assert "refresh_token" not in body  # no offline_access asked

    claims = verify_id_token(browser.client, body["id_token"])
    assert claims["iss"] == "https://idp.test"
    assert claims["aud"] == [platform.client_id]
    assert claims["sub"] == subject_for(user.model, platform.model)
    assert claims["sub"] != user.model.subject  # pairwise, never the internal subject
    assert claims["nonce"] == request.nonce
    assert claims["amr"] == ["pwd"]
    assert claims["acr"]
    assert abs(claims["auth_time"] - time.time()) < 60
    assert claims["exp"] > claims["iat"]
    assert claims["_header"]["kid"]
    assert "email" not in claims  # profile claims go through userinfo only

    info = userinfo(browser.client, body["access_token"])
    assert info.status_code == 200
    assert info.headers["Cache-Control"] == "no-store"
    assert info.get_json() == {
        "sub": claims["sub"], "email": user.email, "email_verified": False,
        "given_name": "Umberto", "family_name": "Rossi",
        "updated_at": info.get_json()["updated_at"],
    }
