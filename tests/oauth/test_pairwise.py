"""Pairwise subject identifiers (OIDC Core 8.1): each sector its own stable `sub`, a
sector_identifier_uri to group one platform's hosts, public subjects only by the operator."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from flask.testing import FlaskClient

from clients.credentials import issue_initial_access_token
from clients.registration import ClientMetadata, ClientMetadataError, register
from consent.models import ConsentRecord
from idp.extensions import db
from idp.oauth.claims import subject_for
from idp.oauth.models import Client
from idp.oauth.subjects import (
    KEY_LABEL,
    PairwiseSubject,
    generate_pairwise_sub,
    pairwise_key_of,
    query_user_by_sub,
    sector_for,
    sector_of,
)
from tests.browser import AuthorizationRequest, Browser, query_of
from tests.consent.test_platforms import allowed  # noqa: F401  (a fixture)
from tests.factories import Platform, Traveller, make_platform
from tests.oauth.test_code_flow import log_in_and_allow
from tests.tokens import basic, redeem, verify_id_token

REGIONAL = "https://regional-carpool.example/callback"
REGIONAL_APP = "https://app.regional-carpool.example/callback"


class SectorServer:
    """A platform's web server on 127.0.0.1 serving its sector identifier document."""

    def __init__(self) -> None:
        self.status = 200
        self.body: Any = []
        self.fetched = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802  (the standard library's name)
                server.fetched += 1
                raw = server.body if isinstance(server.body, bytes) else (
                    json.dumps(server.body).encode())
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                return None

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.uri = f"http://127.0.0.1:{self.httpd.server_address[1]}/sector.json"


@pytest.fixture
def sector_server() -> Iterator[SectorServer]:
    server = SectorServer()
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()
    thread.join()


def grouped_meta(server: SectorServer, **overrides: Any) -> ClientMetadata:
    fields: dict[str, Any] = {"client_name": "Regional carpool",
                              "redirect_uris": [REGIONAL, REGIONAL_APP],
                              "sector_identifier_uri": server.uri}
    fields.update(overrides)
    return ClientMetadata(**fields)


def test_each_sector_sees_its_own_stable_sub(user: Traveller) -> None:
    regional = make_platform(redirect_uri=REGIONAL)
    national = make_platform(redirect_uri="https://national-carpool.example/callback")
    same_site = make_platform(redirect_uri="https://regional-carpool.example/other")

    sub = subject_for(user.model, regional.model)
    assert sub == subject_for(user.model, regional.model)  # stable
    assert sub == subject_for(user.model, same_site.model)  # one host, one sector
    assert sub != subject_for(user.model, national.model)  # another sector
    assert user.model.subject not in (sub, subject_for(user.model, national.model))
    assert len(sub) == 43  # urlsafe base64 of a SHA-256 HMAC, unpadded


def test_the_id_token_and_userinfo_carry_the_pairwise_sub(browser: Browser, user: Traveller,
                                                          platform: Platform) -> None:
    request = AuthorizationRequest(platform.client_id, platform.redirect_uri)
    response = log_in_and_allow(browser, user, request)
    tokens = redeem(browser.client, platform, query_of(response.location)["code"],
                    request.verifier).get_json()

    sub = verify_id_token(browser.client, tokens["id_token"])["sub"]
    assert sub == subject_for(user.model, platform.model) != user.model.subject
    info = browser.client.get("/userinfo",
                              headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.get_json()["sub"] == sub
    # The issued pair is stored once, so the sub leads back to the traveller.
    assert db.session.scalars(db.select(PairwiseSubject.sub)).all() == [sub]
    assert query_user_by_sub(platform.model, sub) == user.model


def test_a_sector_identifier_uri_groups_two_hosts(app: Any, user: Traveller,
                                                  sector_server: SectorServer) -> None:
    sector_server.body = [REGIONAL, REGIONAL_APP, "https://elsewhere.example/cb"]
    web = register(grouped_meta(sector_server, redirect_uris=[REGIONAL])).client
    mobile = register(grouped_meta(sector_server)).client

    assert sector_server.fetched == 2  # fetched at each registration, not at each login
    assert sector_of(web) == sector_of(mobile) == "127.0.0.1"
    assert subject_for(user.model, web) == subject_for(user.model, mobile)
    assert subject_for(user.model, web) != subject_for(user.model, make_platform().model)


def test_redirect_uris_on_several_hosts_need_a_sector_identifier_uri(app: Any) -> None:
    meta = ClientMetadata(client_name="Regional carpool", redirect_uris=[REGIONAL, REGIONAL_APP])
    with pytest.raises(ClientMetadataError, match="sector_identifier_uri") as error:
        register(meta)
    assert error.value.error == "invalid_client_metadata"


@pytest.mark.parametrize(("status", "body", "message"), [
    (200, [REGIONAL], "does not list the redirect URI"),
    (200, {"redirect_uris": [REGIONAL, REGIONAL_APP]}, "JSON array"),
    (200, b"<html>not json</html>", "JSON array"),
    (200, [REGIONAL, 42], "JSON array"),
    (404, [REGIONAL, REGIONAL_APP], "^sector_identifier_uri could not be fetched.$"),
], ids=["missing-uri", "object", "not-json", "not-strings", "not-found"])
def test_a_sector_identifier_that_does_not_match_is_refused(
        app: Any, sector_server: SectorServer, status: int, body: Any, message: str) -> None:
    sector_server.status, sector_server.body = status, body
    with pytest.raises(ClientMetadataError, match=message) as error:
        register(grouped_meta(sector_server))
    assert error.value.error == "invalid_client_metadata"


def test_dynamic_registration_checks_the_sector_identifier(
        client: FlaskClient, sector_server: SectorServer) -> None:
    _, token = issue_initial_access_token(3600, 2)
    metadata = {"client_name": "Regional carpool", "redirect_uris": [REGIONAL, REGIONAL_APP],
                "sector_identifier_uri": sector_server.uri}
    headers = {"Authorization": f"Bearer {token}"}

    sector_server.body = [REGIONAL]
    refused = client.post("/register", json=metadata, headers=headers)
    assert refused.status_code == 400
    assert refused.get_json()["error"] == "invalid_client_metadata"

    sector_server.body = [REGIONAL, REGIONAL_APP]
    accepted = client.post("/register", json=metadata, headers=headers)
    assert accepted.status_code == 201, accepted.get_json()
    body = accepted.get_json()
    assert (body["subject_type"], body["sector_identifier_uri"]) == ("pairwise", sector_server.uri)


def test_a_platform_cannot_register_itself_for_public_subjects(client: FlaskClient) -> None:
    _, token = issue_initial_access_token(3600, 1)
    response = client.post("/register", headers={"Authorization": f"Bearer {token}"},
                           json={"client_name": "Tracker", "redirect_uris": [REGIONAL],
                                 "subject_type": "public"})
    assert response.status_code == 400
    assert "operator" in response.get_json()["error_description"]


def test_the_operator_grants_public_subjects(runner: Any, user: Traveller,
                                            platform: Platform) -> None:
    pairwise = subject_for(user.model, platform.model)
    # "--": a client_id may start with "-" (urlsafe base64).
    result = runner.invoke(args=["clients", "subject-type", "--json", "--", platform.client_id,
                                 "public"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"client_id": platform.client_id,
                                         "subject_type": "public"}
    db.session.refresh(platform.model)
    assert subject_for(user.model, platform.model) == user.model.subject

    runner.invoke(args=["clients", "subject-type", "--", platform.client_id, "pairwise"])
    db.session.refresh(platform.model)
    assert subject_for(user.model, platform.model) == pairwise
    assert runner.invoke(args=["clients", "subject-type", "nobody", "public"]).exit_code == 1


def test_discovery_lists_both_subject_types(client: FlaskClient) -> None:
    document = client.get("/.well-known/openid-configuration").get_json()
    assert document["subject_types_supported"] == ["pairwise", "public"]


def test_the_consent_records_api_finds_the_traveller_by_pairwise_sub(
        logged_in: Browser, user: Traveller,
        allowed: tuple[Platform, dict[str, Any]]) -> None:  # noqa: F811
    platform, tokens = allowed
    sub = verify_id_token(logged_in.client, tokens["id_token"])["sub"]
    assert sub != user.model.subject

    response = logged_in.client.get(f"/consent/records?sub={sub}", headers=basic(platform))
    body = response.get_json()
    assert [r["event_type"] for r in body["records"]] == ["given"]
    assert body["records"][0]["sub"] == sub  # the record keeps the sub released
    assert db.session.scalar(db.select(ConsentRecord.sub)) == sub
    # The internal subject, or another sector's sub, leads nowhere.
    for other in (user.model.subject, subject_for(user.model, make_platform().model)):
        answer = logged_in.client.get(f"/consent/records?sub={other}", headers=basic(platform))
        assert answer.get_json()["records"] == []


def test_a_platform_granted_public_subjects_may_send_its_type_back(
        client: FlaskClient) -> None:
    _, token = issue_initial_access_token(3600, 1)
    registration = client.post("/register", headers={"Authorization": f"Bearer {token}"},
                               json={"client_name": "Transit", "redirect_uris": [REGIONAL]})
    body = registration.get_json()
    (platform,) = db.session.scalars(db.select(Client)).all()
    platform.subject_type = "public"  # as `idp clients subject-type` does
    db.session.commit()

    read = client.get(f"/register/{body['client_id']}",
                      headers={"Authorization": f"Bearer {body['registration_access_token']}"})
    metadata = read.get_json()
    assert metadata["subject_type"] == "public"
    sent_back = {k: v for k, v in metadata.items() if k in (
        "client_id", "client_name", "redirect_uris", "subject_type")}
    update = client.put(f"/register/{body['client_id']}", json=sent_back, headers={
        "Authorization": f"Bearer {body['registration_access_token']}"})
    assert update.status_code == 200, update.get_json()
    assert update.get_json()["subject_type"] == "public"


def test_an_update_cannot_move_a_platform_to_another_sector(
        client: FlaskClient, sector_server: SectorServer) -> None:
    _, token = issue_initial_access_token(3600, 1)
    body = client.post("/register", headers={"Authorization": f"Bearer {token}"},
                       json={"client_name": "Regional", "redirect_uris": [REGIONAL]}).get_json()
    path = f"/register/{body['client_id']}"
    headers = {"Authorization": f"Bearer {body['registration_access_token']}"}

    moved = client.put(path, headers=headers, json={
        "client_id": body["client_id"], "client_name": "Regional",
        "redirect_uris": ["https://new-name.example/callback"]})
    assert moved.status_code == 400
    assert "sector stays regional-carpool.example" in moved.get_json()["error_description"]


def test_the_kept_sectors_and_subjects_follow_every_input() -> None:
    """Both are kept per process (issue 13): an answer is only ever reused for the very
    same inputs, the redirect URIs' values (not the list they came in) among them."""
    key = b"k" * 32
    sub = generate_pairwise_sub("carpool.example", "subject-1", key)
    mac = hmac.new(key, b"carpool.example|subject-1", hashlib.sha256).digest()
    assert sub == base64.urlsafe_b64encode(mac).decode().rstrip("=")
    assert generate_pairwise_sub("carpool.example", "subject-1", key) == sub
    assert generate_pairwise_sub("carpool.example", "subject-1", b"j" * 32) != sub
    assert generate_pairwise_sub("bus.example", "subject-1", key) != sub
    assert generate_pairwise_sub("carpool.example", "subject-2", key) != sub
    assert pairwise_key_of("secret-1") == hmac.new(b"secret-1", KEY_LABEL,
                                                   hashlib.sha256).digest()
    assert pairwise_key_of("secret-2") != pairwise_key_of("secret-1")
    uris = ["https://carpool.example/cb"]
    assert sector_for("c1", None, uris, "web") == "carpool.example"
    uris[0] = "https://bus.example/cb"  # the same list, changed in place
    assert sector_for("c1", None, uris, "web") == "bus.example"
    assert sector_for("c1", "https://sector.example/uris.json", uris, "web") == "sector.example"
    assert sector_for("c1", None, ["http://127.0.0.1:8080/cb"], "native") == "c1"
    assert sector_for("c1", None, ["http://127.0.0.1:8080/cb"], "web") == "127.0.0.1"
