"""The entrypoint's ``serve`` role, as the container runs it: the migrations, then the
production command (gunicorn with idp/gunicorn_conf.py) in its place (``exec``), secrets
read from files; the image's HEALTHCHECK script against it; a clean stop on SIGTERM."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from tests.docker.processes import DOCKER, container_environ, entrypoint, wait_until_healthy
from tests.servers import Server, free_port, launch

# IDP_GRACEFUL_TIMEOUT in tests/servers.py: long enough that a loaded machine's slow but
# clean stop (5.3 s seen) is told apart from workers killed when it runs out.
GRACEFUL = 10


@pytest.fixture
def served(fresh_postgres: str, tmp_path: Path) -> Iterator[tuple[Server, dict[str, str]]]:
    """``entrypoint.sh serve`` on an empty database, the issuer ``http://localhost:PORT``:
    a host name that the health check must send for the trusted-host check to pass."""
    port = free_port()
    environ = container_environ(fresh_postgres, port, tmp_path / "secrets",
                                IDP_ISSUER=f"http://localhost:{port}")
    server = launch(environ, tmp_path / "serve.log", entrypoint("serve"))
    try:
        wait_until_healthy(server, {"Host": f"localhost:{port}"})
        yield server, environ
    finally:
        server.stop()


def test_serve_migrates_then_answers_health_and_readiness(
        served: tuple[Server, dict[str, str]], fresh_postgres: str) -> None:
    server, environ = served
    host = {"Host": f"localhost:{environ['IDP_BIND'].rsplit(':', 1)[1]}"}

    health = requests.get(f"{server.url}/healthz", headers=host, timeout=5)
    ready = requests.get(f"{server.url}/readyz", headers=host, timeout=5)

    assert (health.status_code, ready.status_code) == (200, 200), ready.text
    assert ready.json()["checks"] == {"database": "ok", "migrations": "ok", "signing_key": "ok",
                                      "redis": "ok"}
    engine = sa.create_engine(fresh_postgres)
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM alembic_version")) == 1
    engine.dispose()


def test_the_entrypoint_hands_its_process_to_gunicorn(
        served: tuple[Server, dict[str, str]]) -> None:
    """``exec``: the process the container engine signals is gunicorn's master itself."""
    server, _ = served
    command = Path(f"/proc/{server.process.pid}/cmdline").read_bytes().split(b"\0")

    assert any(part.endswith(b"gunicorn") for part in command), command


def test_sigterm_stops_it_cleanly_within_the_graceful_timeout(
        served: tuple[Server, dict[str, str]]) -> None:
    server, _ = served
    began = time.monotonic()

    assert server.stop(timeout=GRACEFUL + 5) == 0
    assert time.monotonic() - began < GRACEFUL
    assert "Traceback" not in server.output
    assert "Shutting down: Master" in server.output


def healthcheck(environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The script the image's HEALTHCHECK runs, with the container's environment."""
    return subprocess.run([sys.executable, str(DOCKER / "healthcheck.py")], env=environ,
                          capture_output=True, text=True, timeout=30, check=False)


def test_the_image_healthcheck_passes_the_trusted_host_check(
        served: tuple[Server, dict[str, str]]) -> None:
    server, environ = served
    # The issuer's host is required: the same request by address is refused.
    by_address = requests.get(f"{server.url}/healthz", timeout=5)
    assert by_address.status_code == 400

    assert healthcheck(environ).returncode == 0
    issuer_file = Path(environ["IDP_SECRET_KEY_FILE"]).with_name("issuer")
    issuer_file.write_text(environ["IDP_ISSUER"] + "\n")
    from_file = {k: v for k, v in environ.items() if k != "IDP_ISSUER"}
    assert healthcheck(from_file | {"IDP_ISSUER_FILE": str(issuer_file)}).returncode == 0


def test_the_image_healthcheck_fails_when_nothing_answers(tmp_path: Path) -> None:
    environ = {"IDP_BIND": f"0.0.0.0:{free_port()}", "IDP_ISSUER": "https://id.example"}

    failed = healthcheck(environ)

    assert failed.returncode == 1
    assert "unreachable" in failed.stderr
