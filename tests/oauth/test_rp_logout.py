"""RP-Initiated Logout 1.0: a platform sends the traveller to /end_session; the session
ends (after a confirmation unless the platform's hint names this very session), every
platform of the session hears of it by back channel, and the traveller comes back only
to an address the platform registered."""

from __future__ import annotations

import json
import re
import time
from html import unescape
from typing import Any
from urllib.parse import urlencode

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import RSAKey

from clients.credentials import issue_initial_access_token
from clients.registration import ClientMetadataError
from idp.extensions import db
from idp.keys import key_store
from idp.oauth.models import Client
from idp.outbox import OutboxMessage
from tests.browser import AuthorizationRequest, Browser, query_of
from tests.factories import Platform, Traveller, make_platform, make_user
from tests.tokens import redeem, verify_id_token

AFTER_LOGOUT = "https://carpool.example/logged-out"
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


@pytest.fixture
def rp(app: Flask) -> Platform:
    return make_platform(post_logout_redirect_uris=[AFTER_LOGOUT],
                         backchannel_logout_uri="https://carpool.example/backchannel")


def sign_in(browser: Browser, platform: Platform) -> str:
    """The traveller logs in to the platform, which keeps the raw ID token."""
    request = AuthorizationRequest(platform.client_id, platform.redirect_uri)
    page = browser.authorize(request)
    if page.status_code == 200:
        page = browser.follow_local(browser.consent("allow"))
    code = query_of(page.location)["code"]
    token: str = redeem(browser.client, platform, code, request.verifier).get_json()["id_token"]
    return token


def end_session(browser: Browser, **params: str) -> Any:
    return browser.get("/end_session?" + urlencode(params))


def is_logged_in(browser: Browser) -> bool:
    return bool(browser.client.get("/account").status_code == 200)


def confirm(browser: Browser) -> Any:
    html = browser.page.get_data(as_text=True)  # type: ignore[union-attr]
    fields = {name: unescape(value) for name, value in HIDDEN.findall(html)}
    return browser.submit("/end_session/confirm", fields, html)


def sign_hint(**claims: Any) -> str:
    """An ID token as we would have signed it, with the claims given."""
    key = key_store().signing_key("RS256")
    now = int(time.time())
    body = {"iss": "https://idp.test", "iat": now, "exp": now + 60} | claims
    return jwt.encode({"alg": "RS256", "kid": str(key.kid)}, body, key)


def test_discovery_names_the_end_session_endpoint(client: FlaskClient) -> None:
    document = client.get("/.well-known/openid-configuration").get_json()
    assert document["end_session_endpoint"] == "https://idp.test/end_session"


def test_a_hint_for_this_session_logs_out_at_once_and_returns_with_state(
        logged_in: Browser, rp: Platform) -> None:
    id_token = sign_in(logged_in, rp)

    response = end_session(logged_in, id_token_hint=id_token,
                           post_logout_redirect_uri=AFTER_LOGOUT, state="af0ifjsldkj")

    assert response.status_code == 302
    assert response.location == AFTER_LOGOUT + "?state=af0ifjsldkj"
    assert not is_logged_in(logged_in)


def test_the_logout_may_be_posted(logged_in: Browser, rp: Platform) -> None:
    id_token = sign_in(logged_in, rp)
    response = logged_in.client.post("/end_session", data={
        "id_token_hint": id_token, "post_logout_redirect_uri": AFTER_LOGOUT})
    assert response.status_code == 302 and response.location == AFTER_LOGOUT
    assert not is_logged_in(logged_in)


def test_without_a_hint_the_traveller_is_asked_first(logged_in: Browser, rp: Platform) -> None:
    sign_in(logged_in, rp)

    page = end_session(logged_in, client_id=rp.client_id,
                       post_logout_redirect_uri=AFTER_LOGOUT, state="s1", ui_locales="en")

    assert page.status_code == 200
    assert "Log out of Mobility ID?" in page.get_data(as_text=True)
    assert is_logged_in(logged_in)
    response = confirm(logged_in)
    assert response.status_code == 302
    assert response.location == AFTER_LOGOUT + "?state=s1"
    assert not is_logged_in(logged_in)


def test_without_a_return_address_a_page_says_so(logged_in: Browser) -> None:
    end_session(logged_in, ui_locales="en")
    page = confirm(logged_in)
    assert page.status_code == 200
    assert "You are logged out" in page.get_data(as_text=True)
    assert not is_logged_in(logged_in)


def test_the_confirmation_needs_its_csrf_token(logged_in: Browser, rp: Platform) -> None:
    end_session(logged_in, client_id=rp.client_id)
    response = logged_in.client.post("/end_session/confirm", data={"client_id": rp.client_id},
                                     headers={"Referer": "https://idp.test/end_session"})
    assert response.status_code == 400
    assert is_logged_in(logged_in)


