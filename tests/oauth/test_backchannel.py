"""Back-Channel Logout 1.0: when a traveller logs out, every platform of that browser
session is told, through the outbox, with retries. A small HTTP server plays the
platform's back-channel logout endpoint; the clock of the deliveries is injected."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import KeySet

from clients.registration import ClientMetadataError
from idp import outbox
from idp.extensions import db, utcnow
from idp.oauth.backchannel import EVENT, notify_logout
from idp.outbox import MAX_ATTEMPTS, OutboxMessage, deliver_due
from idp.signals import backchannel_attempted
from tests.browser import AuthorizationRequest, Browser, query_of
from tests.factories import Platform, Traveller, make_platform, make_user
from tests.platform_server import no_loopback  # noqa: F401
from tests.tokens import redeem, verify_id_token

HOST = "127.0.0.1"


@dataclass
class Received:
    path: str
    content_type: str
    form: dict[str, list[str]]

    @property
    def token(self) -> str:
        (token,) = self.form["logout_token"]
        return token


@dataclass
class Receiver:
    """What the platform's endpoint got; it answers with the next of ``statuses``, then
    200 once they are used up."""

    uri: str
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    on_receive: Callable[[], None] | None = None  # run after each delivery is recorded


def handler_for(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            receiver.received.append(
                Received(self.path, self.headers["Content-Type"], parse_qs(body)))
            if receiver.on_receive is not None:
                receiver.on_receive()
            self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return None

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = ThreadingHTTPServer((HOST, 0), BaseHTTPRequestHandler)
    receiver = Receiver(f"http://{HOST}:{server.server_address[1]}/backchannel")
    server.RequestHandlerClass = handler_for(receiver)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def dead_uri() -> str:
    """A loopback port nobody listens on: every attempt is refused."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port = sock.getsockname()[1]
    return f"http://{HOST}:{port}/backchannel"


