"""Userinfo's common request answered under Flask (idp.oauth.userinfo_direct, issue 13
part 2a): the same answer as Flask's path, byte for byte, for every scope of the
catalogue and both kinds of subject; everything Flask must judge goes to Flask; and
every answer reads the token and the consent as they are at that moment."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import EnvironBuilder as FlaskEnvironBuilder
from flask.testing import FlaskClient
from werkzeug.test import TestResponse
from werkzeug.wrappers import Response

from consent import records
from idp.accounts.models import User
from idp.extensions import db, utcnow
from idp.logs import CLIENT_ID, TRAVELLER, pseudonym
from idp.oauth.claims import SCOPE_CLAIMS
from idp.oauth.models import Token
from idp.oauth.subjects import PairwiseSubject
from idp.prepared import PreparedResponses
from tests.browser import Browser
from tests.factories import Platform, Traveller, make_platform
from tests.oauth.test_undeclared_scopes import GUARDED, VALUES
from tests.test_metrics import app, scrape  # noqa: F401  (its app has a metrics token)
from tests.tokens import issue_tokens

PER_ANSWER = {"date", "x-request-id"}
EVERY_SCOPE = " ".join(scope for scope in SCOPE_CLAIMS)
# Guarded scopes are offered only to a platform that says why it wants them.
POLICY = {scope: {"required": False, "purpose": {"en": "To help you travel."}}
          for scope in GUARDED}
MOBILITY: dict[str, Any] = {
    **VALUES,
    "mob_home_commune": {"code": "69123", "name": "Lyon"},
    "mob_carpool_role": "driver",
    "mob_carpool_preferences": {"smoking": False, "music": True},
    "mob_vehicle": {"seats": 3},
    "mob_preferred_modes": ["carpool", "bus"],
    "mob_transit_passes": [{"network": "TCL", "until": "2027-06-30"}],
    "mob_employer": {"name": "Cooperative"},
}


def prepared(app: Flask) -> PreparedResponses:
    kept: PreparedResponses = app.extensions["idp.prepared"]
    return kept


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def direct(app: Flask, client: FlaskClient, token: str, **options: Any) -> TestResponse:
    """GET /userinfo; fails unless the answer was made under Flask."""
    before = prepared(app).replayed
    response = client.get("/userinfo", headers={**bearer(token), **options.pop("headers", {})},
                          **options)
    assert prepared(app).replayed == before + 1, "userinfo went to Flask"
    return response


def from_flask(app: Flask, client: FlaskClient, method: str, token: str | None,
               **options: Any) -> TestResponse:
    """The request; fails unless Flask answered it."""
    before = prepared(app).replayed
    headers = {**(bearer(token) if token else {}), **options.pop("headers", {})}
    response = client.open("/userinfo", method=method, headers=headers, **options)
    assert prepared(app).replayed == before, f"{method} /userinfo was answered under Flask"
    return response


def flask_path(app: Flask, token: str) -> Response:
    """Flask's own answer to the same request: the app under the prepared layer."""
    return Response.from_app(prepared(app).app, environ_of(app, token))


def environ_of(app: Flask, token: str) -> dict[str, Any]:
    """A GET /userinfo as the test client makes it (same host), over WSGI itself."""
    environ: dict[str, Any] = FlaskEnvironBuilder(app, path="/userinfo",
                                                  headers=bearer(token)).get_environ()
    return environ


def fixed_headers(response: Response) -> list[tuple[str, str]]:
    return [(k, v) for k, v in response.headers.items() if k.lower() not in PER_ANSWER]


def token_row(access_token: str) -> Token:
    from idp.digests import digest

    db.session.expire_all()
    return db.session.scalars(sa.select(Token).where(
        Token.access_token_hash == digest(access_token))).one()


def warmed(app: Flask, client: FlaskClient, token: str) -> None:
    """One answer from Flask (its headers kept), then the common request is direct."""
    first = from_flask(app, client, "GET", token)
    assert first.status_code == 200, first.get_json()


@pytest.fixture
def api(app: Flask) -> FlaskClient:
    """The platform's own client: the traveller's browser (``logged_in``) keeps its
    session cookie in the other one, and a request with a cookie goes to Flask."""
    return app.test_client()


