"""The production command as real processes: ``gunicorn -c python:idp.gunicorn_conf
idp.wsgi:app`` with ``IDP_ENV=production`` on a loopback port, the issuer an http loopback
address (IDP_ALLOW_HTTP_LOOPBACK_ISSUER), on the test database and the local Redis.

Tests that need several instances start several; each writes its output to a file that
the test can read once the process has stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import requests

from tests.conftest import KEK, SECRET_KEY, XDIST_WORKER

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def worker_redis_url(configured: str, worker: str) -> str:
    """The Redis database of this pytest-xdist worker (gwN): the Nth of the URLs given
    (separated by spaces), else the configured database's number plus N."""
    urls = configured.split()
    number = int(worker.removeprefix("gw") or 0)
    if number < len(urls):
        return urls[number]
    url = urlsplit(urls[0])
    return url._replace(path=f"/{int(url.path.strip('/') or 0) + number}").geturl()


REDIS_URL = worker_redis_url(
    os.environ.get("IDP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"), XDIST_WORKER)
START_DEADLINE = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def production_environ(database_url: str, port: int, **extra: str) -> dict[str, str]:
    """The environment an operator would give, with this test bench's addresses."""
    environ = {key: value for key, value in os.environ.items() if not key.startswith("IDP_")}
    environ.update({
        "PATH": f"{BIN}{os.pathsep}{environ.get('PATH', '')}",
        "PYTHONPATH": str(ROOT),
        "IDP_ENV": "production",
        "IDP_ISSUER": f"http://127.0.0.1:{port}",
        "IDP_ALLOW_HTTP_LOOPBACK_ISSUER": "1",
        "IDP_BIND": f"127.0.0.1:{port}",
        "IDP_DATABASE_URL": database_url,
        "IDP_REDIS_URL": REDIS_URL,
        "IDP_SMTP_URL": "smtp://127.0.0.1:1",
        "IDP_SECRET_KEY": SECRET_KEY,
        "IDP_KEY_ENCRYPTION_KEY": KEK,
        "IDP_WORKERS": "2",
        "IDP_THREADS": "2",
        "IDP_GRACEFUL_TIMEOUT": "10",
        # A complete operator's configuration has a way to reach a human (issue 12).
        "IDP_OPERATOR_NAME": "Mobilité solidaire du Test",
        "IDP_HELP_PHONE": "+33 1 99 00 12 34",
        "IDP_HELP_EMAIL": "aide@mobilite.example",
    })
    environ.update(extra)
    return environ


@dataclass
class Server:
    """One running instance; ``output`` holds its stdout and stderr once stopped."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path
    output: str = field(default="")

    def stop(self, timeout: float = 15.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.output = self.log.read_text(errors="replace")
        return self.process.returncode


def command() -> list[str]:
    return [str(BIN / "gunicorn"), "-c", "python:idp.gunicorn_conf", "idp.wsgi:app"]


def launch(environ: dict[str, str], log: Path, argv: list[str] | None = None) -> Server:
    """Start the production command (or ``argv``) without waiting for it. Its metrics go
    to a directory beside its log unless the test names one (an empty name: the one
    gunicorn makes in /dev/shm, which only test_metrics_multiprocess watches)."""
    port = environ["IDP_BIND"].rsplit(":", 1)[1]
    if "PROMETHEUS_MULTIPROC_DIR" not in environ:
        metrics = log.with_name(f"{log.stem}-metrics")
        metrics.mkdir(mode=0o700, exist_ok=True)
        environ = {**environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics)}
    with log.open("wb") as out:
        process = subprocess.Popen(argv or command(), env=environ, cwd=ROOT, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    return Server(process, f"http://127.0.0.1:{port}", log)


def start(environ: dict[str, str], log: Path, argv: list[str] | None = None) -> Server:
    """Start it and wait until it answers ``/healthz`` (a deadline, not a sleep)."""
    return wait_ready(launch(environ, log, argv))


def wait_ready(server: Server) -> Server:
    """Wait until a launched server answers ``/healthz``; stop it and fail if it exits
    or stays silent past the deadline. Several launched together start side by side."""
    deadline = time.monotonic() + START_DEADLINE
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            server.stop()
            raise AssertionError(f"the server exited at start:\n{server.output}")
        try:
            if requests.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                return server
        except (requests.ConnectionError, requests.Timeout):
            # Not listening yet, or a worker still busy starting on a loaded machine
            # (seen: a 1 s read timeout failed the run): ask again until the deadline.
            pass
        time.sleep(0.1)
    server.stop()
    raise AssertionError(f"the server did not answer within {START_DEADLINE} s:\n{server.output}")
