"""Refresh for exchanged tokens (issue 14, part 3): only when the traveller granted
offline_access with the delegation and the actor asks for it; the refresh token rotates
like any other, gives again a short-lived token for the same API, and is refused once
the delegation is stopped."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from consent.delegations import stop_delegation
from idp.extensions import db
from tests import factories
from tests.browser import Browser, query_of
from tests.delegation import (
    API,
    SCOPE,
    Cast,
    delegation_request,
    exchange,
    make_cast,
    verify_at_resource,
)
from tests.tokens import basic, redeem

ACTIONS = "trips:search bookings:create"


@pytest.fixture
def cast(app: Flask) -> Cast:
    return make_cast()


def delegate_with(browser: Browser, cast: Cast, offline: bool) -> dict[str, Any]:
    """The traveller allows the delegation, and the platform's own offline_access (its
    refresh token); the delegation's own offline box ticked or not."""
    request = delegation_request(cast.regional, f"{SCOPE} offline_access")
    browser.authorize(request)
    html = browser.page.get_data(as_text=True)  # type: ignore[union-attr]
    action = html.split('action="', 1)[1].split('"', 1)[0]
    answer = {"decision": "allow", "scope": ["profile:alias", "offline_access"],
              "delegation": API, "resource_claim": ["nickname"],
              **({"delegation_offline": "yes"} if offline else {})}
    page = browser.follow_local(browser.submit(action, answer, html))
    response = redeem(browser.client, cast.regional, query_of(page.location)["code"],
                      request.verifier)
    assert response.status_code == 200, response.get_json()
    tokens: dict[str, Any] = response.get_json()
    return tokens


def refresh(client: FlaskClient, cast: Cast, token: str) -> Any:
    return client.post("/token", data={"grant_type": "refresh_token", "refresh_token": token},
                       headers=basic(cast.regional))


def test_with_offline_access_for_the_delegation_the_exchange_refreshes_for_the_same_api(
        client: FlaskClient, logged_in: Browser, cast: Cast) -> None:
    own = delegate_with(logged_in, cast, offline=True)

    first = exchange(client, cast.regional, own["access_token"],
                     scope=f"{ACTIONS} offline_access").get_json()
    assert first["scope"] == f"{ACTIONS} offline_access"
    again = refresh(client, cast, first["refresh_token"])

    assert again.status_code == 200, again.get_json()
    body = again.get_json()
    assert body["expires_in"] == 300 and body["refresh_token"] != first["refresh_token"]
    claims = verify_at_resource(client, body["access_token"])
    assert claims["aud"] == API and claims["act"] == {"sub": cast.regional.client_id}
    assert claims["scope"] == ACTIONS
    # Not a token for the regional platform itself: it opens no userinfo.
    assert client.get("/userinfo", headers={
        "Authorization": f"Bearer {body['access_token']}"}).status_code == 403
    # Rotated: the spent one is refused, and its reuse ends the family.
    assert refresh(client, cast, first["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert refresh(client, cast, body["refresh_token"]).get_json()["error"] == "invalid_grant"


@pytest.mark.parametrize(("offline", "scope"), [
    (True, ACTIONS),  # granted, not asked
    (False, f"{ACTIONS} offline_access"),  # asked, granted to the platform, not for this
])
def test_no_refresh_token_unless_granted_for_the_delegation_and_asked(
        client: FlaskClient, logged_in: Browser, cast: Cast, offline: bool,
        scope: str) -> None:
    own = delegate_with(logged_in, cast, offline=offline)

    body = exchange(client, cast.regional, own["access_token"], scope=scope).get_json()

    assert "access_token" in body and "refresh_token" not in body
    assert body["scope"] == ACTIONS


def test_once_the_delegation_is_stopped_its_refresh_token_is_refused(
        client: FlaskClient, logged_in: Browser, cast: Cast,
        user: factories.Traveller) -> None:
    own = delegate_with(logged_in, cast, offline=True)
    first = exchange(client, cast.regional, own["access_token"],
                     scope=f"{ACTIONS} offline_access").get_json()

    stop_delegation(user.model, cast.regional.client_id, API)
    db.session.commit()

    refused = refresh(client, cast, first["refresh_token"])
    assert refused.status_code == 400
    assert refused.get_json()["error"] == "invalid_grant"
    # The regional platform's own refresh token still works: only the delegation ended.
    assert refresh(client, cast, own["refresh_token"]).status_code == 200
