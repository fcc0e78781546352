"""Introspection's common request answered under Flask (idp.oauth.introspection_direct,
issue 13 part 2a): the same answer as Flask's path, byte for byte, with the same access
log fields; everything Flask must judge goes to Flask, body and all; and every answer
reads the token as it is at that moment."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import EnvironBuilder, FlaskClient
from werkzeug.test import TestResponse
from werkzeug.wrappers import Response

from consent import records
from idp.digests import digest
from idp.extensions import db, utcnow
from idp.logs import CLIENT_ID, TRAVELLER
from idp.oauth.models import Token
from idp.oauth.subjects import PairwiseSubject
from tests.browser import Browser
from tests.factories import Platform, Traveller, make_platform
from tests.oauth.test_userinfo_direct import api, fixed_headers, prepared  # noqa: F401
from tests.test_metrics import app, scrape  # noqa: F401  (its app has a metrics token)
from tests.tokens import basic, issue_tokens


def form(token: str, **extra: str) -> dict[str, str]:
    return {"token": token, **extra}


def direct(app: Flask, api: FlaskClient, platform: Platform, data: dict[str, str],
           **options: Any) -> TestResponse:
    """POST /introspect; fails unless the answer was made under Flask."""
    before = prepared(app).replayed
    response = api.post("/introspect", data=data, headers=basic(platform), **options)
    assert prepared(app).replayed == before + 1, "introspection went to Flask"
    return response


def from_flask(app: Flask, api: FlaskClient, platform: Platform | None, data: Any,
               headers: dict[str, str] | None = None, **options: Any) -> TestResponse:
    """The request; fails unless Flask answered it."""
    before = prepared(app).replayed
    sent = {**(basic(platform) if platform else {}), **(headers or {})}
    response = api.post("/introspect", data=data, headers=sent, **options)
    assert prepared(app).replayed == before, "introspection was answered under Flask"
    return response


def environ_of(app: Flask, platform: Platform, data: dict[str, str],
               path: str = "/introspect") -> dict[str, Any]:
    environ: dict[str, Any] = EnvironBuilder(app, path=path, method="POST", data=data,
                                             headers=basic(platform)).get_environ()
    return environ


def wsgi(app: Any, environ: dict[str, Any]) -> Response:
    """The app called as a WSGI server calls it, on this very environ (werkzeug's
    ``from_app`` works on a copy, where the access log fields could not be seen)."""
    answer: list[Any] = []
    body = b"".join(app(environ, lambda status, headers, exc_info=None:
                        answer.extend([status, headers])))
    return Response(body, status=answer[0], headers=answer[1])


def warmed(app: Flask, api: FlaskClient, platform: Platform, token: str) -> None:
    """One answer from Flask (its headers kept); then the common request is direct."""
    first = from_flask(app, api, platform, form(token))
    assert first.status_code == 200 and first.get_json()["active"], first.get_json()


def token_row(token: str) -> Token:
    db.session.expire_all()
    wanted = digest(token)
    return db.session.scalars(sa.select(Token).where(sa.or_(
        Token.access_token_hash == wanted, Token.refresh_token_hash == wanted))).one()


def bind_to_a_key(token: str) -> None:
    token_row(token).dpop_jkt = "A" * 43
    db.session.commit()


@pytest.mark.parametrize("bound", [False, True], ids=["bearer", "dpop-bound"])
@pytest.mark.parametrize("hint", [None, "access_token", "refresh_token"])
@pytest.mark.parametrize("kind", ["access_token", "refresh_token"])
@pytest.mark.parametrize("subject_type", ["pairwise", "public"])
def test_the_direct_answer_is_flasks_answer_byte_for_byte(
        app: Flask, api: FlaskClient, logged_in: Browser, subject_type: str, kind: str,
        hint: str | None, bound: bool) -> None:
    platform = make_platform()
    platform.model.subject_type = subject_type  # public: granted by the operator
    db.session.commit()
    token = issue_tokens(logged_in, platform)[kind]
    if bound:
        bind_to_a_key(token)
    warmed(app, api, platform, token)
    data = form(token, **({"token_type_hint": hint} if hint else {}))
    flask_environ = environ_of(app, platform, data)

    answer = direct(app, api, platform, data)
    direct_environ = environ_of(app, platform, data)
    before = prepared(app).replayed
    wsgi(app, direct_environ)  # the same, over WSGI itself: its access log fields
    assert prepared(app).replayed == before + 1
    flask = wsgi(prepared(app).app, flask_environ)

    assert answer.status_code == flask.status_code == 200
    assert answer.data == flask.data
    assert fixed_headers(answer) == fixed_headers(flask)
    for field in (CLIENT_ID, TRAVELLER):
        assert direct_environ.get(field) == flask_environ.get(field)
    assert direct_environ[CLIENT_ID] == platform.client_id
    body = answer.get_json()
    assert body["active"] and body["client_id"] == platform.client_id
    expected = {"access_token": "DPoP" if bound else "Bearer"}.get(kind, "refresh_token")
    assert body["token_type"] == expected


def test_a_direct_answer_is_counted(app: Flask, api: FlaskClient, logged_in: Browser,
                                    platform: Platform) -> None:
    token = issue_tokens(logged_in, platform)["access_token"]
    warmed(app, api, platform, token)
    before = scrape(api)

    direct(app, api, platform, form(token))

    after = scrape(api)
    labels = {"endpoint": "endpoints.introspect", "method": "POST", "status": "200"}
    assert after.value("idp_http_requests_total", **labels) \
        - before.value("idp_http_requests_total", **labels) == 1


def wrong_secret(platform: Platform) -> dict[str, str]:
    return basic(platform, secret="not-the-secret")


def basic_of(raw: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(raw.encode()).decode()}


@pytest.mark.parametrize(("case", "status", "active"), [
    ("wrong-secret", 401, None),
    ("malformed-basic", 401, None),
    ("secret-in-body", 200, True),
    ("unknown-token", 200, False),
    ("other-shape", 200, False),
    ("extra-field", 200, True),
    ("token-twice", 200, True),
    ("unknown-hint", 401, None),  # Authlib's status for unsupported_token_type
    ("query", 200, True),
    ("json", 400, None),
    ("large", 200, True),
])
def test_requests_flask_must_judge_go_to_flask_body_and_all(
        app: Flask, api: FlaskClient, logged_in: Browser, platform: Platform, case: str,
        status: int, active: bool | None) -> None:
    token = issue_tokens(logged_in, platform)["access_token"]
    warmed(app, api, platform, token)
    direct(app, api, platform, form(token))
    sent: dict[str, Any] = {"platform": platform, "data": form(token)}
    if case == "wrong-secret":
        sent["headers"] = wrong_secret(platform)
    elif case == "malformed-basic":
        sent["headers"] = {"Authorization": "Basic !!!"}
    elif case == "secret-in-body":
        sent = {"platform": None, "data": {**form(token), "client_id": platform.client_id,
                                           "client_secret": platform.secret or ""}}
    elif case == "unknown-token":
        sent["data"] = form("A" * 43)
    elif case == "other-shape":
        sent["data"] = form("A" * 44)
    elif case == "extra-field":
        sent["data"] = {**form(token), "resource": "https://api.example"}
    elif case == "token-twice":
        sent["data"] = f"token={token}&token={token}"
        sent["content_type"] = "application/x-www-form-urlencoded"
    elif case == "unknown-hint":
        sent["data"] = form(token, token_type_hint="id_token")
    elif case == "query":
        sent["query_string"] = {"x": "1"}
    elif case == "json":
        sent["data"] = None
        sent["json"] = form(token)
    elif case == "large":
        sent["data"] = {**form(token), "padding": "x" * 1100}

    response = from_flask(app, api, **sent)

    assert response.status_code == status, response.get_json()
    if active is not None:
        assert response.get_json()["active"] is active


def test_a_request_with_a_cookie_goes_to_flask(
        app: Flask, api: FlaskClient, logged_in: Browser, platform: Platform) -> None:
    """Over WSGI itself: the test client sends its own jar's cookies, and only those."""
    token = issue_tokens(logged_in, platform)["access_token"]
    warmed(app, api, platform, token)
    environ = {**environ_of(app, platform, form(token)), "HTTP_COOKIE": "idp_session=x"}
    before = prepared(app).replayed

    answer = Response.from_app(app, environ)

    assert answer.status_code == 200 and answer.get_json()["active"]
    assert prepared(app).replayed == before


