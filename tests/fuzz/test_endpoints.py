"""Generated hostile requests to every endpoint of discovery and every sign-in form: none
may get a 5xx. Some requests carry what gets them past the first door (a valid CSRF token,
the platform's credentials, a valid access token), so that the code behind it is reached.

``FUZZ_EXAMPLES`` requests per target (default 60: ``make test``); ``make fuzz`` sends
more, at random. Hypothesis keeps no example database, and without ``FUZZ_RANDOM=1`` the
run is the same every time (``derandomize``)."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clients.credentials import issue_initial_access_token
from tests.browser import Browser, csrf_token
from tests.factories import Platform, Traveller
from tests.fuzz.failures import Failure, Sent, capture
from tests.fuzz.strategies import (
    authorization,
    dpop_proof,
    header_value,
    hostile_text,
    json_body,
    percent_encode,
    raw_bytes,
)
from tests.fuzz.targets import TARGETS, Target
from tests.tokens import issue_tokens

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=os.environ.get("FUZZ_RANDOM") != "1",
    database=None,  # nothing written into the repository
    deadline=None,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)


@dataclass
class World:
    """What a real platform and browser would hold: credentials, tokens, a CSRF token."""

    anonymous: FlaskClient = field(repr=False)
    signed_in: FlaskClient = field(repr=False)
    csrf: dict[int, str] = field(repr=False)
    values: dict[str, list[str]] = field(repr=False)
    basic: tuple[str, ...] = field(repr=False)
    bearer: tuple[str, ...] = field(repr=False)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text("World(...)")  # Hypothesis's report of a failure: the request is enough


def form_token(client: FlaskClient) -> str:
    return csrf_token(client.get("/login").get_data(as_text=True))


@pytest.fixture
def world(app: Flask, logged_in: Browser, user: Traveller,
          platform: Platform) -> Iterator[World]:
    tokens = issue_tokens(logged_in, platform, scope="openid email phone offline_access")
    _, initial = issue_initial_access_token(expires_in=3600, uses=1000)
    registered = logged_in.client.post(
        "/register", json={"client_name": "Fuzzy", "redirect_uris": ["https://fuzzy.example/cb"]},
        headers={"Authorization": f"Bearer {initial}"}).get_json()
    anonymous = app.test_client()
    values = {
        "client_id": [platform.client_id, registered["client_id"]],
        "redirect_uri": [platform.redirect_uri],
        "token": [tokens["access_token"], tokens["refresh_token"]],
        "refresh_token": [tokens["refresh_token"]],
        "id_token_hint": [tokens["id_token"]],
        "email": [user.email],
    }
    yield World(anonymous, logged_in.client,
                {id(anonymous): form_token(anonymous), id(logged_in.client): form_token(
                    logged_in.client)},
                values,
                basic=(basic_of(platform.client_id, platform.secret or ""),),
                bearer=(tokens["access_token"], initial, registered["registration_access_token"]))


def basic_of(client_id: str, secret: str) -> str:
    return base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def draw_fields(draw: st.DrawFn, target: Target, world: World) -> list[tuple[str, str | bytes]]:
    names = hostile_text(tuple(sorted(target.params)))
    fields = draw(st.lists(names, max_size=len(target.params) + 2))
    return [(name, draw(st.one_of(hostile_text(valid_values(name, target, world)), raw_bytes)))
            for name in fields]


def valid_values(name: str, target: Target, world: World) -> tuple[str, ...]:
    return tuple(str(value) for value in world.values.get(name, []) + target.params.get(name, []))


def draw_request(draw: st.DrawFn, target: Target, world: World) -> tuple[FlaskClient, Sent]:
    client = draw(st.sampled_from([world.anonymous, world.signed_in]))
    method = draw(st.sampled_from(target.methods))
    path = target.path
    for name, valid in target.segments.items():
        value = draw(hostile_text(tuple(world.values.get(name, []) + valid)).filter(bool))
        path = path.replace("{" + name + "}", percent_encode([("", value)])[1:])
    fields = draw_fields(draw, target, world)
    headers: dict[str, str] = {"Referer": draw(header_value(("https://idp.test/login",)))}
    if target.form and draw(st.booleans()):
        fields.append(("csrf_token", world.csrf[id(client)]))
        headers["Referer"] = "https://idp.test/login"
    if draw(st.booleans()):
        headers["Authorization"] = draw(authorization(world.basic, world.bearer))
    if target.dpop and draw(st.booleans()):
        headers["DPoP"] = draw(dpop_proof())
        if "Authorization" in headers and draw(st.booleans()):
            headers["Authorization"] = "DPoP " + headers["Authorization"].split(" ", 1)[-1]
    if draw(st.booleans()):
        headers["Accept-Language"] = draw(header_value(("en", "fr-FR;q=0.8")))
    in_body = method in ("POST", "PUT") and draw(st.integers(0, 3)) > 0
    body = b""
    content_type = "application/x-www-form-urlencoded"
    if target.json and in_body:
        body, content_type = draw(json_body(target.params)), "application/json"
    elif in_body:
        body = percent_encode(fields).encode()
        fields = []
    if draw(st.integers(0, 9)) == 0:
        content_type = draw(header_value(("application/json", "multipart/form-data",
                                          "text/plain; charset=utf-16")))
    headers["Content-Type"] = content_type
    address = draw(st.ip_addresses(v=4)).exploded
    return client, Sent(method, path, percent_encode(fields), body, headers, address)


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: f"{t.path} {' '.join(t.methods)}")
@FUZZ
@given(data=st.data())
def test_no_request_gets_a_server_error(world: World, target: Target, data: st.DataObject) -> None:
    client, sent = draw_request(data.draw, target, world)
    with capture() as failure:
        try:
            response = client.open(sent.path, method=sent.method, query_string=sent.query,
                                   data=sent.body, headers=sent.headers,
                                   environ_overrides={"REMOTE_ADDR": sent.address})
            status = response.status_code
            response.close()
        except Exception as error:  # an error that escaped every handler
            failure.record(error)
            status = 500
    if status >= 500:
        pytest.fail(Failure(sent, status, failure.exception).describe())