@pytest.fixture
def everything(user: Traveller) -> Traveller:
    """A traveller who filled every field the catalogue releases."""
    model: User = user.model
    for name, value in {"nickname": "Umbi", "picture": "https://pictures.example/u.png",
                        "gender": "male", "birthdate": date(1990, 2, 28), "locale": "fr-FR",
                        "email_verified": True, "phone_number": "+33612345678",
                        "phone_number_verified": True, "street_address": "1 rue Haute",
                        "locality": "Lyon", "postal_code": "69001", "country": "France",
                        "mobility": dict(MOBILITY)}.items():
        setattr(model, name, value)
    db.session.commit()
    return user


@pytest.mark.parametrize("subject_type", ["pairwise", "public"])
@pytest.mark.parametrize("scope", [
    "openid", "openid email", "openid profile email phone address",
    "openid profile:alias age_over_18 home_commune carpool preferred_modes transit_pass "
    "employer", EVERY_SCOPE])
def test_the_direct_answer_is_flasks_answer_byte_for_byte(
        app: Flask, api: FlaskClient, logged_in: Browser, everything: Traveller,
        scope: str, subject_type: str) -> None:
    platform = make_platform(scope=EVERY_SCOPE, scope_policy=POLICY)
    platform.model.subject_type = subject_type  # public: granted by the operator
    db.session.commit()
    token = issue_tokens(logged_in, platform, scope=scope)["access_token"]
    warmed(app, api, token)

    answer = direct(app, api, token)
    flask = flask_path(app, token)

    assert answer.status_code == flask.status_code == 200
    assert answer.data == flask.data
    assert fixed_headers(answer) == fixed_headers(flask)
    assert answer.headers["Date"] and answer.headers["X-Request-ID"]
    released = answer.get_json()
    asked = {claim for s in scope.split() for claim in SCOPE_CLAIMS[s]}
    assert set(released) == asked  # every field is filled: each asked claim is there
    if scope == EVERY_SCOPE:
        assert released["mob_eligibility"] == VALUES["mob_eligibility"]


def test_a_direct_answer_is_counted_and_names_its_platform_and_traveller(
        app: Flask, api: FlaskClient, logged_in: Browser, platform: Platform,
        user: Traveller) -> None:
    token = issue_tokens(logged_in, platform, scope="openid email")["access_token"]
    warmed(app, api, token)
    before = scrape(api)
    environ = environ_of(app, token)
    answer: list[str] = []

    body = b"".join(app(environ, lambda status, headers, exc_info=None: answer.append(status)))
    direct(app, api, token)

    assert answer == ["200 OK"] and b'"email"' in body
    assert environ[CLIENT_ID] == platform.client_id
    assert environ[TRAVELLER] == pseudonym(user.model.id, app.extensions["idp.settings"]
                                           .secret_key)
    after = scrape(api)
    labels = {"endpoint": "endpoints.userinfo", "method": "GET", "status": "200"}
    assert after.value("idp_http_requests_total", **labels) \
        - before.value("idp_http_requests_total", **labels) == 2


@pytest.mark.parametrize(("method", "options", "status"), [
    ("GET", {"query_string": {"x": "1"}}, 200),
    ("GET", {"headers": {"Origin": "https://carpool.example"}}, 200),
    ("GET", {"headers": {"If-None-Match": '"x"'}}, 200),
    ("GET", {"headers": {"DPoP": "not-a-proof"}}, 200),  # a bearer token: no proof read
    ("POST", {}, 200),
    ("GET", {"headers": {"Host": "attacker.example"}}, 400),
], ids=["query", "origin", "conditional", "dpop", "post", "host"])
def test_requests_flask_must_judge_go_to_flask(
        app: Flask, api: FlaskClient, logged_in: Browser, platform: Platform,
        method: str, options: dict[str, Any], status: int) -> None:
    token = issue_tokens(logged_in, platform, scope="openid email")["access_token"]
    warmed(app, api, token)
    direct(app, api, token)

    assert from_flask(app, api, method, token, **options).status_code == status


def test_a_request_with_a_cookie_goes_to_flask(
        app: Flask, api: FlaskClient, logged_in: Browser, platform: Platform) -> None:
    """Over WSGI itself: the test client sends its own jar's cookies, and only those."""
    token = issue_tokens(logged_in, platform, scope="openid email")["access_token"]
    warmed(app, api, token)
    environ = {**environ_of(app, token), "HTTP_COOKIE": "idp_session=somebody"}
    before = prepared(app).replayed

    answer = Response.from_app(app, environ)

    assert answer.status_code == 200 and prepared(app).replayed == before


