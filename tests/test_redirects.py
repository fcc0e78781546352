"""No open redirect: every ``next`` parameter, on every page that takes one, sends the
traveller to a path on this site, or to the page's own default (CWE-601)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

import pytest
from flask.testing import FlaskClient
from time_machine import TimeMachineFixture
from werkzeug.test import TestResponse

from idp.accounts.redirects import safe_next
from tests.browser import Browser, csrf_token
from tests.factories import Traveller
from tests.live import LiveServer, live_server  # noqa: F401
from tests.totp import code_at, enrol, start_login

# Values a browser (or a proxy) could read as another site, or that break the header.
HOSTILE = [
    "//evil.example/x", "///evil.example", "////evil.example", "/\\evil.example",
    "\\\\evil.example", "\\/evil.example", "/\t/evil.example", "/\n/evil.example",
    "/\r/evil.example", "/ /evil.example", "/%09/evil.example", "/%0a/evil.example",
    "/%0d%0aSet-Cookie:x=1", "/\r\nSet-Cookie:x=1", "/%2F/evil.example",
    "/%2f%2fevil.example", "/%5Cevil.example", "/%255Cevil.example", "/%252F/evil.example",
    "https://evil.example", "https:evil.example", "http:/evil.example", "javascript:alert(1)",
    "JaVaScRiPt:alert(1)", "data:text/html,<script>alert(1)</script>", "evil.example",
    "//user@evil.example", "/\x00/evil.example", "/account\x00", "/account\x7f",
    "\uff0f\uff0fevil.example", "/\uff0fevil.example", "/\u3000/evil.example",
    "/\u2028/evil.example", "/account#\n", "/" + "a" * 5000, "", " /account",
    "/account ", "//[::1]/x", "/%00/evil.example",
]
LOCAL = ["/account", "/account/two-step?x=1", "/authorize/continue/abc",
         "/login?interaction=abc&next=%2Faccount", "/consent/x?scope=openid%20email",
         "/a%2Fb", "/account#top"]


@pytest.mark.parametrize("target", HOSTILE)
def test_safe_next_refuses_what_could_leave_the_site(target: str) -> None:
    assert safe_next(target) is None


@pytest.mark.parametrize("target", LOCAL)
def test_safe_next_keeps_a_local_path(target: str) -> None:
    assert safe_next(target) == target


def is_local(location: str) -> bool:
    parts = urlsplit(location)
    return (location.startswith("/") and not location.startswith("//")
            and not parts.scheme and not parts.netloc and location.isprintable()
            and "\\" not in location and " " not in location)


def language(client: FlaskClient, target: str, _: Traveller) -> TestResponse:
    return client.get("/language/en?" + urlencode({"next": target}))


def login_form(client: FlaskClient, target: str, user: Traveller) -> TestResponse:
    path = "/login?" + urlencode({"next": target})
    page = client.get(path)
    if page.status_code != 200:
        return page
    return client.post(path, data={"csrf_token": csrf_token(page.text), "email": user.email,
                                   "password": user.password},
                       headers={"Referer": "https://idp.test/login"})


def confirm_password(client: FlaskClient, target: str, user: Traveller) -> TestResponse:
    Browser(client).login(user.email, user.password)
    path = "/account/confirm?" + urlencode({"next": target})
    page = client.get(path)
    if page.status_code != 200:
        return page
    return client.post(path, data={"csrf_token": csrf_token(page.text), "password": user.password},
                       headers={"Referer": "https://idp.test/account/confirm"})


VIEWS: dict[str, tuple[Callable[[FlaskClient, str, Traveller], TestResponse], str]] = {
    "language": (language, "/"),
    "login": (login_form, "/account"),
    "confirm_password": (confirm_password, "/account"),
}


@pytest.mark.parametrize("target", HOSTILE)
@pytest.mark.parametrize("view", VIEWS)
def test_every_next_parameter_stays_on_the_site(
        client: FlaskClient, user: Traveller, view: str, target: str) -> None:
    send, default = VIEWS[view]
    response = send(client, target, user)

    if "\x00" in target:  # refused before any view (test_bad_input)
        assert response.status_code == 400
        return
    assert response.status_code == 302
    assert response.location == default and is_local(response.location)


@pytest.mark.parametrize("view", VIEWS)
def test_a_local_next_is_followed(client: FlaskClient, user: Traveller, view: str) -> None:
    send, _ = VIEWS[view]
    assert send(client, "/account/two-step?x=1", user).location == "/account/two-step?x=1"


@pytest.mark.parametrize("query", [
    b"next=/%09/127.0.0.1:5299/x", b"next=/%0d%0aSet-Cookie:x=1", b"next=%5C%5Cevil.example",
    b"next=/\t/evil.example",
])
def test_the_language_switch_never_leaves_the_site_over_http(
        live_server: LiveServer, query: bytes) -> None:
    """As found: a raw tab, CR/LF, backslashes, exactly as a browser would send them."""
    address = urlsplit(live_server.url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(b"GET /language/en?" + query + b" HTTP/1.1\r\nHost: "
                     + address.netloc.encode() + b"\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head = answer.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    assert head[0].split(" ")[1] in ("302", "400")
    locations = [line for line in head if line.lower().startswith("location:")]
    assert all(line.split(":", 1)[1].strip() == "/" for line in locations), locations
    assert not [line for line in head if line.lower().startswith("set-cookie: x")]


@pytest.mark.parametrize("target", [
    "//evil.example", "/\t/evil.example", "/%09/evil.example", "/\\evil.example",
    "https:evil.example", "/%2F/evil.example", "\uff0f\uff0fevil.example",
])
def test_the_second_step_keeps_only_a_local_next(
        logged_in: Browser, user: Traveller, frozen: TimeMachineFixture, target: str) -> None:
    """The ``next`` of the password form waits in the session for the code page."""
    key, _ = enrol(logged_in)
    logged_in.get("/logout")
    logged_in.submit("/logout", {})
    frozen.shift(90)
    start_login(logged_in, user.email, user.password, "/login?" + urlencode({"next": target}))

    response = logged_in.submit("/login/code", {"code": code_at(key)})

    assert response.status_code == 302 and response.location == "/account"
