"""Malformed input is a 400 (or 401), never a 500, on SQLite and PostgreSQL alike: odd
characters in authorization parameters, HTTP Basic that is not base64 of UTF-8, NUL
characters and lone surrogates anywhere, JSON nested too deeply; and the errors of the
endpoints platforms call are JSON."""

from __future__ import annotations

import base64
import json
import time
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import ECKey

from clients.credentials import issue_initial_access_token
from idp.extensions import db
from idp.guard import UnstorableInput, is_storable
from tests.browser import csrf_token
from tests.factories import Platform
from tests.live import LiveServer, live_server  # noqa: F401

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ODD = ['"', "\\", "\x01", "\x7f", "é", "\u202e", "\x00"]
PLATFORM_PATHS = ["/token", "/revoke", "/introspect", "/consent/records"]


def authorize_query(platform: Platform, **overrides: str) -> str:
    params = {"client_id": platform.client_id, "response_type": "code", "scope": "openid",
              "redirect_uri": platform.redirect_uri, "state": "s", **overrides}
    return "/authorize?" + urlencode(params)


@pytest.mark.parametrize("char", ODD)
@pytest.mark.parametrize("name", ["redirect_uri", "response_type"])
@pytest.mark.usefixtures("in_english")
def test_odd_characters_in_authorization_parameters_are_a_400_page(
        client: FlaskClient, platform: Platform, name: str, char: str) -> None:
    value = (platform.redirect_uri if name == "redirect_uri" else "code") + char
    response = client.get(authorize_query(platform, **{name: value}))

    assert response.status_code == 400
    assert response.mimetype == "text/html" and response.location is None
    assert "The platform sent a request we cannot accept" in response.text


def test_an_odd_redirect_uri_is_a_400_over_http(live_server: LiveServer) -> None:
    platform = live_server.add_platform()
    query = urlencode({"client_id": platform.client_id, "response_type": "code",
                       "scope": "openid", "redirect_uri": platform.redirect_uri + '"\\'})
    response = requests.get(f"{live_server.url}/authorize?{query}", timeout=10,
                            allow_redirects=False)
    assert response.status_code == 400 and "text/html" in response.headers["Content-Type"]


def basic(raw: bytes | str) -> dict[str, str]:
    return {"Authorization": raw if isinstance(raw, str) else "Basic " + raw.decode()}


MALFORMED_BASIC = {
    "not base64": "Basic //79",
    "not ascii": "Basic ü",
    "nothing": "Basic",
    "empty": "Basic ",
    "no colon": "Basic " + base64.b64encode(b"carpool-client").decode(),
    "not utf-8": "Basic " + base64.b64encode(b"\xff\xfe:secret").decode(),
    "nul in id": "Basic " + base64.b64encode(b"car%00pool:secret").decode(),
    "surrogate in id": "Basic " + base64.b64encode(b"car%ED%A0%80pool:secret").decode(),
    "empty id": "Basic " + base64.b64encode(b":secret").decode(),
}


@pytest.mark.parametrize("header", MALFORMED_BASIC.values(), ids=MALFORMED_BASIC.keys())
@pytest.mark.parametrize("path", PLATFORM_PATHS)
def test_malformed_basic_credentials_are_invalid_client(
        client: FlaskClient, path: str, header: str) -> None:
    response = client.post(path, headers={"Authorization": header}, data={
        "grant_type": "authorization_code", "code": "x", "token": "x", "sub": "x"})

    assert response.status_code == 401, response.text
    assert response.json is not None and response.json["error"] == "invalid_client"
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_malformed_basic_credentials_over_http(live_server: LiveServer) -> None:
    for header in MALFORMED_BASIC.values():
        response = requests.post(f"{live_server.url}/token", headers={"Authorization": header},
                                 data={"grant_type": "authorization_code", "code": "x"},
                                 timeout=10)
        assert response.status_code == 401, header
        assert response.json()["error"] == "invalid_client"


NUL = "carpool\x00client"


def test_nul_in_a_form_field_is_refused_before_any_query(
        client: FlaskClient, platform: Platform) -> None:
    for path, data in [
        ("/token", {"grant_type": "authorization_code", "code": "x", "client_id": NUL,
                    "client_secret": "x"}),
        ("/revoke", {"token": "x", "client_id": NUL, "client_secret": "x"}),
        ("/introspect", {"token": NUL, "client_id": platform.client_id,
                         "client_secret": platform.secret or ""}),
        ("/consent/records", {"sub": NUL, "client_id": platform.client_id,
                              "client_secret": platform.secret or ""}),
    ]:
        response = client.post(path, data=data)
        assert response.status_code == 400, path
        assert response.json == {"error": "invalid_request",
                                 "error_description": "A value holds a character that is "
                                                      "not allowed."}


