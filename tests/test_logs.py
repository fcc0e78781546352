"""The provider's logs: a request id on every line, the platform and a pseudonymous
traveller for each request, and nothing secret or personal in full (idp.logs,
idp.redaction). The whole story under gunicorn is in tests/test_logs_story.py."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, current_app, request
from flask.testing import FlaskClient

from idp import create_app, logs
from idp.redaction import redact
from idp.settings import ConfigError, load_settings
from tests import conftest
from tests.browser import Browser
from tests.conftest import KEK, SECRET_KEY
from tests.factories import Platform, Traveller
from tests.tokens import basic, issue_tokens, refresh, userinfo


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """What the root logger writes, as production's JSON lines."""
    stream = io.StringIO()
    handler = logs.prepare(logging.StreamHandler(stream), "json")
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
def probe(app: Flask) -> str:
    """A view that logs what a careless call site would: an email and an address."""
    def speak() -> str:
        current_app.logger.warning("probe for ada@example.org from 203.0.113.77")
        return "ok"

    app.add_url_rule("/probe", "probe", speak)
    return "/probe"


@pytest.fixture
def seen(app: Flask) -> list[dict[str, Any]]:
    """Each request's environ once every after_request hook has run: what the access
    line, written by gunicorn after the response, reads."""
    environs: list[dict[str, Any]] = []

    @app.teardown_request
    def keep(_: BaseException | None) -> None:
        environs.append(request.environ)

    return environs


