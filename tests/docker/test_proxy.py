"""docker/Caddyfile for real, where Caddy is installed: the TLS-terminating proxy in front
of the production command gives a working https issuer on localhost, and the provider
believes its X-Forwarded-Proto because IDP_TRUSTED_PROXY_ADDRESSES names it. The compose
service names and ports are swapped for this machine's; everything else is the file."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.docker.processes import DOCKER, container_environ, entrypoint, wait_until_healthy
from tests.servers import START_DEADLINE, free_port, launch

CADDY = shutil.which("caddy")
pytestmark = pytest.mark.skipif(CADDY is None, reason="Caddy is not installed")


def local_caddyfile(https_port: int, upstream_port: int) -> str:
    """The compose Caddyfile, pointed at this machine: no admin API, no port-80 redirect
    listener, the replica found at 127.0.0.1."""
    text = (DOCKER / "Caddyfile").read_text()
    text = text.replace("{\n", "{\n\tadmin off\n\tauto_https disable_redirects\n", 1)
    text = text.replace("https://localhost:8443", f"https://localhost:{https_port}")
    text = text.replace("name idp", "name 127.0.0.1")
    text = text.replace("port 8000", f"port {upstream_port}")
    if caddy_version() < (2, 7):  # Debian 12's Caddy: the older name of the same option
        text = re.sub(r"request_buffers \S+", "buffer_requests", text)
    return text


def caddy_version() -> tuple[int, ...]:
    assert CADDY is not None
    out = subprocess.run([CADDY, "version"], capture_output=True, text=True, check=True,
                         timeout=30).stdout
    found = re.match(r"v?(\d+)\.(\d+)", out)
    assert found, out
    return tuple(int(part) for part in found.groups())


@pytest.fixture
def proxied(fresh_postgres: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The entrypoint's serve role behind Caddy; the issuer and Caddy's root CA."""
    https_port, port = free_port(), free_port()
    issuer = f"https://localhost:{https_port}"
    environ = container_environ(fresh_postgres, port, tmp_path / "secrets", IDP_ISSUER=issuer,
                                IDP_TRUSTED_PROXIES="1",
                                IDP_TRUSTED_PROXY_ADDRESSES="127.0.0.1/32")
    server = launch(environ, tmp_path / "serve.log", entrypoint("serve"))
    (tmp_path / "Caddyfile").write_text(local_caddyfile(https_port, port))
    with (tmp_path / "caddy.log").open("wb") as log:
        caddy = subprocess.Popen([str(CADDY), "run", "--config", str(tmp_path / "Caddyfile")],
                                 env={"XDG_DATA_HOME": str(tmp_path), "HOME": str(tmp_path)},
                                 stdout=subprocess.DEVNULL, stderr=log)
    try:
        wait_until_healthy(server, {"Host": f"localhost:{https_port}"})
        yield issuer, wait_for_ca(tmp_path, caddy)
    finally:
        caddy.terminate()
        caddy.wait(30)
        server.stop()


def wait_for_ca(data: Path, caddy: subprocess.Popen[bytes]) -> Path:
    root = data / "caddy" / "pki" / "authorities" / "local" / "root.crt"
    deadline = time.monotonic() + START_DEADLINE
    while not root.exists():
        assert caddy.poll() is None, (data / "caddy.log").read_text()
        assert time.monotonic() < deadline, "Caddy made no local CA"
        time.sleep(0.1)
    return root


def get(url: str, ca: Path) -> requests.Response:
    """Through the proxy, trusting only Caddy's local CA (a deadline while it starts)."""
    deadline = time.monotonic() + START_DEADLINE
    while True:
        try:
            return requests.get(url, verify=str(ca), timeout=5)
        except requests.ConnectionError:
            assert time.monotonic() < deadline, f"{url} never answered"
            time.sleep(0.1)


def test_the_proxy_serves_a_working_https_issuer(proxied: tuple[str, Path]) -> None:
    issuer, ca = proxied

    health, ready = get(f"{issuer}/healthz", ca), get(f"{issuer}/readyz", ca)
    discovery = get(f"{issuer}/.well-known/openid-configuration", ca).json()

    assert (health.status_code, ready.status_code) == (200, 200), ready.text
    assert discovery["issuer"] == issuer
    assert discovery["token_endpoint"].startswith(f"{issuer}/")
    assert "Server" not in health.headers
    assert health.headers["Strict-Transport-Security"].startswith("max-age=")
