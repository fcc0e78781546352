"""Host header injection: a request must name the issuer's host, and every link the
provider mails is built from the issuer, whatever Host or X-Forwarded-Host a request
carried (OWASP WSTG-INPV-17). A password reset link must never lead to an attacker."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from time_machine import TimeMachineFixture
from werkzeug.test import TestResponse

from idp import create_app
from idp.accounts import throttle
from idp.extensions import db
from idp.urls import issuer_url, trusted_hosts
from tests import conftest
from tests.accounts.test_throttle import WRONG, from_address
from tests.browser import ISSUER, csrf_token
from tests.factories import Traveller, make_user
from tests.live import LiveServer, live_server  # noqa: F401
from tests.mail import Mailbox, mailbox, smtp_server  # noqa: F401

NEW_EMAIL = "umberto.nuovo@example.net"
FORGED_HOST = {"Host": "attacker.example"}
FORGED_FORWARD = {"X-Forwarded-Host": "attacker.example", "X-Forwarded-Proto": "http"}

pytestmark = pytest.mark.usefixtures("in_english")

Action = Callable[[Flask, Traveller, dict[str, str], TimeMachineFixture], TestResponse]


def post_form(client: FlaskClient, path: str, data: dict[str, str],
              headers: dict[str, str], page: str | None = None) -> TestResponse:
    """Open ``page`` (or ``path``) as usual, then send its form with ``headers``, as an
    attacker would: the Referer names the forged host, so the CSRF check's same-origin
    test passes. The response is closed: mail sent once it is on its way has left."""
    html = client.get(page or path, base_url=ISSUER).get_data(as_text=True)
    host = headers.get("Host", "idp.test")
    cookie = client.get_cookie("idp_session", domain="idp.test")
    assert cookie is not None
    # The attacker's own client, which sends the cookie whatever the Host (the test
    # client would keep it for the host it came from).
    sender = client.application.test_client(use_cookies=False) if "Host" in headers else client
    response = sender.post(path, data={"csrf_token": csrf_token(html), **data},
                           base_url=ISSUER, environ_base=client.environ_base, headers={
                               "Accept-Language": "en",  # the words the tests read
                               "Referer": f"https://{host}{page or path}",
                               "Cookie": f"idp_session={cookie.value}", **headers})
    response.close()
    return response


def signed_in(app: Flask, user: Traveller) -> FlaskClient:
    client = from_address(app, "203.0.113.7")
    post_form(client, "/login", {"email": user.email, "password": user.password}, {})
    return client


def log_in(client: FlaskClient, user: Traveller, password: str,
           headers: dict[str, str]) -> TestResponse:
    return post_form(client, "/login", {"email": user.email, "password": password}, headers)


def ask_reset(app: Flask, user: Traveller, headers: dict[str, str], _: Any) -> TestResponse:
    return post_form(app.test_client(), "/password/forgot", {"email": user.email}, headers)


def resend_verification(app: Flask, user: Traveller, headers: dict[str, str],
                        _: Any) -> TestResponse:
    return post_form(signed_in(app, user), "/account/email/resend", {}, headers,
                     page="/account/email")


def change_email(app: Flask, user: Traveller, headers: dict[str, str], _: Any) -> TestResponse:
    return post_form(signed_in(app, user), "/account/email", {"email": NEW_EMAIL}, headers)


def change_password(app: Flask, user: Traveller, headers: dict[str, str],
                    _: Any) -> TestResponse:
    return post_form(signed_in(app, user), "/account/password", {
        "current_password": user.password, "password": "seven swans over the river bend",
    }, headers)


def fail_to_sign_in(app: Flask, user: Traveller, headers: dict[str, str],
                    clock: TimeMachineFixture) -> TestResponse:
    guesser = from_address(app, "203.0.113.7")
    for _ in range(throttle.FREE_FAILURES):
        log_in(guesser, user, WRONG, {})
    return log_in(guesser, user, WRONG, headers)  # the first delay: the owner is told


def sign_in_after_failures(app: Flask, user: Traveller, headers: dict[str, str],
                           clock: TimeMachineFixture) -> TestResponse:
    client = from_address(app, "203.0.113.7")
    for _ in range(3):
        log_in(client, user, WRONG, {})
    return log_in(client, user, user.password, headers)


def lock_the_account(app: Flask, user: Traveller, headers: dict[str, str],
                     clock: TimeMachineFixture) -> TestResponse:
    guesser = from_address(app, "203.0.113.7")
    for _ in range(throttle.LOCK_AFTER_FAILURES):
        log_in(guesser, user, WRONG, {})
        clock.shift(throttle.MAX_DELAY + 1)
    return log_in(from_address(app, "198.51.100.9"), user, user.password, headers)


SIGN_UP_EMAIL = "nawel.nouvelle@example.net"


def sign_up(app: Flask, email: str, headers: dict[str, str]) -> TestResponse:
    return post_form(app.test_client(), "/signup", {
        "given_name": "Nawel", "email": email, "password": "the tram to the old harbour",
    }, headers)


def sign_up_anew(app: Flask, user: Traveller, headers: dict[str, str], _: Any) -> TestResponse:
    return sign_up(app, SIGN_UP_EMAIL, headers)


def sign_up_again(app: Flask, user: Traveller, headers: dict[str, str], _: Any) -> TestResponse:
    return sign_up(app, user.email, headers)  # the owner is told someone tried


# Each mail that carries a link to the provider, and the request that sends it.
MAILS: dict[str, tuple[Action, str | None]] = {
    "reset_password": (ask_reset, None),
    "verify_email": (resend_verification, None),
    "change_email": (change_email, NEW_EMAIL),
    "password_changed": (change_password, None),
    "sign_in_attempts": (fail_to_sign_in, None),
    "sign_in_after_failures": (sign_in_after_failures, None),
    "account_locked": (lock_the_account, None),
    "confirm_signup": (sign_up_anew, SIGN_UP_EMAIL),
    "signup_attempt": (sign_up_again, None),
}


@pytest.fixture
def owner(app: Flask, mailbox: Mailbox) -> Traveller:
    # As in production, no SERVER_NAME: the tests' SERVER_NAME would hide links built
    # from the request's Host. Requests name the issuer's host themselves (base_url).
    app.config["SERVER_NAME"] = None
    return make_user(locale="en")


@pytest.mark.parametrize("mail", MAILS)
def test_a_forged_host_is_refused_and_no_link_leaves(
        app: Flask, owner: Traveller, mailbox: Mailbox, frozen: TimeMachineFixture,
        mail: str) -> None:
    action, _ = MAILS[mail]
    response = action(app, owner, FORGED_HOST, frozen)

    assert response.status_code == 400
    assert "This address is not the address of Mobility ID" in response.text
    assert "attacker.example" not in response.text
    links = [link for message in mailbox.messages for link in mailbox.links(message)]
    assert all(link.startswith(ISSUER + "/") for link in links), links


@pytest.mark.parametrize("mail", MAILS)
def test_a_forged_forwarded_host_changes_no_link(
        app: Flask, owner: Traveller, mailbox: Mailbox, frozen: TimeMachineFixture,
        mail: str) -> None:
    action, recipient = MAILS[mail]
    assert action(app, owner, FORGED_FORWARD, frozen).status_code < 500

    links = mailbox.links(mailbox.last(recipient or owner.email))
    assert links and all(link.startswith(ISSUER + "/") for link in links), links


def test_links_follow_the_https_issuer_behind_a_proxy_that_speaks_http(
        app: Flask, owner: Traveller, mailbox: Mailbox) -> None:
    """TLS ends at the proxy, which forwards plain http: links are still https."""
    client = app.test_client()
    html = client.get("/password/forgot", base_url="http://idp.test").get_data(as_text=True)
    client.post("/password/forgot", base_url="http://idp.test",
                data={"csrf_token": csrf_token(html), "email": owner.email}).close()

    (link,) = mailbox.links(mailbox.last(owner.email))
    assert link.startswith("https://idp.test/password/reset/")


def test_issuer_urls_keep_the_issuer_path(database_url: str, tmp_path: Path) -> None:
    provider = create_app(settings=conftest.test_settings(
        database_url, issuer="https://login.example.org/mobility"))
    with provider.app_context():
        assert issuer_url("recovery.forgot") == "https://login.example.org/mobility/password/forgot"
        assert issuer_url("email.verify", token="abc") == \
            "https://login.example.org/mobility/email/verify/abc"
        db.engine.dispose()


def test_extra_hosts_are_accepted_but_never_used_in_links(
        database_url: str, tmp_path: Path) -> None:
    provider = create_app(settings=conftest.test_settings(database_url),
                          environ={"IDP_EXTRA_HOSTS": "localhost, idp-internal"})
    assert trusted_hosts(provider.extensions["idp.settings"]) == [
        "idp.test", "localhost", "idp-internal"]
    client = provider.test_client()
    assert client.get("/jwks.json", headers={"Host": "localhost:8000"}).status_code == 200
    assert client.get("/jwks.json", headers={"Host": "idp-internal"}).status_code == 200
    assert client.get("/jwks.json", headers={"Host": "elsewhere"}).status_code == 400
    with provider.app_context():
        assert issuer_url("recovery.forgot") == f"{ISSUER}/password/forgot"
        db.engine.dispose()


@pytest.mark.parametrize(("path", "kind"), [
    ("/password/forgot", "text/html"), ("/jwks.json", "application/json"),
    ("/.well-known/openid-configuration", "application/json"),
])
def test_a_wrong_host_gets_a_clear_400(client: FlaskClient, path: str, kind: str) -> None:
    response = client.get(path, headers={"Host": "attacker.example"})

    assert response.status_code == 400
    assert response.mimetype == kind
    assert "attacker.example" not in response.get_data(as_text=True)
    if kind == "application/json":
        assert response.json == {"error": "invalid_request", "error_description": "Unknown host."}
    else:
        assert "This address is not the address of Mobility ID" in response.text


def raw_get(url: str, path: str, host: bytes) -> tuple[int, bytes]:
    """A request with this exact Host header, over a socket: clients normalise Host."""
    address = urlsplit(url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: " + host +
                     b"\r\nAccept-Language: en\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


@pytest.mark.parametrize("host", [
    b"[::1", b"a b", b"attacker.example\x01", b"\x7f", b"", b"127.0.0.1:99999",
    b"attacker.example", b"127.0.0.1.attacker.example",
])
@pytest.mark.parametrize(("path", "clue"), [
    ("/login", b"This address is not the address of Mobility ID"),
    ("/jwks.json", b'"error":"invalid_request"'),
], ids=["page", "api"])
def test_a_malformed_or_wrong_host_gets_a_400_page_over_http(
        live_server: LiveServer, host: bytes, path: str, clue: bytes) -> None:
    status, body = raw_get(live_server.url, path, host)

    assert status == 400
    assert clue.replace(b" ", b"") in body.replace(b" ", b"")


def test_the_issuer_host_is_served_over_http(live_server: LiveServer) -> None:
    host = urlsplit(live_server.url).netloc.encode()
    assert raw_get(live_server.url, "/login", host)[0] == 200
