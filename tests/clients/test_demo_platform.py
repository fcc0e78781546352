"""Umberto's story (shared/CONTEXT.md) over real HTTP, with the two demo platforms that
``idp demo`` registers: the provider runs live on a loopback port, each platform on its
own, and a requests session plays Umberto's browser, following every redirect."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import replace
from html import unescape
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import RSAKey

from clients.demo import NATIONAL, REGIONAL, ensure_demo_client, platform_config
from clients.demo_platform.logout import EVENT
from clients.demo_platform.serve import RunningPlatform, start
from idp.extensions import db
from idp.keys import key_store
from idp.outbox import deliver_due
from tests.browser import CHECKBOX, csrf_token, form_action
from tests.live import (  # noqa: F401  (live_server is a fixture)
    HOST,
    LiveServer,
    LiveTraveller,
    live_server,
)

LOGIN_BUTTON = "Se connecter avec Mobility ID"


class Browser:
    """Umberto's browser: it keeps cookies, follows every redirect, and fills the form
    of the page it is on with the CSRF token that page gave it."""

    def __init__(self) -> None:
        self.session = requests.Session()

    def get(self, url: str) -> requests.Response:
        return self.session.get(url, timeout=10)

    def submit(self, page: requests.Response, data: dict[str, Any],
               action: str | None = None) -> requests.Response:
        action = urljoin(page.url, action or form_action(page.text, page.url))
        return self.session.post(action, data={"csrf_token": csrf_token(page.text), **data},
                                 headers={"Referer": page.url}, timeout=10)

    def allow_all(self, page: requests.Response) -> requests.Response:
        data: dict[str, Any] = {"decision": "allow"}
        for name, value in CHECKBOX.findall(page.text):
            data.setdefault(name, []).append(unescape(value))
        return self.submit(page, data)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def is_consent_page(page: requests.Response) -> bool:
    return form_action(page.text, "").startswith("/consent/")


@pytest.fixture
def umberto(live_server: LiveServer) -> LiveTraveller:
    return live_server.add_traveller(nickname="Umberto R.", phone_number="+33 6 12 34 56 78")


@pytest.fixture
def platforms(live_server: LiveServer) -> Iterator[dict[str, RunningPlatform]]:
    """Both demo platforms, registered by ``idp demo``'s own code in the live provider,
    each served on a port the system picked."""
    with socket.create_server((HOST, 0)) as first, socket.create_server((HOST, 0)) as second:
        specs = [replace(REGIONAL, port=first.getsockname()[1]),
                 replace(NATIONAL, port=second.getsockname()[1])]
        with live_server.app.app_context():
            key_store().ensure_keys()  # as `idp demo` does
            for spec in specs:
                ensure_demo_client(spec)
            # As `idp demo platforms`: the regional one uses the national one's API.
            configs = [platform_config(specs[0], partner=specs[1]), platform_config(specs[1])]
            db.session.remove()
        running = {config.client_id: start(config, sock)
                   for config, sock in zip(configs, (first, second), strict=True)}
    try:
        yield running
    finally:
        for platform in running.values():
            platform.stop()


@pytest.fixture
def browser() -> Iterator[Browser]:
    browser = Browser()
    yield browser
    browser.session.close()


def deliver_outbox(live_server: LiveServer) -> dict[str, int]:
    """What the provider's outbox worker does after a commit (off in tests)."""
    with live_server.app.app_context():
        outcomes = dict(deliver_due())
        db.session.remove()
    return outcomes


def test_umberto_moves_from_the_regional_to_the_national_platform_and_cuts_it_off(
    live_server: LiveServer, platforms: dict[str, RunningPlatform], umberto: LiveTraveller,
    browser: Browser,
) -> None:
    regional = platforms[REGIONAL.client_id].config.origin
    national = platforms[NATIONAL.client_id].config.origin

    # On his regional carpool site, Umberto logs in with the account he already has.
    home = browser.get(regional + "/")
    assert LOGIN_BUTTON in home.text
    assert browser.get(regional + "/privacy").status_code == 200  # its registered policy_uri
    page = browser.get(regional + "/login")
    assert origin_of(page.url) == live_server.url
    assert urlsplit(page.url).path == "/login"
    assert "Covoiturage régional" in page.text
    page = browser.submit(page, {"email": umberto.email, "password": umberto.password})
    assert is_consent_page(page), page.text
    assert "Covoiturage régional" in page.text
    page = browser.allow_all(page)
    assert page.url == regional + "/profile", page.text
    assert "Umberto R." in page.text
    assert umberto.email in page.text

    # On the national site: no password asked, a consent screen for that site only.
    page = browser.get(national + "/login")
    assert origin_of(page.url) == live_server.url
    assert is_consent_page(page), page.text
    assert 'type="password"' not in page.text
    assert "Covoiturage national" in page.text
    assert "Covoiturage régional" not in page.text
    page = browser.allow_all(page)
    assert page.url == national + "/profile", page.text
    assert umberto.email in page.text
    assert "Covoiturage national" in page.text

    # Both appear among the platforms that know him.
    page = browser.get(live_server.url + "/account/platforms")
    assert "Covoiturage régional" in page.text
    assert "Covoiturage national" in page.text

    # He revokes the national one; until the provider tells it, its session lives on.
    revoke = f"/account/platforms/{NATIONAL.client_id}/revoke"
    assert f'action="{revoke}"' in page.text
    page = browser.submit(page, {}, action=revoke)
    assert page.url == live_server.url + "/account/platforms"
    # Its own access is gone; it stays listed only for the delegation it serves (issue 14).
    assert f'action="{revoke}"' not in page.text
    assert browser.get(national + "/profile").url == national + "/profile"

    assert deliver_outbox(live_server) == {"delivered": 1}

    # The national site's session has ended: its profile page asks him to log in again.
    page = browser.get(national + "/profile")
    assert page.url == national + "/"
    assert LOGIN_BUTTON in page.text
    assert umberto.email not in page.text
    # The regional one still knows him.
    page = browser.get(regional + "/profile")
    assert page.url == regional + "/profile"
    assert umberto.email in page.text
    # Going back to the national site means agreeing again.
    page = browser.get(national + "/login")
    assert is_consent_page(page), page.text


def test_a_forged_logout_token_ends_no_session(
    live_server: LiveServer, platforms: dict[str, RunningPlatform], umberto: LiveTraveller,
    browser: Browser,
) -> None:
    national = platforms[NATIONAL.client_id]
    page = browser.get(national.config.origin + "/login")
    page = browser.submit(page, {"email": umberto.email, "password": umberto.password})
    page = browser.allow_all(page)
    assert page.url == national.config.origin + "/profile", page.text
    (local,) = national.app.extensions["demo_platform"].sessions._sessions.values()

    # Someone who knows the traveller's sub signs a logout token with a key of their own.
    forger = RSAKey.generate_key(2048, parameters={"kid": "forged"})
    claims = {"iss": live_server.url, "aud": NATIONAL.client_id, "iat": int(time.time()),
              "exp": int(time.time()) + 120, "jti": "forged-1", "sub": local.sub,
              "events": {EVENT: {}}}
    token = jwt.encode({"alg": "RS256", "kid": "forged", "typ": "logout+jwt"}, claims, forger)
    answer = requests.post(national.config.origin + "/backchannel-logout",
                           data={"logout_token": token}, timeout=10)

    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"
    assert answer.headers["Cache-Control"] == "no-store"
    assert browser.get(national.config.origin + "/profile").url.endswith("/profile")

