"""A platform registered the standard way, without ``scope`` (OIDC Dynamic Client
Registration 1.0 has no such field), asks for special-category and verified data at
/authorize by every door: by scope, one claim at a time with the ``claims`` parameter,
essential or not, through a pushed request. None of it reaches the consent screen, the
tokens or userinfo (shared/SCOPES.md: they stay behind a declaration with a purpose)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from clients.credentials import issue_initial_access_token
from idp.extensions import db
from tests.browser import CHECKBOX, AuthorizationRequest, Browser, query_of
from tests.factories import Platform, Traveller
from tests.oauth.test_par import authorize
from tests.tokens import basic, redeem, userinfo, verify_id_token

REDIRECT = "https://carpool.example/cb"
# Special category (GDPR Art. 9), verified by the provider, and high sensitivity.
TITLES = ("Your accessibility needs", "Whether your identity was checked",
          "Your driving licence", "Your right to help with travel")
GUARDED = {"accessibility_needs": "mob_accessibility_needs",
           "identity_verified": "mob_identity_verified",
           "driving_licence": "mob_driving_licence",
           "eligibility": "mob_eligibility"}
VALUES: dict[str, Any] = {
    "mob_accessibility_needs": {"mobility": ["wheelchair"]},
    "mob_identity_verified": {"verified": True, "method": "in_person"},
    "mob_driving_licence": {"verified": True, "categories": ["B"]},
    "mob_eligibility": [{"scheme": "solidarity", "eligible": True}],
}


@pytest.fixture
def standard_platform(app: Flask, client: FlaskClient) -> Platform:
    """Registered as a certified library does: no scope, no purposes."""
    _, token = issue_initial_access_token(expires_in=3600, uses=1)
    answer = client.post("/register", headers={"Authorization": f"Bearer {token}"}, json={
        "client_name": "Plain OIDC client", "redirect_uris": [REDIRECT]})
    assert answer.status_code == 201, answer.get_json()
    info = answer.get_json()
    assert not set(GUARDED) & set(info["scope"].split())
    db.session.expire_all()
    return Platform(None, info["client_id"], info["client_secret"], REDIRECT)  # type: ignore[arg-type]


@pytest.fixture
def traveller_with_data(user: Traveller) -> Traveller:
    user.model.mobility = dict(VALUES)
    db.session.commit()
    return user


def claims_parameter() -> str:
    asked = {claim: {"essential": True} for claim in GUARDED.values()}
    return json.dumps({"userinfo": asked, "id_token": asked})


@pytest.mark.parametrize("pushed", [False, True], ids=["query", "pushed"])
def test_nothing_guarded_is_released_to_a_platform_that_declared_nothing(
        logged_in: Browser, traveller_with_data: Traveller, standard_platform: Platform,
        in_english: None, pushed: bool) -> None:
    request = AuthorizationRequest(
        standard_platform.client_id, REDIRECT, scope="openid email " + " ".join(GUARDED),
        extra={"claims": claims_parameter()})
    if pushed:
        answer = logged_in.client.post("/par", data=request.params(),
                                       headers=basic(standard_platform))
        assert answer.status_code == 201, answer.get_json()
        page = authorize(logged_in, standard_platform.client_id,
                         answer.get_json()["request_uri"])
    else:
        page = logged_in.authorize(request)
    assert page.status_code == 200, page.get_data(as_text=True)
    screen = page.get_data(as_text=True)
    offered = {value for _, value in CHECKBOX.findall(screen)}
    assert "email" in offered and not set(GUARDED) & offered
    for title in TITLES:
        assert title not in screen
    done = logged_in.follow_local(logged_in.consent("allow"))
    code = query_of(done.location)["code"]
    tokens = redeem(logged_in.client, standard_platform, code, request.verifier).get_json()
    assert not set(GUARDED) & set(tokens["scope"].split())
    released = userinfo(logged_in.client, tokens["access_token"]).get_json()
    assert released["email"] == traveller_with_data.email
    assert not set(GUARDED.values()) & set(released)
    assert not set(GUARDED.values()) & set(verify_id_token(logged_in.client,
                                                           tokens["id_token"]))



def test_a_platform_that_declared_them_with_purposes_is_asked(
        logged_in: Browser, client: FlaskClient, in_english: None) -> None:
    _, token = issue_initial_access_token(expires_in=3600, uses=1)
    purposes = {scope: {"required": False, "purpose": {"en": f"Because of {scope}."}}
                for scope in GUARDED}
    info = client.post("/register", headers={"Authorization": f"Bearer {token}"}, json={
        "client_name": "Declared", "redirect_uris": [REDIRECT],
        "scope": "openid email " + " ".join(GUARDED), "mob_scope_policy": purposes,
    }).get_json()
    request = AuthorizationRequest(info["client_id"], REDIRECT,
                                   scope="openid email " + " ".join(GUARDED))
    screen = logged_in.authorize(request).get_data(as_text=True)
    assert set(GUARDED) <= {value for _, value in CHECKBOX.findall(screen)}
    assert all(title in screen for title in TITLES)


@pytest.mark.parametrize("scope", list(GUARDED)[:3])  # special category, then verified
def test_listing_a_special_or_verified_scope_without_a_purpose_is_refused(
        client: FlaskClient, scope: str) -> None:
    _, token = issue_initial_access_token(expires_in=3600, uses=1)
    answer = client.post("/register", headers={"Authorization": f"Bearer {token}"}, json={
        "client_name": "Bare", "redirect_uris": [REDIRECT], "scope": f"openid email {scope}"})
    assert answer.status_code == 400
    assert answer.get_json()["error"] == "invalid_client_metadata"
    assert scope in answer.get_json()["error_description"]