def test_a_hint_for_another_session_asks_for_confirmation(
        client: FlaskClient, app: Flask, rp: Platform, user: Traveller) -> None:
    first = Browser(client)
    first.login(user.email, user.password)
    id_token = sign_in(first, rp)
    other = make_user()
    second = Browser(app.test_client())
    second.login(other.email, other.password)

    page = end_session(second, id_token_hint=id_token, post_logout_redirect_uri=AFTER_LOGOUT,
                       ui_locales="en")

    assert page.status_code == 200
    assert "Log out of Mobility ID?" in page.get_data(as_text=True)
    assert is_logged_in(second) and is_logged_in(first)


def test_an_expired_hint_is_still_accepted(logged_in: Browser, rp: Platform) -> None:
    claims = verify_id_token(logged_in.client, sign_in(logged_in, rp))
    del claims["_header"]
    hint = sign_hint(**claims | {"iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600})

    response = end_session(logged_in, id_token_hint=hint, post_logout_redirect_uri=AFTER_LOGOUT)

    assert response.status_code == 302 and response.location == AFTER_LOGOUT
    assert not is_logged_in(logged_in)


def test_without_a_session_the_traveller_goes_straight_back(browser: Browser,
                                                            rp: Platform) -> None:
    response = end_session(browser, client_id=rp.client_id,
                           post_logout_redirect_uri=AFTER_LOGOUT, state="xyz")
    assert response.status_code == 302
    assert query_of(response.location) == {"state": "xyz"}


@pytest.mark.parametrize("uri", [
    "https://evil.example/logged-out",
    AFTER_LOGOUT + "/",
    AFTER_LOGOUT + "?next=https://evil.example",
    "https://carpool.example/callback",  # a redirect URI, not a post-logout one
])
def test_an_unregistered_return_address_gets_a_page_never_a_redirect(
        logged_in: Browser, rp: Platform, uri: str) -> None:
    response = end_session(logged_in, client_id=rp.client_id, post_logout_redirect_uri=uri,
                           state="s")
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert is_logged_in(logged_in)


def test_a_return_address_needs_a_platform(logged_in: Browser) -> None:
    response = end_session(logged_in, post_logout_redirect_uri=AFTER_LOGOUT)
    assert response.status_code == 400 and "Location" not in response.headers


@pytest.mark.parametrize("case", ["forged", "garbage", "other_issuer", "wrong_client",
                                  "unknown_client"])
def test_a_bad_hint_gets_a_page(logged_in: Browser, rp: Platform, user: Traveller,
                                case: str) -> None:
    params = {"post_logout_redirect_uri": AFTER_LOGOUT}
    if case == "forged":
        key = RSAKey.generate_key(2048)
        params["id_token_hint"] = jwt.encode({"alg": "RS256"}, {
            "iss": "https://idp.test", "aud": [rp.client_id], "sub": user.model.subject}, key)
    elif case == "garbage":
        params["id_token_hint"] = "not.a.token"
    elif case == "other_issuer":
        params["id_token_hint"] = sign_hint(iss="https://other.example", aud=[rp.client_id])
    elif case == "wrong_client":
        params["id_token_hint"] = sign_hint(aud=[rp.client_id])
        params["client_id"] = make_platform().client_id
    else:
        params["id_token_hint"] = sign_hint(aud=["no-such-platform"])
    response = end_session(logged_in, **params)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert is_logged_in(logged_in)


def test_every_platform_of_the_session_is_told_by_back_channel(
        logged_in: Browser, rp: Platform) -> None:
    other = make_platform(backchannel_logout_uri="https://national.example/backchannel")
    sign_in(logged_in, other)
    id_token = sign_in(logged_in, rp)

    end_session(logged_in, id_token_hint=id_token)

    db.session.expire_all()
    told = {m.client_id for m in db.session.scalars(db.select(OutboxMessage))}
    assert told == {rp.client_id, other.client_id}


def test_platforms_register_their_return_addresses(client: FlaskClient, app: Flask) -> None:
    _, token = issue_initial_access_token(expires_in=60, uses=2)
    body = {"client_name": "National carpool", "redirect_uris": ["https://n.example/cb"],
            "post_logout_redirect_uris": ["https://n.example/bye"]}
    response = client.post("/register", json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201
    assert response.get_json()["post_logout_redirect_uris"] == ["https://n.example/bye"]

    body["post_logout_redirect_uris"] = ["http://n.example/bye#top"]
    response = client.post("/register", data=json.dumps(body),
                           content_type="application/json",
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_client_metadata"


def test_the_operator_registers_return_addresses_from_the_cli(runner: CliRunner) -> None:
    result = runner.invoke(args=["clients", "create", "--name", "Regional carpool",
                                 "--redirect-uri", "https://r.example/cb", "--json",
                                 "--post-logout-redirect-uri", "https://r.example/bye"])
    assert result.exit_code == 0, result.output
    client_id = json.loads(result.output)["client_id"]
    stored = db.session.scalar(db.select(Client).where(Client.client_id == client_id))
    assert stored is not None and stored.post_logout_redirect_uris == ["https://r.example/bye"]


def test_a_bad_return_address_is_refused_at_registration(app: Flask) -> None:
    with pytest.raises(ClientMetadataError) as error:
        make_platform(post_logout_redirect_uris=["http://evil.example/bye"])
    assert error.value.error == "invalid_client_metadata"