@pytest.mark.parametrize(("header", "status"), [
    ("Bearer " + "A" * 43, 401),  # our shape, unknown: read here, judged by Flask
    ("Bearer short", 401),
    ("Bearer " + "A" * 44, 401),
    ("Bearer a.b+c/" + "A" * 39, 401),
    ("Basic " + "A" * 43, 401),
    ("Bearer  " + "A" * 43, 401),
], ids=["unknown", "short", "long", "other-characters", "basic", "two-spaces"])
def test_a_token_flask_must_refuse_is_refused_by_flask(
        app: Flask, api: FlaskClient, logged_in: Browser, platform: Platform,
        header: str, status: int) -> None:
    token = issue_tokens(logged_in, platform, scope="openid email")["access_token"]
    warmed(app, api, token)

    response = from_flask(app, api, "GET", None, headers={"Authorization": header})

    assert response.status_code == status
    assert "WWW-Authenticate" in response.headers


def expire(row: Token) -> None:
    row.issued_at = utcnow() - timedelta(seconds=row.expires_in + 1)


@pytest.mark.parametrize(("change", "status"), [
    (expire, 401),
    (lambda row: setattr(row, "revoked_at", utcnow()), 401),
    (lambda row: setattr(row, "dpop_jkt", "A" * 43), 401),
    (lambda row: setattr(row, "scope", "email"), 403),
    (lambda row: setattr(row, "claims_request", {"userinfo": {"email": None}}), 200),
    (lambda row: setattr(row, "audience", "https://api.example/trips"), 200),
], ids=["expired", "revoked", "dpop-bound", "no-openid", "claims-request", "exchanged"])
def test_a_token_flask_must_judge_goes_to_flask(
        app: Flask, api: FlaskClient, logged_in: Browser, platform: Platform,
        change: Any, status: int) -> None:
    token = issue_tokens(logged_in, platform, scope="openid email")["access_token"]
    warmed(app, api, token)
    direct(app, api, token)
    row = token_row(token)
    change(row)
    db.session.commit()

    assert from_flask(app, api, "GET", token).status_code == status


def test_a_withdrawal_is_seen_by_the_very_next_answer(
        app: Flask, api: FlaskClient, logged_in: Browser, platform: Platform,
        user: Traveller) -> None:
    token = issue_tokens(logged_in, platform, scope="openid email phone")["access_token"]
    warmed(app, api, token)
    assert "email" in direct(app, api, token).get_json()

    assert records.narrow(user.model, platform.client_id,
                          "email") is not None
    db.session.commit()
    narrowed = direct(app, api, token).get_json()
    assert "email" not in narrowed and "sub" in narrowed

    records.withdraw(user.model, platform.client_id)
    db.session.commit()
    assert from_flask(app, api, "GET", token).status_code == 401  # its tokens revoked


def test_a_lapsed_consent_goes_to_flask_which_records_its_end(
        app: Flask, api: FlaskClient, logged_in: Browser, platform: Platform,
        user: Traveller) -> None:
    token = issue_tokens(logged_in, platform, scope="openid email")["access_token"]
    warmed(app, api, token)
    record = records.current(user.model.id, platform.client_id)
    assert record is not None
    record.valid_until = utcnow() - timedelta(seconds=1)
    db.session.commit()

    assert set(from_flask(app, api, "GET", token).get_json()) == {"sub"}
    assert set(direct(app, api, token).get_json()) == {"sub"}  # ended now: direct


def test_a_pairwise_sub_not_known_stored_goes_to_flask_which_stores_it(
        app: Flask, api: FlaskClient, logged_in: Browser, platform: Platform) -> None:
    token = issue_tokens(logged_in, platform, scope="openid email")["access_token"]
    warmed(app, api, token)
    sub = direct(app, api, token).get_json()["sub"]
    db.session.execute(sa.delete(PairwiseSubject))
    db.session.commit()
    app.extensions["idp.subjects"].clear()  # as a fresh process knows nothing

    assert from_flask(app, api, "GET", token).get_json()["sub"] == sub
    assert db.session.scalar(sa.select(PairwiseSubject.sub)) == sub
    # Flask's path trusts a pair once it has read it back (a row it wrote may yet be
    # rolled back with its request): the next answer is Flask's, then direct.
    assert from_flask(app, api, "GET", token).get_json()["sub"] == sub
    assert direct(app, api, token).get_json()["sub"] == sub