def expire(row: Token) -> None:
    row.issued_at = utcnow() - timedelta(seconds=row.expires_in + 1)


@pytest.mark.parametrize(("kind", "change"), [
    ("access_token", expire),
    ("access_token", lambda row: setattr(row, "revoked_at", utcnow())),
    ("refresh_token", lambda row: setattr(row, "refresh_used_at", utcnow())),
    ("refresh_token", lambda row: setattr(row, "refresh_token_expires_at",
                                          utcnow() - timedelta(seconds=1))),
], ids=["expired", "revoked", "spent", "lapsed"])
def test_a_token_no_longer_active_is_answered_by_flask(
        app: Flask, api: FlaskClient, logged_in: Browser, platform: Platform, kind: str,
        change: Any) -> None:
    token = issue_tokens(logged_in, platform)[kind]
    warmed(app, api, platform, token)
    direct(app, api, platform, form(token))
    change(token_row(token))
    db.session.commit()

    answer = from_flask(app, api, platform, form(token))

    assert answer.status_code == 200 and answer.get_json() == {"active": False}


def test_another_platforms_token_is_answered_by_flask_as_inactive(
        app: Flask, api: FlaskClient, logged_in: Browser, platform: Platform) -> None:
    token = issue_tokens(logged_in, platform)["access_token"]
    other = make_platform()
    warmed(app, api, platform, token)

    answer = from_flask(app, api, other, form(token))

    assert answer.status_code == 200 and answer.get_json() == {"active": False}


def test_a_withdrawal_makes_the_very_next_answer_inactive(
        app: Flask, api: FlaskClient, logged_in: Browser, platform: Platform,
        user: Traveller) -> None:
    token = issue_tokens(logged_in, platform)["access_token"]
    warmed(app, api, platform, token)
    assert direct(app, api, platform, form(token)).get_json()["active"]

    records.withdraw(user.model, platform.client_id)
    db.session.commit()

    assert from_flask(app, api, platform, form(token)).get_json() == {"active": False}


def test_a_pairwise_sub_not_known_stored_goes_to_flask(
        app: Flask, api: FlaskClient, logged_in: Browser, platform: Platform) -> None:
    token = issue_tokens(logged_in, platform)["access_token"]
    warmed(app, api, platform, token)
    sub = direct(app, api, platform, form(token)).get_json()["sub"]
    db.session.execute(sa.delete(PairwiseSubject))
    db.session.commit()
    app.extensions["idp.subjects"].clear()  # as a fresh process knows nothing

    assert from_flask(app, api, platform, form(token)).get_json()["sub"] == sub
    assert from_flask(app, api, platform, form(token)).get_json()["sub"] == sub
    assert direct(app, api, platform, form(token)).get_json()["sub"] == sub
