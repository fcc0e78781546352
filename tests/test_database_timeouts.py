"""A database that takes connections and never answers does not hold a request for the
system's TCP timeout (minutes): the app gives up and says so with a 503."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from idp import DATABASE_CONNECT_TIMEOUT, create_app
from tests import conftest


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A listener that accepts every connection and never sends a byte."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    listener.close()


def test_a_silent_database_gives_503_within_the_connect_timeout(silent_port: int,
                                                                tmp_path: Path) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{silent_port}/idp"
    app = create_app(settings=conftest.test_settings(url), config=conftest.TEST_CONFIG)
    app.instance_path = str(tmp_path)

    started = time.monotonic()
    response = app.test_client().get("/userinfo", headers={"Authorization": "Bearer x"})
    took = time.monotonic() - started

    assert response.status_code == 503
    assert response.json == {"error": "temporarily_unavailable"}
    assert took < DATABASE_CONNECT_TIMEOUT + 3
