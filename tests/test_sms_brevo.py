"""The Brevo adapter (``brevo://KEY@api.brevo.com?sender=Name``), tried against a real
local HTTP server that stands for Brevo: the request it gets, and an error it answers."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from idp import sms
from idp.settings import ConfigError, load_settings

KEY = "xkeysib-0123456789abcdef"


@dataclass
class FakeBrevo:
    """A threaded HTTP server that records each request and gives the answer set."""

    server: ThreadingHTTPServer
    requests: list[dict[str, Any]] = field(default_factory=list)
    status: int = 201

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])


@pytest.fixture
def brevo() -> Iterator[FakeBrevo]:
    fake: FakeBrevo

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            fake.requests.append({"method": "POST", "path": self.path,
                                  "api_key": self.headers["api-key"],
                                  "content_type": self.headers["Content-Type"],
                                  "json": json.loads(body)})
            answer = (b'{"messageId": 1511882900176220}' if fake.status < 300 else
                      b'{"code": "unauthorized", "message": "Key not found"}')
            self.send_response(fake.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    fake = FakeBrevo(ThreadingHTTPServer(("127.0.0.1", 0), Handler))
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def use(app: Flask, url: str) -> None:
    settings = app.extensions["idp.settings"]
    app.extensions["idp.settings"] = replace(settings, sms_url=url)


def test_brevo_gets_the_message_as_its_transactional_sms_api_asks(
        app: Flask, brevo: FakeBrevo) -> None:
    use(app, f"brevo+http://{KEY}@127.0.0.1:{brevo.port}?sender=MobilityID")
    with app.test_request_context():
        assert sms.send_sms("+33612345678", "one_time_code", "fr", code="246810", minutes=10)

    [request] = brevo.requests
    assert request["method"] == "POST" and request["path"] == "/v3/transactionalSMS/send"
    assert request["api_key"] == KEY
    assert request["content_type"] == "application/json"
    body = request["json"]
    assert body["sender"] == "MobilityID" and body["recipient"] == "33612345678"
    assert body["type"] == "transactional" and body["unicodeEnabled"] is True
    assert "246810" in body["content"] and "votre code" in body["content"]


def test_an_error_answer_is_logged_by_status_without_number_key_or_code(
        app: Flask, brevo: FakeBrevo, caplog: pytest.LogCaptureFixture) -> None:
    brevo.status = 401
    use(app, f"brevo+http://{KEY}@127.0.0.1:{brevo.port}?sender=MobilityID")
    with app.test_request_context(), caplog.at_level(logging.INFO):
        assert not sms.send_sms("+33612345678", "one_time_code", "en", code="135791",
                                minutes=10)
    assert len(brevo.requests) == 1
    assert "one_time_code not sent: Brevo answered 401" in caplog.text
    for secret in ("612345678", KEY, "135791"):
        assert secret not in caplog.text


def test_an_unreachable_brevo_is_reported_not_raised(
        app: Flask, brevo: FakeBrevo, caplog: pytest.LogCaptureFixture) -> None:
    port = brevo.port
    brevo.server.shutdown()
    brevo.server.server_close()
    use(app, f"brevo+http://{KEY}@127.0.0.1:{port}?sender=MobilityID")
    with app.test_request_context(), caplog.at_level(logging.INFO):
        assert not sms.send_sms("+33612345678", "one_time_code", "en", code="1", minutes=5)
    assert "Brevo unreachable" in caplog.text and KEY not in caplog.text


@pytest.mark.parametrize("url", [
    "console:", "file:///var/lib/idp/sms.jsonl",
    f"brevo://{KEY}@api.brevo.com?sender=MobilityID",
    f"brevo+http://{KEY}@127.0.0.1:8025?sender=Test",
])
def test_each_sender_form_is_accepted(tmp_path: Path, url: str) -> None:
    assert load_settings(tmp_path, environ={"IDP_SMS_URL": url}).sms_url == url


@pytest.mark.parametrize("url", [
    "carrier-pigeon://coop", "https://api.brevo.com", "file:", "brevo://api.brevo.com",
    f"brevo+http://{KEY}@sms.example.org?sender=X", "value-of-idp_sms_url",
])
def test_a_wrong_sender_is_refused_at_start_naming_the_forms(tmp_path: Path,
                                                             url: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(tmp_path, environ={"IDP_SMS_URL": url})
    message = str(refused.value)
    assert message.startswith("IDP_SMS_URL must be console:, file:///path")
    assert "brevo://API_KEY@api.brevo.com?sender=Name" in message
    assert KEY not in message
