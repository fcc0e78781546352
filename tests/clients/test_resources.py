"""Resources a platform serves (issue 14, part 1): registered by the CLI or with the
``mob_resources`` member of its RFC 7591/7592 registration, checked with
``invalid_client_metadata``; a resource URI belongs to one platform only."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from clients.credentials import issue_initial_access_token
from idp.oauth.resources import query_resource
from tests.delegation import ACTIONS, API, TOKEN_EXCHANGE
from tests.factories import make_platform

RESOURCE = {"resource": API, "name": "Covoiturage national API", "actions": ACTIONS,
            "claims": ["nickname", "phone_number"]}


def metadata(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"client_name": "Covoiturage national",
                            "redirect_uris": ["https://national.example/callback"],
                            "scope": "openid profile:alias", "mob_resources": [RESOURCE]}
    data.update(overrides)
    return data


def register(client: FlaskClient, data: dict[str, Any]) -> TestResponse:
    _, token = issue_initial_access_token(3600, 1)
    return client.post("/register", json=data, headers={"Authorization": f"Bearer {token}"})


def test_a_platform_registers_its_api_and_reads_it_back(client: FlaskClient,
                                                         app: Flask) -> None:
    response = register(client, metadata())

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["mob_resources"] == [RESOURCE]
    read = client.get(body["registration_client_uri"],
                      headers={"Authorization": f"Bearer {body['registration_access_token']}"})
    assert read.get_json()["mob_resources"] == [RESOURCE]
    stored = query_resource(API)
    assert stored is not None and stored.client_id == body["client_id"]


def test_an_update_replaces_the_resources(client: FlaskClient, app: Flask) -> None:
    body = register(client, metadata()).get_json()
    other = {**RESOURCE, "resource": "https://api.national.example/v2"}

    updated = client.put(body["registration_client_uri"],
                         json=metadata(client_id=body["client_id"], mob_resources=[other]),
                         headers={"Authorization":
                                  f"Bearer {body['registration_access_token']}"})

    assert updated.status_code == 200, updated.get_json()
    assert [r["resource"] for r in updated.get_json()["mob_resources"]] == [other["resource"]]
    assert query_resource(API) is None


@pytest.mark.parametrize("resources", [
    "https://api.example/",
    [{"resource": API, "name": "API", "actions": {}}],
    [{**RESOURCE, "resource": "api.national.example"}],
    [{**RESOURCE, "resource": "http://api.national.example/"}],
    [{**RESOURCE, "resource": f"{API}#part"}],
    [{**RESOURCE, "name": " "}],
    [{**RESOURCE, "actions": {"search": ACTIONS["trips:search"]}}],
    [{**RESOURCE, "actions": {"profile:alias": ACTIONS["trips:search"]}}],
    [{**RESOURCE, "actions": {"trips:search": {"en": "search rides"}}}],
    [{**RESOURCE, "actions": {"trips:search": "search rides"}}],
    [{**RESOURCE, "claims": ["mob_accessibility_needs"]}],
    [{**RESOURCE, "claims": ["shoe_size"]}],
    [RESOURCE, RESOURCE],
])
def test_bad_resources_are_invalid_client_metadata(client: FlaskClient, app: Flask,
                                                   resources: Any) -> None:
    response = register(client, metadata(mob_resources=resources))

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_client_metadata"


def test_a_resource_uri_belongs_to_one_platform(client: FlaskClient, app: Flask) -> None:
    assert register(client, metadata()).status_code == 201

    response = register(client, metadata(client_name="Copycat",
                                         redirect_uris=["https://copycat.example/cb"]))

    assert response.status_code == 400
    assert "another platform" in response.get_json()["error_description"]


def test_http_is_allowed_on_loopback_in_development(client: FlaskClient, app: Flask) -> None:
    local = {**RESOURCE, "resource": "http://127.0.0.1:8001/api"}

    assert register(client, metadata(mob_resources=[local])).status_code == 201


def test_dynamic_registration_accepts_token_exchange_for_confidential_platforms(
        client: FlaskClient, app: Flask) -> None:
    grants = ["authorization_code", "refresh_token", TOKEN_EXCHANGE]

    confidential = register(client, metadata(grant_types=grants, mob_resources=[]))
    public = register(client, metadata(grant_types=grants, mob_resources=[],
                                       token_endpoint_auth_method="none"))

    assert confidential.status_code == 201
    assert TOKEN_EXCHANGE in confidential.get_json()["grant_types"]
    assert public.get_json()["error"] == "invalid_client_metadata"


def test_the_operator_registers_an_api_from_the_command_line(runner: CliRunner,
                                                            app: Flask) -> None:
    national = make_platform(name="Covoiturage national")

    result = runner.invoke(args=[
        "clients", "resource", national.client_id, API, "--name", "Covoiturage national API",
        "--action", "trips:search=search rides|chercher des trajets",
        "--action", "bookings:create=book seats|réserver des places",
        "--claim", "nickname", "--json"])

    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)["mob_resources"]
    assert shown == [{**RESOURCE, "claims": ["nickname"]}]
    removed = runner.invoke(args=["clients", "resource-remove", national.client_id, API])
    assert removed.exit_code == 0 and query_resource(API) is None


@pytest.mark.parametrize("action", ["trips:search=search rides", "search=a|b"])
def test_the_command_line_refuses_bad_actions(runner: CliRunner, app: Flask,
                                              action: str) -> None:
    national = make_platform(name="Covoiturage national")

    result = runner.invoke(args=["clients", "resource", national.client_id, API,
                                 "--name", "API", "--action", action])

    assert result.exit_code == 1
    assert "mob_resources" in result.output
