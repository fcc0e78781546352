"""Redis unreachable in production: every form that checks a secret or sends mail answers
503 with Retry-After, in the traveller's language, logged once by exception class; it
never falls back to uncounted attempts or to each worker's own memory. Other pages work."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest
import redis
from flask import Flask
from limits.errors import StorageError

from idp import create_app
from idp.accounts.links import Purpose, generate_link, query_link
from idp.accounts.models import User
from idp.accounts.throttle_refusals import create_unavailable_response
from idp.extensions import db
from tests import conftest
from tests.accounts.test_throttle import from_address, log_in
from tests.browser import ISSUER, csrf_token
from tests.factories import Traveller

LOGGER = "idp.accounts.throttle_refusals"


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port bound but never listening: every connection to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
def production(app: Flask, database_url: str, closed_port: int) -> Iterator[Flask]:
    """The provider with production settings, its Redis down."""
    provider = create_app(settings=conftest.test_settings(
        database_url, env="production", smtp_url="smtp://127.0.0.1:25",
        redis_url=f"redis://127.0.0.1:{closed_port}/0"), config=conftest.TEST_CONFIG)
    assert provider.extensions["idp.settings"].is_production
    yield provider
    with provider.app_context():
        db.engine.dispose()


def test_sign_in_is_refused_with_503_rather_than_left_unthrottled(
    production: Flask, user: Traveller
) -> None:
    browser = from_address(production, "203.0.113.7")

    refused = log_in(browser, user.email, user.password)

    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "60"
    assert "signing in is paused for your safety" in refused.text
    assert browser.get("/account").status_code == 302  # not signed in


def test_the_mail_sending_forms_are_refused_too(production: Flask, user: Traveller) -> None:
    browser = from_address(production, "203.0.113.7")
    page = browser.get("/password/forgot")

    refused = browser.post("/password/forgot", headers={"Referer": ISSUER}, data={
        "csrf_token": csrf_token(page.text), "email": user.email})

    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "60"


def test_the_page_speaks_the_travellers_language(production: Flask, user: Traveller) -> None:
    browser = from_address(production, "203.0.113.7", HTTP_ACCEPT_LANGUAGE="fr")

    refused = log_in(browser, user.email, user.password)

    assert refused.status_code == 503
    assert '<html lang="fr">' in refused.text


@pytest.mark.parametrize("path", ["/", "/login", "/password/forgot",
                                  "/.well-known/openid-configuration"])
def test_other_pages_still_work(production: Flask, path: str) -> None:
    assert from_address(production, "203.0.113.7").get(path).status_code == 200


def test_each_refusal_is_logged_once_by_its_class(
    production: Flask, user: Traveller, closed_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    browser = from_address(production, "203.0.113.7")
    with caplog.at_level(logging.INFO):
        log_in(browser, user.email, user.password)
        log_in(browser, "nobody@example.org", "a wrong password")

    records = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.name for r in records] == [LOGGER, LOGGER]
    for record in records:
        message = record.getMessage()
        assert "ConnectionError" in message
        assert str(closed_port) not in message and user.email not in message
        assert record.exc_info is None


def test_platforms_paths_get_json(production: Flask) -> None:
    # No API endpoint checks a secret under the throttle today; the answer is ready for
    # the day one does (a redis error wrapped by limits, as the storage raises it).
    error = StorageError(redis.ConnectionError("Error 111 connecting to 127.0.0.1"))
    with production.test_request_context("/token", method="POST"):
        body, status, headers = create_unavailable_response(error)  # type: ignore[misc]

    assert (body, status, headers) == (
        {"error": "temporarily_unavailable"}, 503, {"Retry-After": "60"})


def test_a_reset_refused_for_want_of_redis_changes_nothing(
    production: Flask, user: Traveller
) -> None:
    # The lock a reset opens lives in Redis: with Redis down the reset must not be half
    # done (new password saved, link spent, then a 503 the traveller reads as a failure).
    with production.app_context():
        account = db.session.get(User, user.model.id)
        assert account is not None
        before = account.password_hash
        token = generate_link(account, Purpose.RESET_PASSWORD)
        db.session.commit()
    browser = from_address(production, "203.0.113.7")
    page = browser.get(f"/password/reset/{token}")

    refused = browser.post(f"/password/reset/{token}", headers={"Referer": ISSUER}, data={
        "csrf_token": csrf_token(page.text), "password": "a brand new long passphrase",
        "confirm": "a brand new long passphrase"})

    assert refused.status_code == 503
    with production.app_context():
        account = db.session.get(User, user.model.id)
        assert account is not None and account.password_hash == before
        assert query_link(token, Purpose.RESET_PASSWORD).used_at is None
