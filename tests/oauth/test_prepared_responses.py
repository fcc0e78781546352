"""Discovery and JWKS replayed from the bytes Flask last answered (idp.prepared, issue
13 part 5): the same answer as Flask's, only for the requests Flask would answer the same
way, counted and logged like Flask's, and never a JWKS older than the key store's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from werkzeug.test import EnvironBuilder, TestResponse
from werkzeug.wrappers import Response

from idp import create_app
from idp import prepared as prepared_module
from idp.access_log import ROUTE
from idp.extensions import db
from idp.prepared import PreparedResponses
from tests.conftest import TEST_CONFIG
from tests.conftest import test_settings as settings_for
from tests.instances import kept_keys  # noqa: F401  (a fixture)
from tests.live import LiveServer, live_server  # noqa: F401  (a fixture)
from tests.test_metrics import app, scrape  # noqa: F401  (its app has a metrics token)

DISCOVERY = "/.well-known/openid-configuration"
JWKS = "/jwks.json"
PATHS = pytest.mark.parametrize("path", [DISCOVERY, JWKS])
PER_ANSWER = {"date", "x-request-id"}  # written for each answer, by design


def prepared(app: Flask) -> PreparedResponses:
    kept: PreparedResponses = app.extensions["idp.prepared"]
    return kept


def replayed(app: Flask, client: FlaskClient, path: str, **options: Any) -> TestResponse:
    """GET ``path``; fails unless the answer came from the kept bytes."""
    before = prepared(app).replayed
    response = client.get(path, **options)
    assert prepared(app).replayed == before + 1, f"{path} went to Flask"
    return response


def from_flask(app: Flask, client: FlaskClient, method: str, path: str,
               **options: Any) -> TestResponse:
    before = prepared(app).replayed
    response = client.open(path, method=method, **options)
    assert prepared(app).replayed == before, f"{method} {path} was replayed"
    return response


def fixed_headers(response: TestResponse) -> list[tuple[str, str]]:
    return [(k, v) for k, v in response.headers.items() if k.lower() not in PER_ANSWER]


@PATHS
def test_the_replay_is_flasks_answer_byte_for_byte(app: Flask, client: FlaskClient,
                                                   path: str) -> None:
    first = from_flask(app, client, "GET", path)
    again = replayed(app, client, path)

    assert (again.status, again.data) == (first.status, first.data)
    assert first.status_code == 200 and json.loads(again.data)
    assert fixed_headers(again) == fixed_headers(first)
    assert again.headers["ETag"] and again.headers["Access-Control-Allow-Origin"] == "*"
    assert again.headers["Date"] and again.headers["X-Request-ID"]
    assert again.headers["X-Request-ID"] != first.headers["X-Request-ID"]


@PATHS
@pytest.mark.parametrize(("method", "options", "status"), [
    ("HEAD", {}, 200),
    ("POST", {}, 405),
    ("GET", {"query_string": {"x": "1"}}, 200),
    ("GET", {"query_string": {"x": "\x00"}}, 400),  # the guard's refusal
    ("GET", {"headers": {"If-Modified-Since": "Sun, 06 Nov 1994 08:49:37 GMT"}}, 200),
    ("GET", {"headers": {"Range": "bytes=0-9"}}, 200),  # no ranges served
    ("GET", {"headers": {"Host": "attacker.example"}}, 400),
    ("GET", {"headers": {"Authorization": "Bearer \x00"}}, 400),
    ("GET", {"data": "a=b", "content_type": "application/x-www-form-urlencoded"}, 200),
], ids=["head", "post", "query", "nul", "since", "range", "host", "authorization", "body"])
def test_what_flask_answers_otherwise_goes_to_flask(
        app: Flask, client: FlaskClient, path: str, method: str, options: dict[str, Any],
        status: int) -> None:
    from_flask(app, client, "GET", path)
    replayed(app, client, path)  # kept from here on

    response = from_flask(app, client, method, path, **options)

    assert response.status_code == status
    if status == 400:
        assert response.json is not None and response.json["error"] == "invalid_request"


@PATHS
def test_a_request_with_a_cookie_goes_to_flask(app: Flask, client: FlaskClient,
                                               path: str) -> None:
    """Over WSGI itself: the test client keeps cookies in its own jar."""
    from_flask(app, client, "GET", path)
    replayed(app, client, path)
    environ = EnvironBuilder(path=path, base_url="https://idp.test",
                             headers={"Cookie": "idp_session=somebody"}).get_environ()
    before = prepared(app).replayed

    status = call(app, environ)

    assert status.startswith("200") and prepared(app).replayed == before


def call(app: Flask, environ: dict[str, Any]) -> str:
    """The app called as a WSGI server calls it; the answer's status."""
    answer: list[str] = []
    b"".join(app(environ, lambda status, headers, exc_info=None: answer.append(status)))
    return answer[0]


@PATHS
def test_a_known_etag_gets_flasks_304(app: Flask, client: FlaskClient, path: str) -> None:
    etag = from_flask(app, client, "GET", path).headers["ETag"]
    replayed(app, client, path)

    response = from_flask(app, client, "GET", path, headers={"If-None-Match": etag})

    assert response.status_code == 304 and response.data == b""


@PATHS
def test_a_host_flask_accepted_is_the_only_one_replayed(app: Flask, client: FlaskClient,
                                                        path: str) -> None:
    """The kept answer belongs to the Host (and scheme) Flask gave it for: another
    spelling of a host goes to Flask's own check first."""
    from_flask(app, client, "GET", path)
    replayed(app, client, path)

    refused = from_flask(app, client, "GET", path, headers={"Host": "idp.test.evil"})
    assert refused.status_code == 400
    other_scheme = from_flask(app, client, "GET", path, base_url="http://idp.test")
    assert other_scheme.status_code == 200


