"""Running demo platforms: each on its own port, in a thread of one process, until
Ctrl-C or SIGTERM."""

from __future__ import annotations

import signal
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from types import FrameType

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from clients.demo_platform.app import PlatformConfig, create_app


class PathOnlyRequestHandler(WSGIRequestHandler):
    """Access lines without query strings: the callback's carries a code and a state."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = self.path.split("?", 1)[0]
        self.log("info", '"%s %s" %s', self.command, path, code)


@dataclass
class RunningPlatform:
    config: PlatformConfig
    app: Flask
    server: BaseWSGIServer
    thread: threading.Thread

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def start(config: PlatformConfig, sock: socket.socket | None = None) -> RunningPlatform:
    """Serve a platform in a daemon thread; on ``sock`` if given (tests bind a free port
    first), else on the configured host and port."""
    app = create_app(config)
    server = make_server(config.host, config.port, app, threaded=True,
                         request_handler=PathOnlyRequestHandler,
                         fd=sock.fileno() if sock is not None else None)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              name=f"demo-{config.client_id}", daemon=True)
    thread.start()
    return RunningPlatform(config, app, server, thread)


def serve_until_stopped(configs: Iterable[PlatformConfig]) -> None:
    """Start every platform, then wait for Ctrl-C or SIGTERM, then stop them all."""
    stopped = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    running = [start(config) for config in configs]
    try:
        while not stopped.wait(0.5):  # short waits: the handler runs between them at worst
            pass
    finally:
        for platform in running:
            platform.stop()