@pytest.fixture
def attempts() -> Iterator[list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []

    def listener(sender: Flask, **details: Any) -> None:
        seen.append(details)

    with backchannel_attempted.connected_to(listener):
        yield seen


def sign_in(browser: Browser, platform: Platform) -> dict[str, Any]:
    """The traveller logs in to the platform; the platform's view of the ID token."""
    request = AuthorizationRequest(platform.client_id, platform.redirect_uri)
    page = browser.authorize(request)
    if page.status_code == 200:
        page = browser.follow_local(browser.consent("allow"))
    code = query_of(page.location)["code"]
    tokens = redeem(browser.client, platform, code, request.verifier).get_json()
    return verify_id_token(browser.client, tokens["id_token"])


def log_out(browser: Browser) -> None:
    browser.get("/logout")
    assert browser.submit("/logout", {}).status_code == 302


def verify_logout_token(client: FlaskClient, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """What a platform does (section 2.6): check the signature against /jwks.json."""
    keys = KeySet.import_key_set(client.get("/jwks.json").get_json())
    decoded = jwt.decode(token, keys, algorithms=["RS256", "ES256"])
    return dict(decoded.header), dict(decoded.claims)


def messages() -> list[OutboxMessage]:
    db.session.expire_all()
    return list(db.session.scalars(db.select(OutboxMessage).order_by(OutboxMessage.id)))


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_logging_out_sends_the_platform_a_signed_logout_token(
        logged_in: Browser, receiver: Receiver, alg: str) -> None:
    platform = make_platform(backchannel_logout_uri=receiver.uri,
                             id_token_signed_response_alg=alg)
    id_token = sign_in(logged_in, platform)

    log_out(logged_in)
    assert receiver.received == []  # nothing is sent inside the request
    now = utcnow()
    assert deliver_due(now=now) == {"delivered": 1}

    (received,) = receiver.received
    assert received.content_type == "application/x-www-form-urlencoded"
    header, claims = verify_logout_token(logged_in.client, received.token)
    assert header["typ"] == "logout+jwt" and header["alg"] == alg
    assert claims["iss"] == "https://idp.test"
    assert claims["aud"] == [platform.client_id]
    assert claims["exp"] - claims["iat"] == 120
    assert abs(claims["iat"] - now.timestamp()) < 60
    assert len(claims["jti"]) >= 16
    assert claims["events"] == {EVENT: {}}
    assert claims["sub"] == id_token["sub"]
    assert claims["sid"] == id_token["sid"]
    assert "nonce" in id_token and "nonce" not in claims
    (message,) = messages()
    assert message.delivered_at == now and message.attempts == 1
    assert message.payload is None  # the token is not kept once delivered


def test_someone_logging_in_over_a_session_ends_it_for_its_platforms(
        logged_in: Browser, receiver: Receiver) -> None:
    platform = make_platform(backchannel_logout_uri=receiver.uri)
    id_token = sign_in(logged_in, platform)
    other = make_user()
    logged_in.login(other.email, other.password)  # a shared computer changes hands
    assert deliver_due(now=utcnow()) == {"delivered": 1}
    _, claims = verify_logout_token(logged_in.client, receiver.received[0].token)
    assert claims["sid"] == id_token["sid"]


def test_a_failing_platform_is_retried_with_backoff(
        logged_in: Browser, receiver: Receiver, user: Traveller,
        attempts: list[dict[str, Any]]) -> None:
    platform = make_platform(backchannel_logout_uri=receiver.uri)
    sign_in(logged_in, platform)
    receiver.statuses = [500]
    log_out(logged_in)
    start = utcnow()

    assert deliver_due(now=start) == {"retrying": 1}
    (message,) = messages()
    assert message.next_attempt_at == start + timedelta(seconds=30)
    assert message.last_error == "HTTP 500"
    assert deliver_due(now=start + timedelta(seconds=29)) == {}
    assert deliver_due(now=start + timedelta(seconds=30)) == {"delivered": 1}

    first, second = receiver.received
    assert first.token == second.token  # still fresh: the same token is sent again
    assert [(a["outcome"], a["status"], a["attempt"]) for a in attempts] == [
        ("retrying", 500, 1), ("delivered", 200, 2)]
    assert {a["message_id"] for a in attempts} == {message.id}
    assert {(a["client_id"], a["subject"], a["reason"]) for a in attempts} == {
        (platform.client_id, user.model.subject, "logout")}
    assert [a["at"] for a in attempts] == [start, start + timedelta(seconds=30)]


def test_a_token_that_would_arrive_expired_is_signed_afresh(
        logged_in: Browser, receiver: Receiver) -> None:
    platform = make_platform(backchannel_logout_uri=receiver.uri)
    id_token = sign_in(logged_in, platform)
    receiver.statuses = [500, 500]
    log_out(logged_in)
    start = utcnow()

    for offset in (0, 30, 90):  # the token lives two minutes; the third try is late
        deliver_due(now=start + timedelta(seconds=offset))

    first, second, third = receiver.received
    assert first.token == second.token != third.token
    _, claims = verify_logout_token(logged_in.client, third.token)
    assert claims["iat"] == int((start + timedelta(seconds=90)).timestamp())
    assert claims["exp"] - claims["iat"] == 120
    assert claims["jti"] != verify_logout_token(logged_in.client, first.token)[1]["jti"]
    assert (claims["sub"], claims["sid"]) == (id_token["sub"], id_token["sid"])


def test_a_dead_platform_is_given_up_after_the_last_attempt(
        logged_in: Browser, dead_uri: str, attempts: list[dict[str, Any]]) -> None:
    sign_in(logged_in, make_platform(backchannel_logout_uri=dead_uri))
    log_out(logged_in)
    now = utcnow()
    waits = []

    for _ in range(MAX_ATTEMPTS - 1):
        assert deliver_due(now=now) == {"retrying": 1}
        (message,) = messages()
        assert message.next_attempt_at is not None
        waits.append((message.next_attempt_at - now).total_seconds())
        now = message.next_attempt_at
    assert deliver_due(now=now) == {"dead": 1}

    assert waits == [30 * 2 ** n for n in range(MAX_ATTEMPTS - 1)]
    (message,) = messages()
    assert message.dead and message.attempts == MAX_ATTEMPTS
    assert message.next_attempt_at is None and message.payload is None
    assert message.last_error == "ConnectionError"
    assert deliver_due(now=now + timedelta(days=1)) == {}
    assert [a["outcome"] for a in attempts] == ["retrying"] * (MAX_ATTEMPTS - 1) + ["dead"]
    assert [a["attempt"] for a in attempts] == list(range(1, MAX_ATTEMPTS + 1))
    assert {a["status"] for a in attempts} == {None}


def test_only_the_platforms_of_the_session_that_asked_are_told(
        app: Flask, logged_in: Browser, user: Traveller, receiver: Receiver) -> None:
    used = make_platform(backchannel_logout_uri=receiver.uri + "/used")
    make_platform(backchannel_logout_uri=receiver.uri + "/never-used")
    silent = make_platform()  # no back-channel logout URI
    elsewhere = make_platform(backchannel_logout_uri=receiver.uri + "/other-session")
    sign_in(logged_in, used)
    sign_in(logged_in, silent)
    other_browser = Browser(app.test_client())
    other_browser.login(user.email, user.password)
    sign_in(other_browser, elsewhere)

    log_out(logged_in)
    deliver_due()
    assert [r.path for r in receiver.received] == ["/backchannel/used"]

    log_out(other_browser)
    deliver_due()
    assert [r.path for r in receiver.received][1:] == ["/backchannel/other-session"]


def test_revoking_a_platform_tells_it_without_a_sid(
        logged_in: Browser, user: Traveller, receiver: Receiver) -> None:
    revoked = make_platform(backchannel_logout_uri=receiver.uri + "/revoked")
    kept = make_platform(backchannel_logout_uri=receiver.uri + "/kept")
    id_token = sign_in(logged_in, revoked)
    sign_in(logged_in, kept)

    notify_logout(user.model, client_ids=[revoked.client_id], reason="consent_revoked")
    db.session.commit()
    deliver_due()

    (received,) = receiver.received
    assert received.path == "/backchannel/revoked"
    _, claims = verify_logout_token(logged_in.client, received.token)
    # Without a sid, every session of the traveller at the platform ends (section 2.4).
    assert claims["sub"] == id_token["sub"] and "sid" not in claims


def test_no_message_survives_a_rolled_back_change(
        logged_in: Browser, user: Traveller, receiver: Receiver) -> None:
    sign_in(logged_in, make_platform(backchannel_logout_uri=receiver.uri))

    assert len(notify_logout(user.model, reason="account_deleted")) == 1
    db.session.rollback()

    assert messages() == []


def test_a_claimed_message_is_not_sent_twice(logged_in: Browser, receiver: Receiver) -> None:
    sign_in(logged_in, make_platform(backchannel_logout_uri=receiver.uri))
    log_out(logged_in)
    now = utcnow()

    assert len(outbox.claim_due(now, limit=10)) == 1  # another drain holds the lease
    assert deliver_due(now=now) == {}
    assert deliver_due(now=now + outbox.LEASE) == {"delivered": 1}  # that drain died
    assert len(receiver.received) == 1


def test_an_attempt_that_cannot_be_recorded_counts_and_is_tried_again(
        logged_in: Browser, receiver: Receiver) -> None:
    sign_in(logged_in, make_platform(backchannel_logout_uri=receiver.uri))
    log_out(logged_in)
    now = utcnow()

    def broken_audit(sender: Flask, **details: Any) -> None:
        raise RuntimeError("the audit log is down")

    with backchannel_attempted.connected_to(broken_audit):
        assert deliver_due(now=now) == {"failed": 1}
    (message,) = messages()
    assert (message.attempts, message.last_error) == (1, "RuntimeError")
    assert message.next_attempt_at == now + timedelta(seconds=30)
    assert message.payload is not None
    assert deliver_due(now=now + timedelta(seconds=30)) == {"delivered": 1}
    assert len(receiver.received) == 2  # told twice, which a logout allows


def test_the_logout_token_never_reaches_the_logs(
        logged_in: Browser, receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sign_in(logged_in, make_platform(backchannel_logout_uri=receiver.uri))
    receiver.statuses = [503]
    log_out(logged_in)
    now = utcnow()

    deliver_due(now=now)
    deliver_due(now=now + timedelta(seconds=30))

    assert "delivered at attempt 2" in caplog.text
    tokens = {r.token for r in receiver.received}
    assert tokens and not any(token in caplog.text for token in tokens)
    assert not any(token.split(".")[2] in caplog.text for token in tokens)


def test_the_background_worker_delivers_once_the_logout_is_committed(
        app: Flask, logged_in: Browser, receiver: Receiver) -> None:
    app.config["OUTBOX_WORKER"] = True  # off by default in tests, which drain explicitly
    sign_in(logged_in, make_platform(backchannel_logout_uri=receiver.uri))

    log_out(logged_in)
    app.extensions["idp.outbox"].worker.join(timeout=10)

    assert len(receiver.received) == 1
    (message,) = messages()
    assert message.delivered_at is not None


@pytest.mark.parametrize("uri", [
    "http://carpool.example/backchannel",  # http away from loopback
    "https://carpool.example/backchannel#logout",  # a fragment (section 2.2)
    "carpool.example/backchannel",  # not absolute
    "https://carpool.example/" + "x" * 500,
])
def test_a_bad_backchannel_logout_uri_is_refused(app: Flask, uri: str) -> None:
    with pytest.raises(ClientMetadataError) as error:
        make_platform(backchannel_logout_uri=uri)
    assert error.value.error == "invalid_client_metadata"


def test_the_backchannel_logout_uri_is_registered_metadata(app: Flask) -> None:
    platform = make_platform(backchannel_logout_uri="https://carpool.example/bcl?tenant=1",
                             backchannel_logout_session_required=True)

    metadata = platform.model.client_metadata
    assert metadata["backchannel_logout_uri"] == "https://carpool.example/bcl?tenant=1"
    assert metadata["backchannel_logout_session_required"] is True
    assert make_platform().model.client_metadata["backchannel_logout_uri"] is None


def test_the_operator_registers_and_drains_from_the_command_line(
        runner: CliRunner, logged_in: Browser, receiver: Receiver) -> None:
    result = runner.invoke(args=["clients", "create", "--name", "Regional carpool",
                                 "--redirect-uri", "https://carpool.example/cb",
                                 "--backchannel-logout-uri", receiver.uri, "--json"])
    assert result.exit_code == 0, result.output
    assert f'"backchannel_logout_uri": "{receiver.uri}"' in result.output
    platform = make_platform(backchannel_logout_uri=receiver.uri)
    sign_in(logged_in, platform)
    log_out(logged_in)

    result = runner.invoke(args=["outbox", "drain"])

    assert result.exit_code == 0
    assert result.output.strip() == "delivered=1 retrying=0 dead=0 failed=0"
    assert len(receiver.received) == 1


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_the_outbox_worker_command_ends_its_pass_then_stops_on_a_signal(
        runner: CliRunner, logged_in: Browser, receiver: Receiver,
        stop_signal: signal.Signals) -> None:
    """The signal comes while the delivery is in flight: it is finished, not cut."""
    sign_in(logged_in, make_platform(backchannel_logout_uri=receiver.uri))
    log_out(logged_in)
    receiver.on_receive = lambda: os.kill(os.getpid(), stop_signal)
    before = signal.getsignal(stop_signal)

    result = runner.invoke(args=["outbox", "work", "--interval", "30"])

    assert signal.getsignal(stop_signal) is before  # the test runner's handler is back
    assert result.exit_code == 0
    assert result.output.splitlines()[1:] == ["delivered=1 retrying=0 dead=0 failed=0",
                                              "stopped"]
    assert len(receiver.received) == 1


def test_backoff_doubles_up_to_an_hour() -> None:
    delays = [outbox.backoff(n).total_seconds() for n in (1, 2, 3, 8, 20)]

    assert delays == [30, 60, 120, 3600, 3600]


def test_every_attempt_enters_the_audit_log(logged_in: Browser, receiver: Receiver,
                                            user: Traveller) -> None:
    from consent.audit import AuditEvent, subject_pseudonym

    platform = make_platform(backchannel_logout_uri=receiver.uri)
    sign_in(logged_in, platform)
    log_out(logged_in)
    deliver_due(now=utcnow())
    event = db.session.scalar(db.select(AuditEvent).where(
        AuditEvent.event_type == "backchannel:attempt"))
    assert event is not None
    assert event.subject == subject_pseudonym(user.model) and event.client_id == platform.client_id
    assert event.data["outcome"] == "delivered" and event.data["reason"] == "logout"


@pytest.mark.parametrize("host", ["2130706433", "0x7f000001", "[::ffff:7f00:1]", "localhost"])
def test_a_logout_is_never_posted_to_an_internal_address(
        no_loopback: Flask, logged_in: Browser, receiver: Receiver, host: str) -> None:
    """A row registered before the check, or a name now resolving inside: the outbox
    posts through the outbound guard, which refuses it without connecting."""
    platform = make_platform(backchannel_logout_uri="https://carpool.example/backchannel")
    platform.model.backchannel_logout_uri = receiver.uri.replace(HOST, host)
    db.session.commit()
    sign_in(logged_in, platform)
    log_out(logged_in)

    assert deliver_due() == {"retrying": 1}

    (message,) = messages()
    assert message.last_error == "AddressRefused"
    assert receiver.received == []