@PATHS
def test_replays_are_counted_and_logged_by_their_route(app: Flask, client: FlaskClient,
                                                       path: str) -> None:
    endpoint = "endpoints.discovery" if path == DISCOVERY else "endpoints.jwks"
    from_flask(app, client, "GET", path)
    before = scrape(client)

    routes = [route_of_replay(app, path) for _ in range(3)]

    after = scrape(client)
    labels = {"endpoint": endpoint, "method": "GET", "status": "200"}
    assert after.value("idp_http_requests_total", **labels) \
        - before.value("idp_http_requests_total", **labels) == 3
    assert after.value("idp_http_request_duration_seconds_count", endpoint=endpoint) \
        - before.value("idp_http_request_duration_seconds_count", endpoint=endpoint) == 3
    assert routes == [path] * 3  # what the access log prints instead of the path


def route_of_replay(app: Flask, path: str) -> str:
    """The route a replay leaves for gunicorn's access log, in the request's environ."""
    environ = EnvironBuilder(path=path, base_url="https://idp.test").get_environ()
    before = prepared(app).replayed
    assert call(app, environ).startswith("200") and prepared(app).replayed == before + 1
    return str(environ[ROUTE])


def test_a_rotation_here_is_published_on_the_next_request(
        app: Flask, client: FlaskClient, runner: FlaskCliRunner,
        kept_keys: None) -> None:  # noqa: F811
    before = from_flask(app, client, "GET", JWKS)
    replayed(app, client, JWKS)

    result = runner.invoke(args=["keys", "rotate", "--alg", "ES256", "--publish-delay", "60",
                                 "--json"])
    assert result.exit_code == 0, result.output
    new_kid = json.loads(result.stdout)["kid"]

    after = from_flask(app, client, "GET", JWKS)
    assert after.headers["ETag"] != before.headers["ETag"]
    assert new_kid in {key["kid"] for key in after.json["keys"]}  # type: ignore[index]
    assert replayed(app, client, JWKS).data == after.data


@pytest.fixture
def two_instances(database_url: str,
                  kept_keys: None) -> Iterator[tuple[Flask, Flask]]:  # noqa: F811
    """Two processes on one database: the first trusts its key cache for 30 years (so
    only ``invalidate`` makes it look again), the second never does."""
    apps = (create_app(settings=settings_for(database_url, key_recheck_seconds=10**9),
                       config=TEST_CONFIG),
            create_app(settings=settings_for(database_url, key_recheck_seconds=0),
                       config=TEST_CONFIG))
    yield apps
    for each in apps:
        with each.app_context():
            db.session.remove()
            db.engine.dispose()


def test_another_instances_rotation_is_replayed_no_longer_than_the_cache_is_trusted(
        two_instances: tuple[Flask, Flask]) -> None:
    """The kept JWKS lives exactly as long as the key store's own cache: an instance
    that rechecks at every use never replays it; one that trusts its cache replays it
    until the cache is invalidated, then publishes the other instance's new key."""
    hourly, eager = two_instances
    hourly_client, eager_client = hourly.test_client(), eager.test_client()
    from_flask(hourly, hourly_client, "GET", JWKS)
    from_flask(eager, eager_client, "GET", JWKS)
    replayed(hourly, hourly_client, JWKS)
    from_flask(eager, eager_client, "GET", JWKS)  # its cache is never fresh

    result = eager.test_cli_runner().invoke(args=["keys", "rotate", "--alg", "RS256",
                                                  "--publish-delay", "60", "--json"])
    assert result.exit_code == 0, result.output
    new_kid = json.loads(result.stdout)["kid"]
    assert new_kid in kids(from_flask(eager, eager_client, "GET", JWKS))
    assert new_kid not in kids(replayed(hourly, hourly_client, JWKS))  # as its cache

    hourly.extensions["idp.keys"].invalidate()  # what its next recheck does
    assert new_kid in kids(from_flask(hourly, hourly_client, "GET", JWKS))


def kids(response: TestResponse) -> set[str]:
    return {key["kid"] for key in json.loads(response.data)["keys"]}


def test_over_http_the_replay_matches_flask(live_server: LiveServer) -> None:
    import requests

    with requests.Session() as http:
        answers = [http.get(f"{live_server.url}{DISCOVERY}", timeout=5) for _ in range(3)]
    assert prepared(live_server.app).replayed >= 2
    first, *rest = answers
    for again in rest:
        assert (again.status_code, again.content) == (200, first.content)
        assert [(k, v) for k, v in again.headers.items() if k.lower() not in PER_ANSWER] \
            == [(k, v) for k, v in first.headers.items() if k.lower() not in PER_ANSWER]


@pytest.mark.parametrize("header", ["Set-Cookie", "Vary"])
def test_an_answer_that_sets_a_cookie_or_varies_is_never_kept(header: str) -> None:
    """A view that offers its answer but sets a cookie (or says it varies by request):
    every request goes to Flask, so nobody receives somebody else's cookie."""
    app = Flask(__name__)
    kept = prepared_module.install(app)
    served = iter(range(1000))

    @app.get("/document")
    def document() -> Response:
        prepared_module.offer("one version")
        response = Response(b"{}", mimetype="application/json")
        response.headers[header] = f"session={next(served)}" if header == "Set-Cookie" \
            else "Accept-Language"
        return response

    prepared_module.serve(app, "document", lambda: "one version")
    client = app.test_client()
    answers = [client.get("/document").headers[header] for _ in range(3)]

    assert kept.replayed == 0 and kept.kept == {}
    if header == "Set-Cookie":
        assert answers == ["session=0", "session=1", "session=2"]
