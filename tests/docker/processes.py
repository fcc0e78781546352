"""What the container tests start: the entrypoint as a real process, with the ``idp`` and
``gunicorn`` commands of this interpreter's virtualenv and this checkout's code, in
production mode with its secrets given as files (``IDP_*_FILE``), as compose mounts them."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import requests
import sqlalchemy as sa

from tests import servers
from tests.conftest import POSTGRES_URL

ROOT = servers.ROOT
DOCKER = ROOT / "docker"
ENTRYPOINT = DOCKER / "entrypoint.sh"
SECRETS = ("IDP_SECRET_KEY", "IDP_KEY_ENCRYPTION_KEY")


def scratch_url() -> str:
    """A database of its own, emptied by each test: migrations start from nothing there
    (the suite's database is migrated once per session). IDP_TEST_POSTGRES_SCRATCH_URL,
    else the suite's database name with ``_scratch`` appended."""
    configured = os.environ.get("IDP_TEST_POSTGRES_SCRATCH_URL")
    if configured:
        return configured
    url = sa.make_url(POSTGRES_URL)
    return url.set(database=f"{url.database}_scratch").render_as_string(hide_password=False)


def container_environ(database_url: str, port: int, secrets: Path,
                      **extra: str) -> dict[str, str]:
    """The production command's environment (tests/servers.py) with its secrets moved
    into files under ``secrets``, named by ``*_FILE`` variables."""
    environ = servers.production_environ(database_url, port, **extra)
    secrets.mkdir(exist_ok=True)
    for name in SECRETS:
        path = secrets / name.lower()
        path.write_text(environ.pop(name) + "\n")
        path.chmod(0o400)
        environ[f"{name}_FILE"] = str(path)
    return environ


def entrypoint(role: str, *args: str) -> list[str]:
    """The entrypoint run by ``/bin/sh``, as the image's ENTRYPOINT runs it."""
    return ["/bin/sh", str(ENTRYPOINT), role, *args]


def run(role: str, environ: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    """Start a role that ends by itself (migrate, a command); output on ``stdout``."""
    return subprocess.Popen(entrypoint(role), env=environ, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def wait_until_healthy(server: servers.Server, headers: dict[str, str]) -> None:
    """Poll ``/healthz`` until a 200, with a deadline (the migrations run first)."""
    deadline = time.monotonic() + servers.START_DEADLINE
    while server.process.poll() is None and time.monotonic() < deadline:
        try:
            if requests.get(f"{server.url}/healthz", headers=headers, timeout=1).ok:
                return
        except (requests.ConnectionError, requests.Timeout):  # not up yet, or too busy
            pass
        time.sleep(0.1)
    server.stop()
    raise AssertionError(f"serve did not become healthy:\n{server.output}")
