"""A platform's security event endpoint (RFC 8935) on 127.0.0.1: it keeps each Security
Event Token pushed to it and answers 202 Accepted (or the statuses a test gives); and
what a platform does with a SET: verify it with the provider's /jwks.json."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from idp.oauth.events import TOKEN_CLAIMS_CHANGE

HOST = "127.0.0.1"


@dataclass
class Pushed:
    content_type: str
    accept: str | None
    token: str


@dataclass
class EventReceiver:
    uri: str
    received: list[Pushed] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # then 202 once used up
    arrived: threading.Event = field(default_factory=threading.Event)


def handler_for(receiver: EventReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            receiver.received.append(Pushed(self.headers["Content-Type"],
                                            self.headers.get("Accept"), body))
            self.send_response(receiver.statuses.pop(0) if receiver.statuses else 202)
            self.send_header("Content-Length", "0")
            self.end_headers()
            receiver.arrived.set()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return None

    return Handler


@pytest.fixture
def event_receiver() -> Iterator[Callable[[], EventReceiver]]:
    """Start receivers: ``event_receiver()``, one per platform."""
    servers: list[tuple[ThreadingHTTPServer, threading.Thread]] = []

    def start() -> EventReceiver:
        server = ThreadingHTTPServer((HOST, 0), BaseHTTPRequestHandler)
        receiver = EventReceiver(f"http://{HOST}:{server.server_address[1]}/events")
        server.RequestHandlerClass = handler_for(receiver)
        thread = threading.Thread(target=server.serve_forever,
                                  kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        servers.append((server, thread))
        return receiver

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def verify_event(jwks: dict[str, Any], token: str, issuer: str, client_id: str,
                 now: int | None = None) -> dict[str, Any]:
    """What a platform does with a pushed SET (RFC 8417 2.3, RFC 8935 2): check the
    signature against the provider's keys, the type, the issuer and that it is meant for
    it; returns the claims. Raises JoseError."""
    decoded = jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["RS256", "ES256"])
    assert decoded.header["typ"] == "secevent+jwt"
    jwt.JWTClaimsRegistry(now=now, iss={"essential": True, "value": issuer},
                          aud={"essential": True, "value": client_id},
                          iat={"essential": True},
                          jti={"essential": True}).validate(decoded.claims)
    assert set(decoded.claims["events"]) == {TOKEN_CLAIMS_CHANGE}
    return dict(decoded.claims)
