"""Refresh tokens for public clients (mobile and single-page apps), protected as
RFC 9700 4.14.2 wants: rotated at every use, the family revoked when a rotated token comes
back, and shorter lives than a confidential platform's (absolute and idle)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient
from oic import rndstr
from oic.oic import Client
from oic.oic.message import AuthorizationResponse, RegistrationResponse
from oic.utils.authn.client import CLIENT_AUTHN_METHOD
from time_machine import TimeMachineFixture
from werkzeug.test import TestResponse

from idp.extensions import db
from idp.oauth.models import Token
from idp.settings import load_settings
from tests.browser import Browser
from tests.factories import Platform, make_platform
from tests.live import (  # noqa: F401  (live_server is a fixture)
    PLATFORMS_PATH,
    HttpBrowser,
    LiveServer,
    live_server,
)
from tests.tokens import issue_tokens, refresh, userinfo

HOUR = 3600
DAY = 24 * HOUR
OFFLINE = "openid email offline_access"
RACERS = 4


def make_mobile_app(**overrides: Any) -> Platform:
    """A public client, PKCE only, allowed offline_access. Registration still refuses
    offline_access to public clients (clients/, issue 10 item 1): the operator's grant is
    written on the row, as registration will once it allows it."""
    app = make_platform(public=True, **overrides)
    app.model.scope = "openid profile email offline_access"
    app.model.grant_types = ["authorization_code", "refresh_token"]
    db.session.commit()
    return app


def refresh_public(client: FlaskClient, app: Platform, refresh_token: str) -> TestResponse:
    """A public client identifies itself with its client_id and no secret (RFC 6749 6)."""
    return client.post("/token", data={"grant_type": "refresh_token", "client_id": app.client_id,
                                       "refresh_token": refresh_token})


def renew(client: FlaskClient, app: Platform, refresh_token: str) -> dict[str, Any]:
    response = refresh_public(client, app, refresh_token)
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def assert_refused(response: TestResponse) -> None:
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"


@pytest.fixture
def mobile_app(app: Any) -> Platform:
    return make_mobile_app()


def test_a_public_app_with_pkce_gets_a_refresh_token_and_it_rotates(
        logged_in: Browser, mobile_app: Platform) -> None:
    tokens = issue_tokens(logged_in, mobile_app, scope=OFFLINE)
    assert "offline_access" in tokens["scope"].split()
    assert tokens["refresh_token"]

    renewed = renew(logged_in.client, mobile_app, tokens["refresh_token"])
    assert renewed["refresh_token"] != tokens["refresh_token"]
    assert renewed["access_token"] != tokens["access_token"]
    assert userinfo(logged_in.client, renewed["access_token"]).get_json()["email"]
    # Rotation: the old refresh token is spent.
    assert renew(logged_in.client, mobile_app, renewed["refresh_token"])["refresh_token"]


def test_no_refresh_token_without_offline_access(logged_in: Browser,
                                                 mobile_app: Platform) -> None:
    tokens = issue_tokens(logged_in, mobile_app, scope="openid email")
    assert "refresh_token" not in tokens


def test_a_reused_refresh_token_of_a_public_app_revokes_its_family(
        logged_in: Browser, mobile_app: Platform) -> None:
    tokens = issue_tokens(logged_in, mobile_app, scope=OFFLINE)
    renewed = renew(logged_in.client, mobile_app, tokens["refresh_token"])

    # A thief replays the stolen, already rotated token: refused, and the whole family
    # dies, including what the legitimate app holds now.
    assert_refused(refresh_public(logged_in.client, mobile_app, tokens["refresh_token"]))
    assert_refused(refresh_public(logged_in.client, mobile_app, renewed["refresh_token"]))
    assert userinfo(logged_in.client, renewed["access_token"]).status_code == 401


def test_a_public_refresh_token_is_bound_to_its_app(logged_in: Browser,
                                                    mobile_app: Platform) -> None:
    tokens = issue_tokens(logged_in, mobile_app, scope=OFFLINE)
    other = make_mobile_app()
    assert_refused(refresh_public(logged_in.client, other, tokens["refresh_token"]))


def test_a_public_refresh_token_lapses_after_a_day_without_use(
        logged_in: Browser, mobile_app: Platform, frozen: TimeMachineFixture) -> None:
    tokens = issue_tokens(logged_in, mobile_app, scope=OFFLINE)
    frozen.shift(DAY - 60)
    renewed = renew(logged_in.client, mobile_app, tokens["refresh_token"])
    # Each use starts the idle time again...
    frozen.shift(DAY - 60)
    renewed = renew(logged_in.client, mobile_app, renewed["refresh_token"])
    # ...and a day without one ends it.
    frozen.shift(DAY)
    assert_refused(refresh_public(logged_in.client, mobile_app, renewed["refresh_token"]))


def test_a_public_refresh_token_family_ends_a_week_after_sign_in_despite_rotation(
        logged_in: Browser, mobile_app: Platform, frozen: TimeMachineFixture) -> None:
    refresh_token = issue_tokens(logged_in, mobile_app, scope=OFFLINE)["refresh_token"]
    for _ in range(8):  # every 20 hours, never idle for a day: 6 days 16 hours
        frozen.shift(20 * HOUR)
        refresh_token = renew(logged_in.client, mobile_app, refresh_token)["refresh_token"]
    frozen.shift(8 * HOUR + 1)  # 7 days and a second after the first issue
    assert_refused(refresh_public(logged_in.client, mobile_app, refresh_token))


def test_public_refresh_lifetimes_follow_the_settings(
        app: Any, logged_in: Browser, frozen: TimeMachineFixture) -> None:
    settings = app.extensions["idp.settings"]
    assert settings.public_refresh_token_lifetime == 7 * DAY
    assert settings.public_refresh_token_idle == DAY
    mobile_app = make_mobile_app()
    issue_tokens(logged_in, mobile_app, scope=OFFLINE)
    row = db.session.scalar(db.select(Token))
    assert row.refresh_token_expires_at - row.issued_at == timedelta(days=7)


def test_confidential_refresh_tokens_keep_thirty_days_and_no_idle_limit(
        logged_in: Browser, platform: Platform, frozen: TimeMachineFixture) -> None:
    tokens = issue_tokens(logged_in, platform, scope=OFFLINE)
    frozen.shift(20 * DAY)  # a back end may refresh rarely: its token needs its secret
    renewed = refresh(logged_in.client, platform, tokens["refresh_token"])
    assert renewed.status_code == 200, renewed.get_json()
    frozen.shift(10 * DAY)
    assert_refused(refresh(logged_in.client, platform, renewed.get_json()["refresh_token"]))


# Over real HTTP: pyoidc plays a phone app (no secret, PKCE, a loopback redirect URI on
# the port the system gave it) against the live provider.


@pytest.fixture
def phone_app(live_server: LiveServer) -> Iterator[tuple[Client, str]]:
    with live_server.app.app_context():
        registered = make_mobile_app(redirect_uri=f"http://127.0.0.1{PLATFORMS_PATH}phone/cb")
        client_id = registered.client_id
        db.session.remove()
    listening = f"http://127.0.0.1:{free_port()}{PLATFORMS_PATH}phone/cb"
    client = Client(client_authn_method=CLIENT_AUTHN_METHOD)
    client.provider_config(live_server.url)
    client.store_registration_info(RegistrationResponse(
        client_id=client_id, redirect_uris=[listening], token_endpoint_auth_method="none"))
    yield client, listening


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return int(sock.getsockname()[1])


def phone_sign_in(live_server: LiveServer, client: Client, redirect_uri: str) -> str:
    """The traveller signs in on the phone; the app redeems the code. Returns the state
    under which pyoidc keeps the grant."""
    traveller = live_server.add_traveller()
    challenge, verifier = client.add_code_challenge()
    state = rndstr(32)
    url, _, _, _ = client.authorization_request_info(request_args={
        "response_type": "code", "scope": OFFLINE.split(), "redirect_uri": redirect_uri,
        "state": state, "nonce": rndstr(32), **challenge})
    browser = HttpBrowser(live_server.url)
    try:
        browser.get(url)
        browser.submit({"email": traveller.email, "password": traveller.password})
        answer = browser.allow_all()
    finally:
        browser.close()
    assert answer.headers["Location"].startswith(redirect_uri + "?")
    client.parse_response(AuthorizationResponse, info=answer.headers["Location"],
                          sformat="urlencoded")
    # A public client: its client_id in the body, no secret (RFC 6749 4.1.3, 6).
    first = client.do_access_token_request(
        state=state, authn_method="",
        request_args={"code_verifier": verifier, "client_id": client.client_id})
    assert "error" not in first, first.to_dict()
    assert first["refresh_token"]
    return state


def test_a_phone_app_refreshes_over_http_and_a_replay_kills_the_family(
        live_server: LiveServer, phone_app: tuple[Client, str]) -> None:
    client, redirect_uri = phone_app
    state = phone_sign_in(live_server, client, redirect_uri)
    first_token = client.get_grant(state).get_token()

    renewed = client.do_access_token_refresh(state=state,
                                             request_args={"client_id": client.client_id})
    assert "error" not in renewed, renewed.to_dict()
    assert renewed["refresh_token"] != first_token.refresh_token
    assert client.do_user_info_request(token=renewed["access_token"])["email"]

    replay = client.do_access_token_refresh(state=state, token=first_token,
                                            request_args={"client_id": client.client_id})
    assert replay["error"] == "invalid_grant"
    revoked = client.do_user_info_request(token=renewed["access_token"])
    assert revoked["error"] == "invalid_token"


def test_the_public_lifetimes_come_from_the_environment(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={"IDP_PUBLIC_REFRESH_TOKEN_LIFETIME": "86400",
                                                "IDP_PUBLIC_REFRESH_TOKEN_IDLE": "3600"})
    assert (settings.public_refresh_token_lifetime, settings.public_refresh_token_idle) == (
        DAY, HOUR)


def test_two_racing_uses_of_one_refresh_token_kill_the_family(
        live_server: LiveServer, phone_app: tuple[Client, str]) -> None:
    """A thief and the app send the same refresh token at once: neither may come away
    with a living branch of the family (RFC 9700 4.14.2: reuse is detected, not raced)."""
    client, redirect_uri = phone_app
    state = phone_sign_in(live_server, client, redirect_uri)
    stolen = client.get_grant(state).get_token().refresh_token
    start = threading.Barrier(RACERS)
    data = {"grant_type": "refresh_token", "client_id": client.client_id,
            "refresh_token": stolen}

    def use() -> requests.Response:
        with requests.Session() as session:
            start.wait(timeout=10)
            return session.post(f"{live_server.url}/token", data=data, timeout=10)

    with ThreadPoolExecutor(RACERS) as pool:
        answers = list(pool.map(lambda _: use(), range(RACERS)))
    issued = [a.json()["refresh_token"] for a in answers if a.status_code == 200]
    assert len(issued) < RACERS, "every racer was served: the reuse went unseen"
    for refresh_token in issued:
        again = requests.post(f"{live_server.url}/token", timeout=10, data={
            **data, "refresh_token": refresh_token})
        assert again.json()["error"] == "invalid_grant"
