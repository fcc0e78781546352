"""Metrics on a port of their own (IDP_METRICS_BIND), for a scraper that reaches each
instance by its address: the production command's master serves its workers' sums, and
the outbox worker (``idp outbox work --metrics-bind``) its back-channel deliveries, which
happen in its process, not the web server's. Both behind the same token."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from flask import Flask

from idp import outbox
from idp.extensions import db
from idp.oauth.backchannel import KIND, create_logout_token
from tests import factories
from tests.outbox_listener import Deliveries, listener
from tests.servers import BIN, ROOT, free_port, launch, production_environ, start

TOKEN = "worker-scraper-token-0123456789abcdef"
DEADLINE = 30.0


def worker_environ(database_url: str, **extra: str) -> dict[str, str]:
    """An operator's environment; development, because the platform here is on loopback
    (production never posts to loopback addresses)."""
    environ = production_environ(database_url, 0, IDP_ENV="development",
                                 IDP_METRICS_TOKEN=TOKEN, PYTHONUNBUFFERED="1", **extra)
    environ.pop("IDP_BIND")
    return environ


def until(condition: object, message: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, message
        time.sleep(0.05)


@pytest.fixture
def delivered(app: Flask) -> Iterator[tuple[str, Deliveries]]:
    with listener() as (base, deliveries):
        traveller, platform = factories.make_user(), factories.make_platform()
        token = create_logout_token(traveller.model, platform.model)
        for n in range(2):
            outbox.queue(KIND, platform.client_id, f"{base}/logout/{n}", token,
                         subject=traveller.model.subject, reason="logout")
        db.session.commit()
        yield base, deliveries


def test_the_worker_serves_its_delivery_counts_to_the_scraper(
        database_url: str, delivered: tuple[str, Deliveries], tmp_path: Path) -> None:
    port, log = free_port(), tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [str(BIN / "idp"), "outbox", "work", "--interval", "0.1",
             "--metrics-bind", f"127.0.0.1:{port}"], env=worker_environ(database_url),
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        until(lambda: delivered[1].total() == 2, "the worker delivered nothing")
        until(lambda: 'idp_backchannel_attempts_total{outcome="delivered"} 2.0'
              in requests.get(url, timeout=5, headers={"Authorization": f"Bearer {TOKEN}"}
                              ).text, "the delivery count never reached 2")
        anonymous = requests.get(url, timeout=5)
        wrong = requests.get(url, timeout=5, headers={"Authorization": "Bearer nope"})
        elsewhere = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
    finally:
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(15)

    assert (anonymous.status_code, wrong.status_code, elsewhere.status_code) == (401, 401, 404)
    assert 'error="invalid_token"' in wrong.headers["WWW-Authenticate"]
    assert code == 0
    output = log.read_text()
    assert f"metrics at http://127.0.0.1:{port}/metrics" in output
    assert TOKEN not in output and "Traceback" not in output


@pytest.mark.parametrize(("bind", "extra", "says"), [
    ("9102", {}, "expected HOST:PORT"),
    ("127.0.0.1:99999", {}, "expected HOST:PORT"),
    ("127.0.0.1:{port}", {"IDP_METRICS_TOKEN": ""}, "needs IDP_METRICS_TOKEN"),
])
def test_a_wrong_metrics_port_stops_the_worker_saying_why(
        database_url: str, bind: str, extra: dict[str, str], says: str) -> None:
    environ = {**worker_environ(database_url), **extra}
    if not extra.get("IDP_METRICS_TOKEN", TOKEN):
        environ.pop("IDP_METRICS_TOKEN")

    done = subprocess.run(
        [str(BIN / "idp"), "outbox", "work", "--metrics-bind", bind.format(port=free_port())],
        env=environ, cwd=ROOT, capture_output=True, text=True, timeout=60)

    assert done.returncode == 2
    assert says in done.stderr
    assert "Traceback" not in done.stderr


def test_a_metrics_port_in_use_stops_the_worker_saying_so(database_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        bind = f"127.0.0.1:{taken.getsockname()[1]}"
        done = subprocess.run([str(BIN / "idp"), "outbox", "work", "--metrics-bind", bind],
                              env=worker_environ(database_url), cwd=ROOT,
                              capture_output=True, text=True, timeout=60)

    assert done.returncode == 2
    assert f"cannot listen on {bind}" in done.stderr


def test_the_production_command_serves_every_workers_counts_on_the_metrics_port(
        database_url: str, tmp_path: Path) -> None:
    port, metrics_port = free_port(), free_port()
    environ = production_environ(database_url, port, IDP_METRICS_TOKEN=TOKEN,
                                 IDP_METRICS_BIND=f"127.0.0.1:{metrics_port}")
    server = start(environ, tmp_path / "gunicorn.log")
    try:
        for _ in range(12):
            requests.get(f"{server.url}/userinfo", timeout=5)
        # Scraped by address, as DNS discovery does: any Host is fine on this port.
        scraped = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5,
                               headers={"Authorization": f"Bearer {TOKEN}",
                                        "Host": f"10.0.0.7:{metrics_port}"})
        anonymous = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5)
    finally:
        server.stop()

    line = 'idp_http_requests_total{endpoint="endpoints.userinfo",method="GET",status="401"} 12.0'
    assert line in scraped.text
    assert anonymous.status_code == 401
    assert server.process.returncode == 0


def test_a_metrics_port_without_a_token_stops_the_production_command(
        database_url: str, tmp_path: Path) -> None:
    environ = production_environ(database_url, free_port(),
                                 IDP_METRICS_BIND=f"127.0.0.1:{free_port()}")

    server = launch(environ, tmp_path / "gunicorn.log")
    server.process.wait(30)
    server.stop()

    assert server.process.returncode != 0
    assert "IDP_METRICS_BIND needs IDP_METRICS_TOKEN" in server.output
