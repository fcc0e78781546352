"""A platform's web server on 127.0.0.1, as the provider's outbound requests meet it: it
counts every connection made to it (so a test can prove that none was), and answers
each request with a status and a body, after a delay when the test wants a slow one."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from flask import Flask


class CountingServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a slow answer still sleeping must not hold the test's end
    connections = 0

    def process_request(self, request: Any, client_address: Any) -> None:
        self.connections += 1
        super().process_request(request, client_address)


class PlatformServer:
    """What the platform serves: ``status``, ``body`` (bytes, or JSON for anything else),
    extra ``headers``, after ``delay`` seconds."""

    def __init__(self, status: int = 200, body: Any = b"", delay: float = 0.0,
                 headers: dict[str, str] | None = None) -> None:
        self.status, self.body, self.delay = status, body, delay
        self.headers = headers or {}
        self.arrived = threading.Event()  # set at the first request: a fetch is in flight
        self.server = CountingServer(("127.0.0.1", 0), handler_for(self))
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def connections(self) -> int:
        return self.server.connections

    def url(self, path: str = "/doc", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def payload(self) -> bytes:
        return self.body if isinstance(self.body, bytes) else json.dumps(self.body).encode()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def handler_for(owner: PlatformServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def answer(self) -> None:
            owner.arrived.set()
            if owner.delay:
                time.sleep(owner.delay)  # the fake remote is slow, not the test
            body = owner.payload()
            try:
                self.send_response(owner.status)
                for name, value in owner.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:  # the provider gave up waiting and closed the connection
                pass

        do_GET = do_POST = answer  # noqa: N815 (http.server's names)

        def log_message(self, *args: Any) -> None:
            return None

    return Handler


@pytest.fixture
def platform_server() -> Iterator[Callable[..., PlatformServer]]:
    """Start platform servers: ``platform_server(status=..., body=..., delay=...)``."""
    started: list[PlatformServer] = []

    def start(**options: Any) -> PlatformServer:
        server = PlatformServer(**options)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


def closed_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def no_loopback(app: Flask) -> Iterator[Flask]:
    """The production policy for outbound requests in a test app: loopback refused too,
    so that a local listener stands for an internal service."""
    settings = app.extensions["idp.settings"]
    app.extensions["idp.settings"] = replace(settings, outbound_allow_loopback=False)
    yield app
    app.extensions["idp.settings"] = settings
