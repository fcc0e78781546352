"""The claims request parameter (OIDC Core 5.5): a platform names the claims it wants in
the ID token or from userinfo; those beyond its scopes are asked on the consent screen,
it gets them only once the traveller released them, and the ID token never carries a
sensitive claim."""

from __future__ import annotations

import json
from typing import Any

import pytest
from werkzeug.test import TestResponse

from idp.accounts.login import ACR_PASSWORD
from idp.extensions import db
from tests.browser import AuthorizationRequest, Browser, query_of
from tests.factories import Platform, Traveller
from tests.tokens import redeem, userinfo, verify_id_token


def answer(browser: Browser, scopes: list[str] = (),  # type: ignore[assignment]
           claims: list[str] = (), decision: str = "allow") -> TestResponse:  # type: ignore[assignment]
    """Answer the consent screen with these boxes ticked, and no other."""
    html = browser.page.get_data(as_text=True)  # type: ignore[union-attr]
    action = html.split('<form method="post" action="')[1].split('"')[0]
    data = {"decision": decision, "scope": list(scopes), "claim": list(claims)}
    return browser.submit(action, data, html)


def sign_in(browser: Browser, platform: Platform, claims: dict[str, Any],
            scope: str = "openid profile email address") -> tuple[dict[str, Any], dict[str, Any]]:
    """The platform's view: the ID token's claims and the userinfo answer."""
    request = AuthorizationRequest(platform.client_id, platform.redirect_uri, scope=scope,
                                   extra={"claims": json.dumps(claims)})
    browser.authorize(request)
    response = browser.follow_local(browser.consent("allow"))
    code = query_of(response.location)["code"]
    tokens = redeem(browser.client, platform, code, request.verifier).get_json()
    id_token = verify_id_token(browser.client, tokens["id_token"])
    return id_token, userinfo(browser.client, tokens["access_token"]).get_json()


def test_id_token_claims_are_added_when_released(logged_in: Browser, platform: Platform) -> None:
    id_token, _ = sign_in(logged_in, platform, {"id_token": {"email": {"essential": True},
                                                             "given_name": None}})
    assert id_token["email"].startswith("traveller")
    assert id_token["given_name"] == "Umberto"
    assert "family_name" not in id_token  # not asked for the ID token


def test_sensitive_claims_never_go_into_the_id_token(logged_in: Browser, platform: Platform,
                                                     user: Traveller) -> None:
    user.model.locality = "Lyon"
    db.session.commit()

    id_token, info = sign_in(logged_in, platform, {"id_token": {"address": None}})

    assert "address" not in id_token
    assert info["address"]["locality"] == "Lyon"  # still there, by userinfo


def test_claims_the_traveller_unticks_are_never_added(logged_in: Browser,
                                                     platform: Platform) -> None:
    request = AuthorizationRequest(platform.client_id, platform.redirect_uri,
                                   scope="openid email", extra={"claims": json.dumps(
                                       {"id_token": {"given_name": {"essential": True}},
                                        "userinfo": {"given_name": None, "email": None}})})
    logged_in.authorize(request)
    response = logged_in.follow_local(answer(logged_in, scopes=["email"]))  # given_name unticked
    tokens = redeem(logged_in.client, platform, query_of(response.location)["code"],
                    request.verifier).get_json()
    id_token = verify_id_token(logged_in.client, tokens["id_token"])
    info = userinfo(logged_in.client, tokens["access_token"]).get_json()
    assert "given_name" not in id_token
    assert set(info) == {"sub", "email", "email_verified"}


def test_a_userinfo_member_adds_to_the_scopes_within_consent(
        logged_in: Browser, platform: Platform) -> None:
    _, info = sign_in(logged_in, platform, {"userinfo": {"given_name": None}},
                      scope="openid email")
    assert set(info) == {"sub", "email", "email_verified", "given_name"}  # ticked when asked
    _, info = sign_in(logged_in, platform, {"userinfo": {"given_name": None}})
    assert {"given_name", "email", "family_name"} <= set(info)


def test_asked_values_are_matched_never_changed(logged_in: Browser, platform: Platform) -> None:
    _, info = sign_in(logged_in, platform, {"userinfo": {
        "email_verified": {"value": True}, "given_name": {"values": ["Umberto", "Uma"]}}})
    assert "email_verified" not in info  # the address is not verified
    assert info["given_name"] == "Umberto"


def test_without_the_parameter_nothing_changes(logged_in: Browser, platform: Platform) -> None:
    id_token, info = sign_in(logged_in, platform, {})
    assert "email" not in id_token
    assert {"email", "given_name"} <= set(info)


@pytest.mark.parametrize("claims", [
    "{not json",
    "[]",
    '"userinfo"',
    '{"userinfo": []}',
    '{"id_token": {"email": true}}',
    '{"id_token": {"email": {"essential": "yes"}}}',
    '{"userinfo": {"given_name": {"values": "Umberto"}}}',
])
def test_a_malformed_claims_parameter_is_invalid_request(browser: Browser, platform: Platform,
                                                         claims: str) -> None:
    request = AuthorizationRequest(platform.client_id, platform.redirect_uri,
                                   extra={"claims": claims})
    response = browser.authorize(request)
    assert response.status_code == 302
    params = query_of(response.location)
    assert params["error"] == "invalid_request" and params["state"] == request.state


def test_discovery_says_the_parameter_is_supported(browser: Browser) -> None:
    document = browser.get("/.well-known/openid-configuration").get_json()
    assert document["claims_parameter_supported"] is True


def acr_request(platform: Platform, spec: dict[str, Any]) -> AuthorizationRequest:
    return AuthorizationRequest(platform.client_id, platform.redirect_uri, scope="openid",
                                extra={"claims": json.dumps({"id_token": {"acr": spec}})})


def test_an_essential_acr_no_session_can_meet_is_unmet(logged_in: Browser,
                                                        platform: Platform) -> None:
    """5.5.1.1: an essential acr with values is a requirement, never silently ignored."""
    request = acr_request(platform, {"essential": True, "values": ["urn:elsewhere:loa3"]})
    response = logged_in.authorize(request)
    assert response.location.startswith(platform.redirect_uri + "?")
    params = query_of(response.location)
    assert params["error"] == "unmet_authentication_requirements"
    assert params["state"] == request.state


@pytest.mark.parametrize("spec", [
    {"essential": True, "value": ACR_PASSWORD},
    {"essential": True, "values": ["urn:elsewhere:loa3", ACR_PASSWORD]},
    {"values": ["urn:elsewhere:loa3"]},  # voluntary: a wish, not a requirement
])
def test_an_acr_the_session_meets_signs_in(logged_in: Browser, platform: Platform,
                                           spec: dict[str, Any]) -> None:
    request = acr_request(platform, spec)
    logged_in.authorize(request)
    response = logged_in.follow_local(logged_in.consent("allow"))
    tokens = redeem(logged_in.client, platform, query_of(response.location)["code"],
                    request.verifier).get_json()
    assert verify_id_token(logged_in.client, tokens["id_token"])["acr"] == ACR_PASSWORD
