"""The HTTP servers the bench compares (issue 13, part 2b), each run twice with the same
worker settings: the provider's production command, and the floor (tests/bench/hello.py,
a bare Flask app) that the provider's figures are divided by.

    gunicorn-sync      gunicorn -c python:idp.gunicorn_conf, IDP_WORKER_CLASS=sync
    gunicorn-gthread   the same with gthread workers (keep-alive, IDP_THREADS threads)
    granian            granian's WSGI interface, IDP_THREADS blocking threads a worker"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import requests
import sqlalchemy as sa

from tests.servers import BIN, ROOT, START_DEADLINE, Server, free_port

SERVERS = ("gunicorn-sync", "gunicorn-gthread", "granian")


def gunicorn_floor(worker_class: str, args: argparse.Namespace, port: int) -> list[str]:
    """The worker class, workers, threads and keep-alive idp.gunicorn_conf gives."""
    return [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--worker-class",
            worker_class, "--workers", str(args.workers), "--threads", str(args.threads),
            "--keep-alive", "5", "tests.bench.hello:app"]


def granian(target: str, args: argparse.Namespace, port: int) -> list[str]:
    return [str(BIN / "granian"), "--interface", "wsgi", "--host", "127.0.0.1", "--port",
            str(port), "--workers", str(args.workers), "--blocking-threads",
            str(args.threads), "--no-ws", "--http", "1", "--log-level", "warning",
            "--no-access-log", "--workers-kill-timeout", "5", target]


def provider_argv(server: str, args: argparse.Namespace, port: int) -> list[str]:
    if server == "granian":
        return granian("idp.wsgi:app", args, port)
    return [str(BIN / "gunicorn"), "-c", "python:idp.gunicorn_conf", "idp.wsgi:app"]


def floor_argv(server: str, args: argparse.Namespace, port: int) -> list[str]:
    if server == "granian":
        return granian("tests.bench.hello:app", args, port)
    return gunicorn_floor(server.removeprefix("gunicorn-"), args, port)


def spawn(argv: list[str], environ: dict[str, str], log: Path, port: int) -> Server:
    with log.open("wb") as out:
        process = subprocess.Popen(argv, env=environ, cwd=ROOT, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    return Server(process, f"http://127.0.0.1:{port}", log)


def stop(running: Server) -> None:
    """SIGTERM, then whatever is left of the server's session killed: a granian worker
    can outlive its main process, and a gunicorn master killed after its grace period
    leaves its workers."""
    running.stop()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(running.process.pid, signal.SIGKILL)


def wait_answering(running: Server, path: str, what: str) -> Server:
    """Poll ``path`` until it answers 200; on a deadline, an exit or any failure, stop
    the server (started in a session of its own, nothing else would) and say why."""
    deadline = time.monotonic() + START_DEADLINE
    try:
        while time.monotonic() < deadline and running.process.poll() is None:
            try:
                if requests.get(f"{running.url}{path}", timeout=2).status_code == 200:
                    return running
            except requests.RequestException:  # not listening yet, or too busy to answer
                pass
            time.sleep(0.1)
    except BaseException:
        stop(running)
        raise
    stop(running)
    raise SystemExit(f"{what} did not start:\n{running.output[-3000:]}")


def start_provider(server: str, args: argparse.Namespace, environ: dict[str, str],
                   logs: Path, port: int) -> Server:
    """The production command under ``server``, bound to the port its issuer names."""
    environ = {**environ, "IDP_WORKER_CLASS": server.removeprefix("gunicorn-")}
    log = logs / f"provider-{server}.log"
    return wait_answering(spawn(provider_argv(server, args, port), environ, log, port),
                          "/healthz", f"the provider ({server})")


def start_floor(server: str, args: argparse.Namespace, logs: Path) -> Server:
    port = free_port()
    database = sa.make_url(args.database_url).set(drivername="postgresql")
    environ = {**os.environ, "PYTHONPATH": str(ROOT),
               "BENCH_FLOOR_DATABASE": database.render_as_string(hide_password=False)}
    running = spawn(floor_argv(server, args, port), environ, logs / f"floor-{server}.log",
                    port)
    return wait_answering(running, "/hello", f"the floor server ({server})")