def parsed(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.mark.parametrize(("said", "written"), [
    ("mail to ada@example.org refused", "mail to [email] refused"),
    ("GET /signup?next=/x&login=o'brien+a@mail.example.fr", "GET /signup?next=/x&login=[email]"),
    ("from 203.0.113.77", "from 203.0.113.0/24"),
    ("from 2001:db8:5:6::77 at 13:17:26", "from 2001:db8:5::/48 at 13:17:26"),
    ("http://127.0.0.1:8000/token", "http://127.0.0.0/24:8000/token"),
    ("listening at http://0.0.0.0:8000, [::]:8000", "listening at http://0.0.0.0:8000, [::]:8000"),
    ("/cb?code=Abc123&state=xyz", "/cb?code=[redacted]&state=xyz"),
    ("refresh_token=r3fresh password=hunter2", "refresh_token=[redacted] password=[redacted]"),
    ('{"id_token_hint": "eyJx.eyJ.sig"}', '{"id_token_hint": "[redacted]"}'),
    ("Authorization: Bearer abc.DEF-123", "Authorization: Bearer [redacted]"),
    ("token eyJhbGciOi.eyJzdWIiOi.c2ln seen", "token [jwt] seen"),
    ("signing key k1 (ES256) activates in 60s", "signing key k1 (ES256) activates in 60s"),
    ("GET /password/reset/<token> 200", "GET /password/reset/<token> 200"),
])
def test_a_line_loses_its_secrets_emails_and_addresses(said: str, written: str) -> None:
    assert redact(said) == written
    assert redact(written) == written  # a line passing two handlers stays the same


def test_values_of_sensitive_keys_are_hidden_and_others_kept(lines: io.StringIO) -> None:
    logging.getLogger("idp.test").info("sent", extra={"client_secret": "s3cret", "count": 3,
                                                      "peer": "198.51.100.9"})

    [line] = parsed(lines)
    assert line["client_secret"] == "[redacted]"
    assert line["count"] == 3
    assert line["peer"] == "198.51.100.0/24"


def test_a_traceback_is_redacted_too(lines: io.StringIO) -> None:
    try:
        raise ValueError("no account for ada@example.org")
    except ValueError:
        logging.getLogger("idp.test").exception("lookup failed")

    [line] = parsed(lines)
    assert "ada@example.org" not in line["exc_info"]
    assert "[email]" in line["exc_info"]


def test_a_request_gets_an_id_on_its_lines_and_in_its_answer(
        client: FlaskClient, probe: str, lines: io.StringIO) -> None:
    response = client.get(probe)

    [line] = parsed(lines)
    assert len(response.headers["X-Request-ID"]) == 32
    assert line["request_id"] == response.headers["X-Request-ID"]
    assert line["message"] == "probe for [email] from 203.0.113.0/24"
    assert line["level"] == "WARNING"


def test_a_proxy_request_id_is_kept(client: FlaskClient, probe: str,
                                    lines: io.StringIO) -> None:
    given = "9f1c2d3e-4b5a-6789-abcd-ef0123456789"

    response = client.get(probe, headers={"X-Request-ID": given})

    assert response.headers["X-Request-ID"] == given
    assert parsed(lines)[0]["request_id"] == given


@pytest.mark.parametrize("given", [
    "short", "x" * 65, "abc def ghij", "<script>alert(1)</script>", "id\"injected:1234",
    "-starts-with-dash", "ada@example.org", "ünïcødé-request",
])
def test_a_malformed_request_id_is_replaced(client: FlaskClient, probe: str,
                                            given: str) -> None:
    response = client.get(probe, headers={"X-Request-ID": given})

    assert response.status_code == 200
    assert response.headers["X-Request-ID"] != given
    assert logs.SAFE_ID.fullmatch(response.headers["X-Request-ID"])


def test_no_request_id_is_left_behind_for_the_next_lines(client: FlaskClient, probe: str,
                                                         lines: io.StringIO) -> None:
    client.get(probe).close()  # as the WSGI server does once the answer has gone
    logging.getLogger("idp.test").info("background work")

    assert parsed(lines)[-1]["request_id"] is None


def test_a_platform_request_names_the_platform_and_a_pseudonym(
        seen: list[dict[str, Any]], logged_in: Browser, user: Traveller,
        platform: Platform) -> None:
    tokens = issue_tokens(logged_in, platform)

    assert userinfo(logged_in.client, tokens["access_token"]).status_code == 200

    environ = seen[-1]
    assert environ[logs.CLIENT_ID] == platform.client_id
    assert environ[logs.TRAVELLER] == logs.pseudonym(user.model.id, SECRET_KEY)


def test_a_code_exchange_and_a_refresh_name_the_traveller(
        seen: list[dict[str, Any]], logged_in: Browser, user: Traveller,
        platform: Platform) -> None:
    tokens = issue_tokens(logged_in, platform)
    exchange = seen[-1]

    assert refresh(logged_in.client, platform, tokens["refresh_token"]).status_code == 200

    expected = logs.pseudonym(user.model.id, SECRET_KEY)
    assert exchange[logs.TRAVELLER] == expected
    assert seen[-1][logs.TRAVELLER] == expected
    assert seen[-1][logs.CLIENT_ID] == platform.client_id


def test_a_revocation_names_the_platform_of_its_basic_credentials(
        seen: list[dict[str, Any]], logged_in: Browser, platform: Platform) -> None:
    tokens = issue_tokens(logged_in, platform)

    answer = logged_in.client.post("/revoke", data={"token": tokens["refresh_token"]},
                                   headers=basic(platform))

    assert answer.status_code == 200
    assert seen[-1][logs.CLIENT_ID] == platform.client_id


def test_an_unknown_client_id_stays_out_of_the_log(seen: list[dict[str, Any]],
                                                   client: FlaskClient) -> None:
    client.get("/authorize", query_string={"client_id": "attacker-text",
                                           "response_type": "code"})

    assert logs.CLIENT_ID not in seen[-1]


def test_an_authorization_request_names_its_platform(
        seen: list[dict[str, Any]], client: FlaskClient, platform: Platform) -> None:
    client.get("/authorize", query_string={"client_id": platform.client_id,
                                           "response_type": "code", "scope": "openid",
                                           "redirect_uri": platform.redirect_uri})

    assert seen[-1][logs.CLIENT_ID] == platform.client_id


def test_a_browser_request_names_the_traveller_by_pseudonym(
        seen: list[dict[str, Any]], logged_in: Browser, user: Traveller) -> None:
    assert logged_in.client.get("/account").status_code == 200

    pseudonym = seen[-1][logs.TRAVELLER]
    assert pseudonym == logs.pseudonym(user.model.id, SECRET_KEY)
    assert len(pseudonym) == 16
    assert pseudonym not in (str(user.model.id), user.model.subject)


def test_the_pseudonym_is_stable_and_depends_on_the_secret_key() -> None:
    assert logs.pseudonym(7, SECRET_KEY) == logs.pseudonym(7, SECRET_KEY)
    assert logs.pseudonym(7, SECRET_KEY) != logs.pseudonym(8, SECRET_KEY)
    assert logs.pseudonym(7, SECRET_KEY) != logs.pseudonym(7, SECRET_KEY + "x")


@pytest.mark.parametrize(("env", "given", "chosen"), [
    ("production", "", "json"), ("development", "", "text"), ("production", "TEXT", "text"),
    ("development", "json", "json"),
])
def test_the_log_format_follows_the_environment_unless_set(
        tmp_path: Path, env: str, given: str, chosen: str) -> None:
    environ = {"IDP_ENV": env, "IDP_LOG_FORMAT": given, "IDP_SECRET_KEY": SECRET_KEY * 2,
               "IDP_KEY_ENCRYPTION_KEY": KEK,
               "IDP_ISSUER": "https://idp.example", "IDP_SMTP_URL": "smtp://127.0.0.1:1",
               "IDP_REDIS_URL": "redis://127.0.0.1:6379/4"}

    assert load_settings(tmp_path, environ=environ).log_format == chosen


@pytest.mark.parametrize(("name", "value"), [("IDP_LOG_FORMAT", "xml"),
                                             ("IDP_LOG_LEVEL", "loud")])
def test_a_wrong_log_setting_is_refused_by_name(tmp_path: Path, name: str,
                                                value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings(tmp_path, environ={name: value})


def test_a_development_app_writes_readable_lines_once(database_url: str,
                                                      tmp_path: Path) -> None:
    """``make run``'s console: one text handler on the root, however many apps are built."""
    root = logging.getLogger()
    before = list(root.handlers), root.level
    try:
        for _ in range(2):
            create_app(settings=conftest.test_settings(database_url, env="development"))
        ours = [h for h in root.handlers if getattr(h, "idp_handler", False)]
        assert len(ours) == 1
        assert isinstance(ours[0].formatter, logs.TextLines)
    finally:
        root.handlers[:] = before[0]
        root.setLevel(before[1])
