"""The client credentials grant's common request answered under Flask
(idp.oauth.client_credentials_direct, issue 13 part 2a): an answer and a stored row like
Flask's path's, counted as a token issued; everything Flask must judge goes to Flask,
body and all; and an answer kept by neither path when DPoP nonces are on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from idp.digests import digest
from idp.extensions import db
from idp.logs import CLIENT_ID
from idp.oauth.access_tokens import JWT_ACCESS_TOKENS
from idp.oauth.platform_tokens import PlatformToken
from tests.browser import AuthorizationRequest, Browser, query_of
from tests.factories import Platform, make_platform
from tests.oauth.test_client_credentials import GRANT, allow_grant
from tests.oauth.test_dpop_nonce import nonce_app
from tests.oauth.test_introspection_direct import environ_of, wsgi
from tests.oauth.test_userinfo_direct import api, fixed_headers, prepared  # noqa: F401
from tests.test_lazy_transactions import messages, round_trips
from tests.test_metrics import app, scrape  # noqa: F401  (its app has a metrics token)
from tests.test_query_counts import queries, statements
from tests.tokens import basic, redeem


@pytest.fixture
def backend(app: Flask) -> Platform:
    return allow_grant(make_platform(name="Covoiturage régional"))


def ask(api: FlaskClient, platform: Platform | None, data: Any,
        headers: dict[str, str] | None = None, **options: Any) -> TestResponse:
    sent = {**(basic(platform) if platform else {}), **(headers or {})}
    return api.post("/token", data=data, headers=sent, **options)


def direct(app: Flask, api: FlaskClient, platform: Platform, **data: str) -> TestResponse:
    """A token asked with Basic credentials; fails unless made under Flask."""
    before = prepared(app).replayed
    response = ask(api, platform, {"grant_type": GRANT, **data})
    assert prepared(app).replayed == before + 1, "the token request went to Flask"
    return response


def from_flask(app: Flask, api: FlaskClient, platform: Platform | None, data: Any,
               **options: Any) -> TestResponse:
    before = prepared(app).replayed
    response = ask(api, platform, data, **options)
    assert prepared(app).replayed == before, "the token request was answered under Flask"
    return response


def warmed(app: Flask, api: FlaskClient, platform: Platform) -> TestResponse:
    first = from_flask(app, api, platform, {"grant_type": GRANT})
    assert first.status_code == 200, first.get_json()
    return first


def stored(access_token: str) -> PlatformToken:
    db.session.expire_all()
    return db.session.scalars(sa.select(PlatformToken).where(
        PlatformToken.access_token_hash == digest(access_token))).one()


@pytest.mark.parametrize("scope", [None, "consent:read", "consent:read consent:read"])
def test_the_direct_answer_and_row_are_those_of_flasks_path(
        app: Flask, client: FlaskClient, backend: Platform, scope: str | None) -> None:
    data = {"grant_type": GRANT, **({"scope": scope} if scope else {})}
    warmed(app, client, backend)
    flask_environ = environ_of(app, backend, data, path="/token")
    flask = wsgi(prepared(app).app, flask_environ)
    direct_environ = environ_of(app, backend, data, path="/token")
    before = prepared(app).replayed

    answer = wsgi(app, direct_environ)

    assert prepared(app).replayed == before + 1
    assert answer.status_code == flask.status_code == 200
    mine, theirs = answer.get_json(), flask.get_json()
    assert mine["access_token"] != theirs["access_token"]
    assert {**mine, "access_token": None} == {**theirs, "access_token": None}
    assert mine == {"access_token": mine["access_token"], "token_type": "Bearer",
                    "expires_in": app.extensions["idp.settings"].access_token_lifetime,
                    "scope": "consent:read"}
    assert fixed_headers(answer) == fixed_headers(flask)
    assert direct_environ[CLIENT_ID] == flask_environ[CLIENT_ID] == backend.client_id
    row, flask_row = stored(mine["access_token"]), stored(theirs["access_token"])
    for column in ("client_id", "scope", "expires_in", "revoked_at"):
        assert getattr(row, column) == getattr(flask_row, column)
    assert abs((row.issued_at - flask_row.issued_at).total_seconds()) < 60


def test_the_headers_kept_are_those_of_the_grants_answered_here(
        app: Flask, api: FlaskClient, logged_in: Browser, backend: Platform) -> None:
    """A refresh's 200 and a platform token's carry the same headers, and either is kept
    (idp.oauth.refresh_direct answers the other); another grant's 200 at the same
    endpoint (a code redeemed with Basic credentials) is never the answer kept."""
    request = AuthorizationRequest(backend.client_id, backend.redirect_uri,
                                   scope="openid email offline_access")
    page = logged_in.authorize(request)
    if page.status_code == 200:
        page = logged_in.follow_local(logged_in.consent("allow"))
    redeemed = redeem(api, backend, query_of(page.location)["code"], request.verifier)
    assert redeemed.status_code == 200 and not prepared(app).kept

    refreshed = api.post("/token", headers=basic(backend), data={
        "grant_type": "refresh_token", "refresh_token": redeemed.get_json()["refresh_token"]})
    assert refreshed.status_code == 200 and len(prepared(app).kept) == 1

    platform_token = direct(app, api, backend)
    assert platform_token.status_code == 200
    def but_length(response: TestResponse) -> list[tuple[str, str]]:
        return [(k, v) for k, v in fixed_headers(response) if k != "Content-Length"]
    assert but_length(platform_token) == but_length(refreshed)


def test_a_direct_token_works_where_a_platform_token_does(
        app: Flask, client: FlaskClient, backend: Platform) -> None:
    warmed(app, client, backend)
    token = direct(app, client, backend).get_json()["access_token"]

    records = client.get("/consent/records", query_string={"sub": "unknown"},
                         headers={"Authorization": f"Bearer {token}"})
    introspected = client.post("/introspect", data={"token": token}, headers=basic(backend))

    assert records.status_code == 200, records.get_json()
    assert records.get_json() == {"sub": "unknown", "records": [], "receipts": []}
    assert introspected.get_json()["active"] and introspected.get_json()["sub"] \
        == backend.client_id


def test_a_direct_token_is_one_statement_in_one_round_trip(
        app: Flask, client: FlaskClient, backend: Platform, tmp_path: Path) -> None:
    """The platform held to the grant's rules and its token written by one INSERT that
    selects its values only if they hold (issue 13, part 5: the platform's read, then
    the INSERT, were two round trips); on PostgreSQL, no BEGIN and no COMMIT."""
    warmed(app, client, backend)
    with statements() as seen:
        assert direct(app, client, backend).status_code == 200
    assert len(queries(seen)) == 1, seen
    assert queries(seen)[0].lstrip().upper().startswith("INSERT")
    if db.engine.dialect.name != "postgresql":
        return
    with messages(tmp_path) as sent:
        db.engine.dispose()  # this thread's held connection is taken again, and traced
        answer = direct(app, client, backend)
    assert answer.status_code == 200
    assert not [m for m in sent if m.startswith("Query")], sent
    assert round_trips(sent) == 1, sent
    assert stored(answer.get_json()["access_token"]).client_id == backend.client_id


def test_a_direct_token_is_counted_as_issued(app: Flask, client: FlaskClient,
                                             backend: Platform) -> None:
    warmed(app, client, backend)
    before = scrape(client)

    direct(app, client, backend)

    counted_once(before, scrape(client), GRANT)


def counted_once(before: Any, after: Any, grant_type: str) -> None:
    """Between two scrapes: one token issued of this grant, one 200 of the endpoint."""
    issued = {"grant_type": grant_type}
    assert after.value("idp_tokens_issued_total", **issued) \
        - before.value("idp_tokens_issued_total", **issued) == 1
    labels = {"endpoint": "endpoints.token", "method": "POST", "status": "200"}
    assert after.value("idp_http_requests_total", **labels) \
        - before.value("idp_http_requests_total", **labels) == 1


@pytest.mark.parametrize(("case", "status", "error"), [
    ("wrong-secret", 401, "invalid_client"),
    ("unknown-client", 401, "invalid_client"),
    ("secret-in-body", 200, None),
    ("traveller-scope", 400, "invalid_scope"),
    ("resource", 400, "invalid_target"),
    ("extra-field", 200, None),
    ("scope-twice", 200, None),
    ("query", 200, None),
    ("dpop", 400, "invalid_dpop_proof"),
    ("json", 400, None),
    ("another-grant", 400, "invalid_grant"),
    ("not-registered", 400, "unauthorized_client"),
    ("jwt-tokens", 200, None),
    ("no-secret-method", 401, "invalid_client"),
])
def test_requests_flask_must_judge_go_to_flask_body_and_all(
        app: Flask, client: FlaskClient, backend: Platform, case: str, status: int,
        error: str | None) -> None:
    warmed(app, client, backend)
    direct(app, client, backend)
    sent: dict[str, Any] = {"platform": backend, "data": {"grant_type": GRANT}}
    if case == "wrong-secret":
        sent["headers"] = basic(backend, secret="not-the-secret")
    elif case == "unknown-client":
        sent["platform"] = Platform(None, "c" + "x" * 20, "secret", "")  # type: ignore[arg-type]
    elif case == "secret-in-body":
        sent = {"platform": None, "data": {"grant_type": GRANT, "client_id": backend.client_id,
                                           "client_secret": backend.secret or ""}}
    elif case == "traveller-scope":
        sent["data"]["scope"] = "openid email"
    elif case == "resource":
        sent["data"]["resource"] = "https://api.example/trips"
    elif case == "extra-field":
        sent["data"]["audience"] = "anything"
    elif case == "scope-twice":
        sent["data"] = f"grant_type={GRANT}&scope=consent:read&scope=consent:read"
        sent["content_type"] = "application/x-www-form-urlencoded"
    elif case == "query":
        sent["query_string"] = {"x": "1"}
    elif case == "dpop":
        sent["headers"] = {**basic(backend), "DPoP": "not-a-proof"}
    elif case == "json":
        sent["data"] = None
        sent["json"] = {"grant_type": GRANT}
    elif case == "another-grant":
        sent["data"] = {"grant_type": "refresh_token", "refresh_token": "A" * 43}
    elif case == "not-registered":
        sent["platform"] = make_platform()
    elif case == "jwt-tokens":
        backend.model.access_token_format = JWT_ACCESS_TOKENS
        db.session.commit()
    elif case == "no-secret-method":
        backend.model.token_endpoint_auth_method = "private_key_jwt"
        db.session.commit()

    response = from_flask(app, client, **sent)

    assert response.status_code == status, response.get_json()
    if error is not None:
        assert response.get_json()["error"] == error
    if case == "jwt-tokens":
        assert response.get_json()["access_token"].count(".") == 2


def test_with_dpop_nonces_on_no_answer_is_kept_and_flask_answers_all(
        app: Flask, database_url: str, tmp_path: Path) -> None:
    """The nonce changes by the minute, and Flask hands it out with every answer of the
    token and userinfo endpoints: a kept header would hand out an old one."""
    nonced = nonce_app(database_url, tmp_path)
    try:
        with nonced.app_context():
            platform = allow_grant(make_platform())
            api = nonced.test_client()
            answers = [ask(api, platform, {"grant_type": GRANT}) for _ in range(3)]

            assert [a.status_code for a in answers] == [200] * 3
            assert all(a.headers.get("DPoP-Nonce") for a in answers)
            assert prepared(nonced).replayed == 0 and not prepared(nonced).kept
    finally:
        with nonced.app_context():
            db.session.remove()
            db.engine.dispose()
