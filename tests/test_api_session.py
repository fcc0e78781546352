"""The platforms' endpoints never touch the traveller's session cookie (issue 13, part
5): a browser that sends one gets no Set-Cookie and no ``Vary: Cookie`` back, and a
broken cookie changes nothing; the traveller's pages still read and renew it."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.browser import Browser
from tests.factories import Platform
from tests.tokens import basic, issue_tokens

API_GETS = ["/.well-known/openid-configuration", "/jwks.json", "/healthz",
            "/static/style.css"]


def session_cookie(app: Flask, client: FlaskClient) -> str:
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"], domain="idp.test")
    assert cookie is not None, "the traveller has no session cookie"
    return cookie.value


@pytest.mark.parametrize("path", API_GETS)
def test_api_reads_leave_the_session_alone(app: Flask, logged_in: Browser, path: str) -> None:
    before = session_cookie(app, logged_in.client)
    response = logged_in.client.get(path)
    response.close()  # a static file is sent from an open file
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert "Cookie" not in response.headers.get("Vary", "")
    assert session_cookie(app, logged_in.client) == before


def test_tokens_userinfo_and_introspection_leave_the_session_alone(
        app: Flask, logged_in: Browser, platform: Platform) -> None:
    tokens = issue_tokens(logged_in, platform)
    client = logged_in.client
    answers = [
        client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}),
        client.post("/introspect", data={"token": tokens["access_token"]},
                    headers=basic(platform)),
        client.post("/token", data={"grant_type": "refresh_token",
                                    "refresh_token": tokens["refresh_token"]},
                    headers=basic(platform)),
        client.post("/revoke", data={"token": tokens["access_token"]}, headers=basic(platform)),
    ]
    for response in answers:
        assert response.status_code == 200, response.get_data(as_text=True)
        assert "Set-Cookie" not in response.headers, response.request.path
        assert "Cookie" not in response.headers.get("Vary", ""), response.request.path


def test_a_broken_session_cookie_does_not_reach_the_api(app: Flask, client: FlaskClient) -> None:
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], "not.a.signed.session",
                      domain="idp.test")
    response = client.get("/.well-known/openid-configuration")
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers


def test_the_travellers_pages_still_use_the_session(app: Flask, logged_in: Browser) -> None:
    response = logged_in.client.get("/account")
    assert response.status_code == 200
    assert "Cookie" in response.headers.get("Vary", "")
