"""X-Forwarded-For and -Proto are believed only from the operator's proxies
(IDP_TRUSTED_PROXY_ADDRESSES): a client reaching gunicorn directly cannot dodge the
per-network throttle by writing a new address in the header at each request."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import time_machine
from flask import Flask, request

from idp import create_app
from idp.extensions import db
from idp.settings import ConfigError, load_settings
from tests import conftest
from tests.accounts.test_throttle import IP, NETWORK_LIMIT, OTHER_IP, WRONG, from_address, log_in
from tests.browser import csrf_token
from tests.live import HOST, serve

Factory = Callable[..., Flask]
VICTIM = "victim0@example.org"


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(datetime(2030, 5, 6, 9, 0, tzinfo=UTC), tick=False) as traveller:
        yield traveller


@pytest.fixture
def behind_proxies(app: Flask, database_url: str) -> Iterator[Factory]:
    """The provider behind one reverse proxy (IDP_TRUSTED_PROXIES=1), with an extra page
    that shows what the provider believes of the request's origin."""
    made: list[Flask] = []

    def make(**settings: Any) -> Flask:
        provider = create_app(settings=conftest.test_settings(
            database_url, trusted_proxies=1, **settings), config=conftest.TEST_CONFIG)
        provider.add_url_rule("/origin", "origin", lambda: {
            "remote_addr": request.remote_addr, "scheme": request.scheme,
            "access_route": list(request.access_route)})
        made.append(provider)
        return provider

    yield make
    for provider in made:
        with provider.app_context():
            db.engine.dispose()


def guess_with_rotating_header(provider: Flask, peer: str) -> list[int]:
    """Failures on many accounts from ``peer``, each naming a new client address."""
    client = from_address(provider, peer)
    return [log_in(client, f"victim{n}@example.org", WRONG,
                   **{"X-Forwarded-For": f"192.0.2.{n + 1}"}).status_code
            for n in range(NETWORK_LIMIT)]


@pytest.fixture
def gunicorn_reached_directly(app: Flask, database_url: str) -> Iterator[str]:
    """The provider over real HTTP, told its proxy is elsewhere (192.0.2.1): the tests
    reach it directly, as a client would through a port left open."""
    with socket.create_server((HOST, 0)) as sock:
        url = f"http://{HOST}:{sock.getsockname()[1]}"
        provider = create_app(settings=conftest.test_settings(
            database_url, issuer=url, trusted_proxies=1, trusted_proxy_addresses="192.0.2.1"))
        server, thread = serve(provider, sock)
    yield url
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
    with provider.app_context():
        db.engine.dispose()


def test_over_real_http_a_forged_x_forwarded_for_does_not_dodge_the_limit(
    gunicorn_reached_directly: str,
) -> None:
    login = f"{gunicorn_reached_directly}/login"
    statuses = []
    with requests.Session() as session:
        for n in range(NETWORK_LIMIT + 1):
            token = csrf_token(session.get(login).text)
            statuses.append(session.post(login, headers={
                "X-Forwarded-For": f"192.0.2.{n + 10}", "Referer": login,
            }, data={"csrf_token": token, "email": f"victim{n % NETWORK_LIMIT}@example.org",
                     "password": WRONG}, allow_redirects=False).status_code)

    assert statuses[:NETWORK_LIMIT] == [400] * NETWORK_LIMIT
    assert statuses[-1] == 429  # victim0 failed from this network before it went over


def test_a_direct_client_rotating_x_forwarded_for_still_hits_the_limit(
    behind_proxies: Factory, clock: time_machine.Coordinates
) -> None:
    provider = behind_proxies()
    assert guess_with_rotating_header(provider, IP) == [400] * NETWORK_LIMIT

    again = log_in(from_address(provider, IP), VICTIM, WRONG,
                   **{"X-Forwarded-For": "192.0.2.200"})

    assert again.status_code == 429


def test_through_a_trusted_proxy_the_forwarded_address_is_used(
    behind_proxies: Factory, clock: time_machine.Coordinates
) -> None:
    provider = behind_proxies()
    proxy = from_address(provider, "127.0.0.1")
    for n in range(NETWORK_LIMIT):
        log_in(proxy, f"victim{n}@example.org", WRONG, **{"X-Forwarded-For": IP})

    same = log_in(proxy, VICTIM, WRONG, **{"X-Forwarded-For": IP})
    another = log_in(proxy, VICTIM, WRONG, **{"X-Forwarded-For": OTHER_IP})

    assert same.status_code == 429
    assert another.status_code == 400


@pytest.mark.parametrize(("peer", "believed"), [
    ("10.1.2.3", True), ("::ffff:10.1.2.3", True), ("2001:db8:7::1", True),
    ("127.0.0.1", False), ("10.2.0.1", False), (IP, False),
])
def test_the_operator_names_the_proxies(
    behind_proxies: Factory, peer: str, believed: bool
) -> None:
    provider = behind_proxies(trusted_proxy_addresses="10.1.0.0/16, 2001:db8:7::1")
    client = from_address(provider, peer)

    origin = client.get("/origin", headers={"X-Forwarded-For": OTHER_IP,
                                            "X-Forwarded-Proto": "http"}).json

    assert origin is not None
    assert (origin["remote_addr"] == OTHER_IP) is believed
    assert (origin["scheme"] == "http") is believed  # the test client speaks https


def test_x_forwarded_proto_and_for_are_dropped_from_a_client_that_is_no_proxy(
    behind_proxies: Factory,
) -> None:
    client = from_address(behind_proxies(), IP)

    origin = client.get("/origin", base_url="http://idp.test", headers={
        "X-Forwarded-For": OTHER_IP, "X-Forwarded-Proto": "https"}).json

    assert origin == {"remote_addr": IP, "scheme": "http", "access_route": [IP]}


def test_without_trusted_proxies_the_headers_are_never_believed(
    app: Flask, clock: time_machine.Coordinates
) -> None:
    assert guess_with_rotating_header(app, "127.0.0.1") == [400] * NETWORK_LIMIT

    assert log_in(from_address(app, "127.0.0.1"), VICTIM, WRONG,
                  **{"X-Forwarded-For": OTHER_IP}).status_code == 429


def test_the_proxy_addresses_come_from_the_environment(tmp_path: Path) -> None:
    environ = {"IDP_TRUSTED_PROXIES": "1", "IDP_TRUSTED_PROXY_ADDRESSES": "172.18.0.0/16"}

    assert load_settings(tmp_path, environ=environ).trusted_proxy_addresses == "172.18.0.0/16"
    assert load_settings(tmp_path, environ={}).trusted_proxy_addresses == "127.0.0.1/32,::1/128"


@pytest.mark.parametrize(("value", "reason"), [
    ("10.0.0.1/8", "IDP_TRUSTED_PROXY_ADDRESSES must list"),
    ("nginx.internal", "IDP_TRUSTED_PROXY_ADDRESSES must list"),
    (" , ", "IDP_TRUSTED_PROXIES needs IDP_TRUSTED_PROXY_ADDRESSES"),
])
def test_a_wrong_proxy_address_refuses_to_start(
    database_url: str, value: str, reason: str
) -> None:
    with pytest.raises(ConfigError, match=reason):
        create_app(settings=conftest.test_settings(
            database_url, trusted_proxies=1, trusted_proxy_addresses=value))
