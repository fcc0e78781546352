"""The production command itself (gunicorn with idp.gunicorn_conf) on this machine: it
starts, serves, keeps secrets out of its access log and stops cleanly."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.servers import Server, free_port, launch, production_environ, start

SECRETS = ("S3cretResetT0ken", "S3cretQueryValue", "S3cretHintValue", "S3cretMistyped",
           "S3cretReferrer")


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    port = free_port()
    # Text lines, as an operator reads them; tests/test_logs_story.py reads the JSON ones.
    environ = production_environ(database_url, port, IDP_LOG_FORMAT="text")
    running = start(environ, tmp_path / "gunicorn.log")
    yield running
    running.stop()


def test_the_production_command_serves_an_http_loopback_issuer(server: Server) -> None:
    discovery = requests.get(f"{server.url}/.well-known/openid-configuration", timeout=5)
    ready = requests.get(f"{server.url}/readyz", timeout=5)

    assert discovery.json()["issuer"] == server.url
    assert ready.status_code == 200, ready.text
    assert server.stop() == 0  # SIGTERM: a clean, graceful stop


def test_the_access_log_names_routes_never_paths_queries_or_addresses(server: Server) -> None:
    hint = SECRETS[2]
    requests.get(f"{server.url}/password/reset/{SECRETS[0]}?next={SECRETS[1]}", timeout=5)
    requests.get(f"{server.url}/logout?id_token_hint={hint}&state={SECRETS[1]}", timeout=5)
    requests.get(f"{server.url}/nothing-here/{SECRETS[3]}", timeout=5,
                 headers={"Referer": f"https://rp.example/?code={SECRETS[4]}"})

    server.stop()

    access = [line for line in server.output.splitlines() if '"GET ' in line]
    assert any('"GET /password/reset/<token> HTTP/1.1"' in line for line in access), access
    assert any('"GET /logout HTTP/1.1"' in line for line in access), access
    assert any('"GET /nothing-here… HTTP/1.1" 404' in line for line in access), access
    for secret in (*SECRETS, "127.0.0.1 -"):
        assert secret not in server.output


def test_workers_serve_database_requests_side_by_side(server: Server) -> None:
    """Each worker has its own connections (post_fork): none inherits the master's."""
    def ask(_: int) -> int:
        return requests.get(f"{server.url}/userinfo", timeout=10,
                            headers={"Authorization": "Bearer not-a-token"}).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(ask, range(48)))

    assert statuses == [401] * 48
    assert server.stop() == 0
    assert "Traceback" not in server.output


@pytest.mark.parametrize(("change", "says"), [
    ({"IDP_ALLOW_HTTP_LOOPBACK_ISSUER": "0"}, "IDP_ISSUER must be an https URL"),
    ({"IDP_SECRET_KEY": ""}, "IDP_SECRET_KEY"),
    ({"IDP_WORKERS": "many"}, "IDP_WORKERS must be a whole number"),
])
def test_a_wrong_configuration_stops_it_with_one_clear_line(
        database_url: str, tmp_path: Path, change: dict[str, str], says: str) -> None:
    environ = production_environ(database_url, free_port(), **change)

    server = launch(environ, tmp_path / "gunicorn.log")
    server.process.wait(30)
    server.stop()

    assert server.process.returncode != 0
    assert says in server.output
    assert "Traceback" not in server.output