def test_nul_in_the_query_and_in_a_people_form_gets_the_page(client: FlaskClient) -> None:
    page = client.get("/authorize?" + urlencode({"client_id": NUL, "response_type": "code"}))
    assert page.status_code == 400 and page.mimetype == "text/html"
    login = client.get("/login")
    refused = client.post("/login", data={"csrf_token": csrf_token(login.text),
                                          "email": "a\x00@example.org", "password": "x"},
                          headers={"Referer": "https://idp.test/login"})
    assert refused.status_code == 400 and refused.mimetype == "text/html"


def test_nul_in_a_path_is_refused(client: FlaskClient) -> None:
    response = client.get("/register/abc%00def", headers={"Authorization": "Bearer x"})
    assert response.status_code == 400 and response.json is not None


def test_nul_inside_a_signed_client_assertion_stops_at_the_database(
        client: FlaskClient) -> None:
    """The guard cannot see into a JWT; the database layer refuses the value."""
    key = ECKey.generate_key("P-256", private=True)
    now = int(time.time())
    token = jwt.encode({"alg": "ES256"}, {"iss": NUL, "sub": NUL, "aud": "https://idp.test/token",
                                          "iat": now, "exp": now + 60, "jti": "j"}, key)
    response = client.post("/token", data={
        "grant_type": "authorization_code", "code": "x", "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": token})
    assert 400 <= response.status_code < 500
    assert response.json is not None and response.json["error"] in (
        "invalid_request", "invalid_client")


def test_the_database_layer_refuses_unstorable_text(app: Flask) -> None:
    from idp.oauth.models import Client

    for value in ("a\x00b", "a\ud800b"):
        with pytest.raises(UnstorableInput):
            db.session.scalar(db.select(Client).where(Client.client_id == value))
        db.session.rollback()
    assert is_storable("Überlingen → Zürich") and is_storable("plain")


@pytest.fixture
def initial_token(app: Flask) -> str:
    _, token = issue_initial_access_token(expires_in=3600, uses=5)
    db.session.commit()
    return token


def register(client: FlaskClient, token: str, body: str) -> Any:
    return client.post("/register", data=body, content_type="application/json",
                       headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize("body", [
    '{"client_name": "Car\\ud800pool", "redirect_uris": ["https://carpool.example/cb"]}',
    '{"client_name": "Car\\u0000pool", "redirect_uris": ["https://carpool.example/cb"]}',
    '{"client_name": "Carpool", "redirect_uris": ["https://carpool.example/cb"], '
    '"contacts": ["a\\u0000@example.org"]}',
    '{"client_name": "Carpool", "redirect_uris": ["https://carpool.example/cb"], '
    '"x\\u0000": 1}',
], ids=["surrogate", "nul", "nul in a list", "nul in a member name"])
def test_unstorable_text_in_json_is_a_400(client: FlaskClient, initial_token: str,
                                         body: str) -> None:
    response = register(client, initial_token, body)

    assert response.status_code == 400
    assert response.json["error"] == "invalid_request"


def test_json_nested_too_deeply_is_a_400(client: FlaskClient, initial_token: str) -> None:
    response = register(client, initial_token, "[" * 100_000 + "]" * 100_000)

    assert response.status_code == 400
    assert response.json["error"] in ("invalid_request", "invalid_client_metadata")


def test_json_nested_too_deeply_is_a_400_over_http(live_server: LiveServer) -> None:
    with live_server.app.app_context():
        _, token = issue_initial_access_token(expires_in=3600, uses=1)
        db.session.commit()
        db.session.remove()
    body = '{"client_name": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = requests.post(f"{live_server.url}/register", data=body, timeout=10,
                             headers={"Content-Type": "application/json",
                                      "Authorization": f"Bearer {token}"})
    assert response.status_code == 400
    assert response.json()["error"] in ("invalid_request", "invalid_client_metadata")


def test_a_surrogate_over_http_is_a_400(live_server: LiveServer) -> None:
    body = json.dumps({"client_name": "\ud800"})  # json.dumps escapes it as \ud800
    response = requests.post(f"{live_server.url}/register", data=body, timeout=10,
                             headers={"Content-Type": "application/json",
                                      "Authorization": "Bearer x"})
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


@pytest.mark.parametrize("path", ["/revoke", "/introspect", "/token", "/register"])
def test_platform_endpoints_answer_json_errors(client: FlaskClient, path: str) -> None:
    wrong_method = client.put(path) if path == "/register" else client.get(path)
    too_large = client.post(path, data="x" * (300 * 1024), content_type="text/plain")

    for response, status in ((wrong_method, 405), (too_large, 413)):
        assert response.status_code == status
        assert response.json is not None and response.json["error"] == "invalid_request"


def test_end_session_is_for_people(client: FlaskClient) -> None:
    response = client.put("/end_session")
    assert response.status_code == 405 and response.mimetype == "text/html"
