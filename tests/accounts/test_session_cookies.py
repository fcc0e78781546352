"""The session cookie (ASVS 3.2, 3.4 and 14.4): a new key at login, so a session fixed
before login is worth nothing after it; HttpOnly, SameSite=Lax, Secure over https, the
``__Host-`` prefix and HSTS in production."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from idp import create_app
from tests import conftest
from tests.browser import Browser
from tests.factories import Traveller, make_user

# Redis database 15, fixed here: under pytest-xdist every test that uses it runs in
# one worker, one after the other (both backends' included).
pytestmark = pytest.mark.xdist_group("redis-15")

COOKIE = "idp_session"
HOST = "idp.test"


def cookie_value(client: FlaskClient, name: str = COOKIE) -> str:
    cookie = client.get_cookie(name, domain=HOST)
    assert cookie is not None
    return cookie.value


def test_logging_in_replaces_the_cookie_of_before(browser: Browser, user: Traveller) -> None:
    browser.get("/login")
    before = cookie_value(browser.client)

    browser.submit("/login", {"email": user.email, "password": user.password})

    assert cookie_value(browser.client) != before
    # An attacker who planted or read the cookie of before gets nothing from it.
    attacker = browser.client.application.test_client()
    attacker.set_cookie(COOKIE, before, domain=HOST)
    response = attacker.get("/account")
    assert response.status_code == 302 and response.location.startswith("/login")


def test_a_session_planted_before_login_is_ended_by_the_login(
        app: Flask, client: FlaskClient, user: Traveller) -> None:
    # The attacker logs in with their own account and plants their cookie in the
    # traveller's browser, hoping the traveller's login lands in a session they share.
    attacker = Browser(app.test_client())
    intruder = make_user()
    attacker.login(intruder.email, intruder.password)
    planted = cookie_value(attacker.client)
    victim = Browser(app.test_client())
    victim.client.set_cookie(COOKIE, planted, domain=HOST)

    victim.login(user.email, user.password)

    assert cookie_value(victim.client) != planted
    response = attacker.get("/account")
    assert response.status_code == 302 and response.location.startswith("/login")
    assert user.email not in attacker.get("/").get_data(as_text=True)


def test_the_session_cookie_is_httponly_lax_and_secure_over_https(
        browser: Browser, user: Traveller) -> None:
    cookie = browser.login(user.email, user.password).headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    for attribute in ("HttpOnly", "Secure", "SameSite=Lax", "Path=/"):
        assert attribute in cookie.split("; ")


@pytest.fixture
def make_app(database_url: str, app: Flask) -> Iterator[Any]:
    """Another provider on the test database, with other settings (``app`` cleans up)."""

    def make(**settings: Any) -> Flask:
        config = dict(conftest.TEST_CONFIG)
        if not settings.get("issuer", "https://").startswith("https://"):
            config.update(SERVER_NAME="127.0.0.1:5000", PREFERRED_URL_SCHEME="http")
        return create_app(settings=conftest.test_settings(database_url, **settings),
                          config=config)

    yield make


def test_in_production_the_cookie_is_a_host_cookie_and_hsts_is_sent(make_app: Any) -> None:
    production = make_app(env="production", smtp_url="smtp://127.0.0.1:25",
                          redis_url="redis://127.0.0.1:6379/15")
    response = production.test_client().get("/login")

    attributes = response.headers["Set-Cookie"].split("; ")
    assert attributes[0].startswith("__Host-idp_session=")
    assert {"Secure", "HttpOnly", "SameSite=Lax", "Path=/"} <= set(attributes)
    assert not [a for a in attributes if a.lower().startswith("domain=")]
    hsts = response.headers["Strict-Transport-Security"]
    assert "max-age=63072000" in hsts and "includeSubDomains" in hsts


def test_outside_production_there_is_no_hsts(client: FlaskClient) -> None:
    assert "Strict-Transport-Security" not in client.get("/login").headers


def test_over_plain_http_on_loopback_the_cookie_is_not_secure(make_app: Any) -> None:
    local = make_app(env="development", issuer="http://127.0.0.1:5000")
    cookie = local.test_client().get("/login").headers["Set-Cookie"]
    assert "Secure" not in cookie.split("; ")
    assert "HttpOnly" in cookie.split("; ")
