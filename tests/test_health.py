"""The database goes down: travellers get a page saying so in their language, platforms a
JSON ``temporarily_unavailable``, both a 503 with ``Retry-After``; the log gets one line
per request, without a traceback or the database's password. ``/healthz`` still answers;
``/readyz`` says which check failed."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from idp import create_app
from idp.extensions import db
from idp.health import RETRY_AFTER, is_unavailable
from idp.keys import SigningKey
from tests import conftest
from tests.browser import csrf_token
from tests.conftest import TEST_CONFIG
from tests.live import HOST, serve

PASSWORD = "hunter2-do-not-log"
REDIS_URL = "redis://127.0.0.1:6379/14"  # only pinged, never written


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port of ours where nothing listens: bound, never listening, so connections are
    refused and no other process can take it meanwhile."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        yield sock.getsockname()[1]


@pytest.fixture(params=["postgresql", "sqlite"])
def down_url(request: pytest.FixtureRequest, closed_port: int, tmp_path: Path) -> str:
    if request.param == "postgresql":
        return f"postgresql+psycopg://postgres:{PASSWORD}@{HOST}:{closed_port}/idp"
    return f"sqlite:///{tmp_path / 'missing-directory' / 'idp.sqlite3'}"


@pytest.fixture
def down(down_url: str, tmp_path: Path) -> Iterator[FlaskClient]:
    """A provider whose database cannot be reached, seen through an English browser."""
    app = create_app(settings=conftest.test_settings(down_url), config=TEST_CONFIG)
    app.instance_path = str(tmp_path)
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    yield client
    with app.app_context():
        db.engine.dispose()


def assert_unavailable(response: TestResponse, caplog: pytest.LogCaptureFixture) -> None:
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(RETRY_AFTER)
    assert response.headers["Cache-Control"] == "no-store"
    assert PASSWORD not in response.get_data(as_text=True)
    assert "Traceback" not in caplog.text and PASSWORD not in caplog.text
    assert all(record.exc_info is None for record in caplog.records)
    assert "database unavailable" in caplog.text


def test_a_traveller_gets_a_page_saying_to_come_back(down: FlaskClient,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    response = down.get("/authorize?response_type=code&client_id=carpool&scope=openid")
    assert_unavailable(response, caplog)
    assert response.mimetype == "text/html"
    assert "Please try again in a few minutes" in response.get_data(as_text=True)


def test_signing_in_while_the_database_is_down(down: FlaskClient,
                                               caplog: pytest.LogCaptureFixture) -> None:
    form = down.get("/login").get_data(as_text=True)  # the form itself needs no database
    response = down.post("/login", data={"csrf_token": csrf_token(form),
                                         "email": "umberto@example.org",
                                         "password": "a long walk to the meeting point"},
                         headers={"Referer": "https://idp.test/login"})
    assert_unavailable(response, caplog)
    assert response.mimetype == "text/html"


@pytest.mark.parametrize(("method", "path", "headers", "data"), [
    ("POST", "/token", {"Authorization": "Basic Y2FycG9vbDpzZWNyZXQ="},
     {"grant_type": "authorization_code", "code": "abc", "redirect_uri": "https://a.example/"}),
    ("GET", "/userinfo", {"Authorization": "Bearer an-access-token"}, None),
])
def test_a_platform_gets_temporarily_unavailable(
        down: FlaskClient, caplog: pytest.LogCaptureFixture, method: str, path: str,
        headers: dict[str, str], data: dict[str, str] | None) -> None:
    response = down.open(path, method=method, headers=headers, data=data)
    assert_unavailable(response, caplog)
    assert response.get_json() == {"error": "temporarily_unavailable"}


def test_readiness_names_the_failed_check_and_nothing_more(
        down: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    response = down.get("/readyz")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(RETRY_AFTER)
    assert response.get_json() == {"status": "unavailable",
                                   "checks": {"database": "unavailable"}}
    assert "Traceback" not in caplog.text and PASSWORD not in caplog.text


def test_liveness_touches_nothing(down: FlaskClient) -> None:
    response = down.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "alive"}
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers


READY = {"database": "ok", "migrations": "ok", "signing_key": "ok"}


def test_ready_when_the_database_answers(client: FlaskClient) -> None:
    for _ in range(30):  # probes are never throttled
        response = client.get("/readyz")
        assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "checks": READY}
    assert response.headers["Cache-Control"] == "no-store"


def test_not_ready_while_the_database_is_one_migration_behind(app: Flask,
                                                               client: FlaskClient) -> None:
    """A rolling deploy: the new code is up, its migration has not run yet."""
    script = ScriptDirectory(app.extensions["migrate"].directory)
    (head,) = script.get_heads()
    previous = script.get_revision(head).down_revision
    assert isinstance(previous, str)
    set_version(previous)
    try:
        response = client.get("/readyz")
    finally:
        set_version(head)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(RETRY_AFTER)
    assert response.get_json() == {"status": "unavailable",
                                   "checks": {**READY, "migrations": "not_at_head"}}
    assert client.get("/readyz").status_code == 200


def set_version(revision: str) -> None:
    with db.engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = :revision"),
                           {"revision": revision})


def test_not_ready_without_an_active_signing_key(database_url: str, client: FlaskClient,
                                                 time_machine: Any) -> None:
    """An instance starting with its clock before every key's activation: each key is
    still "next", none signs."""
    client.get("/readyz")  # the keys exist (made at first need)
    first = db.session.scalar(sa.select(sa.func.min(SigningKey.activates_at)))
    assert first is not None
    time_machine.move_to(first - timedelta(days=1), tick=False)
    starting = create_app(settings=conftest.test_settings(database_url), config=TEST_CONFIG)
    response = starting.test_client().get("/readyz")
    with starting.app_context():
        db.engine.dispose()
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable",
                                   "checks": {**READY, "signing_key": "none_active"}}


@pytest.fixture
def redis_running() -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.ConnectionError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")


def test_readiness_pings_redis_when_configured(database_url: str, tmp_path: Path,
                                                redis_running: None,
                                                closed_port: int) -> None:
    up = create_app(settings=conftest.test_settings(database_url, redis_url=REDIS_URL),
                    config=TEST_CONFIG)
    response = up.test_client().get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"] == {**READY, "redis": "ok"}

    dead = f"redis://:{PASSWORD}@{HOST}:{closed_port}/0"
    app = create_app(settings=conftest.test_settings(database_url, redis_url=dead),
                     config=TEST_CONFIG)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"] == {**READY, "redis": "unavailable"}
    for each in (up, app):
        with each.app_context():
            db.engine.dispose()


def test_refused_data_and_our_own_bugs_are_not_outages(app: Flask) -> None:
    """Only the connection-level errors become 503s: a duplicate row or a missing table
    stay what they are, so that they are seen and fixed."""
    with db.engine.connect() as connection:
        with pytest.raises(sa.exc.DBAPIError) as missing:
            connection.execute(sa.text("SELECT * FROM no_such_table"))
        assert not is_unavailable(missing.value)
        connection.rollback()
        connection.execute(sa.text("CREATE TEMPORARY TABLE pair (id INTEGER PRIMARY KEY)"))
        connection.execute(sa.text("INSERT INTO pair (id) VALUES (1)"))
        with pytest.raises(sa.exc.IntegrityError) as duplicate:
            connection.execute(sa.text("INSERT INTO pair (id) VALUES (1)"))
        assert not is_unavailable(duplicate.value)


def test_over_real_http_a_down_database_gives_503(down_url: str, tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    with socket.create_server((HOST, 0)) as sock:
        url = f"http://{HOST}:{sock.getsockname()[1]}"
        app = create_app(settings=conftest.test_settings(down_url, issuer=url))
        app.instance_path = str(tmp_path)
        server, thread = serve(app, sock)
    try:
        token = requests.post(f"{url}/token", data={"grant_type": "refresh_token",
                                                    "refresh_token": "r"},
                              auth=("carpool", "secret"), timeout=10)
        ready = requests.get(f"{url}/readyz", timeout=10)
        alive = requests.get(f"{url}/healthz", timeout=10)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert (token.status_code, token.json()) == (503, {"error": "temporarily_unavailable"})
    assert token.headers["Retry-After"] == ready.headers["Retry-After"] == str(RETRY_AFTER)
    assert ready.status_code == 503 and alive.status_code == 200
    assert "Traceback" not in caplog.text and PASSWORD not in caplog.text
