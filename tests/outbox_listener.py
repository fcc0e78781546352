"""A platform's back-channel logout endpoint on a loopback port that counts what it
receives, per path: each message of a test is sent to a path of its own."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Deliveries:
    def __init__(self) -> None:
        self.paths: Counter[str] = Counter()
        self.lock = threading.Lock()

    def total(self) -> int:
        with self.lock:
            return sum(self.paths.values())


@contextmanager
def listener() -> Iterator[tuple[str, Deliveries]]:
    """Yield the listener's base URL and what it has received so far."""
    deliveries = Deliveries()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            if b"logout_token=" in body:
                with deliveries.lock:
                    deliveries.paths[self.path] += 1
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", deliveries
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
