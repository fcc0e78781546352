"""Prometheus metrics over the app: the counters move after a real login, a consent and
a token; the state (outbox, keys) is read at each scrape; ``/metrics`` is served only
to a scraper bearing the configured token, and not at all without one."""

from __future__ import annotations

import re
import secrets
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from idp import create_app
from idp.extensions import db, utcnow
from idp.outbox import deliver_due
from idp.settings import ConfigError, load_settings
from tests import conftest
from tests.browser import Browser, query_of
from tests.conftest import TEST_CONFIG
from tests.consent.test_consent_screen import POLICY, answer, ask
from tests.consent.test_platforms import form_action
from tests.factories import Traveller, make_platform
from tests.oauth.test_backchannel import Receiver, log_out, receiver, sign_in  # noqa: F401
from tests.tokens import redeem, refresh
from tests.totp import code_at, enrol, start_login

TOKEN = secrets.token_urlsafe(32)
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The provider with a metrics token (overrides conftest's ``app``)."""
    app = create_app(settings=conftest.test_settings(database_url, metrics_token=TOKEN),
                     config=TEST_CONFIG)
    app.instance_path = str(tmp_path)
    with app.app_context():
        yield app
        db.session.remove()
        conftest._empty_tables()
        db.engine.dispose()


class Scrape:
    """One scrape's samples; ``value`` sums those whose labels include ``labels``."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples = [s for family in text_string_to_metric_families(text)
                        for s in family.samples]

    def value(self, name: str, **labels: str) -> float:
        return sum(s.value for s in self.samples
                   if s.name == name and labels.items() <= s.labels.items())


def scrape(client: FlaskClient) -> Scrape:
    response = client.get("/metrics", headers=AUTH)
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.headers["Cache-Control"] == "no-store"
    return Scrape(response.get_data(as_text=True))


def test_a_login_a_consent_and_tokens_move_the_counters(
        client: FlaskClient, browser: Browser, user: Traveller) -> None:
    platform = make_platform(name="Regional carpool", scope_policy=POLICY)
    before = scrape(client)

    browser.login(user.email, "not the password")
    browser.login(user.email, user.password)
    request, _ = ask(browser, platform, scope="openid email phone offline_access")
    code = query_of(answer(browser, scopes=["email", "phone", "offline_access"]).location)["code"]
    tokens = redeem(client, platform, code, request.verifier).get_json()
    assert refresh(client, platform, tokens["refresh_token"]).status_code == 200
    html = browser.get("/account/platforms").get_data(as_text=True)
    browser.submit(form_action(html, "/scopes/phone/withdraw"), {}, html)
    html = browser.get("/account/platforms").get_data(as_text=True)
    browser.submit(form_action(html, "/revoke"), {}, html)

    after = scrape(client)
    def moved(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    assert moved("idp_logins_total", outcome="success", factor="password") == 1
    assert moved("idp_logins_total", outcome="failure", factor="password") == 1
    for event in ("given", "narrowed", "withdrawn"):
        assert moved("idp_consents_total", event=event, client_id=platform.client_id) == 1
    assert moved("idp_tokens_issued_total", grant_type="authorization_code") == 1
    assert moved("idp_tokens_issued_total", grant_type="refresh_token") == 1
    assert moved("idp_http_requests_total", endpoint="accounts.login", method="POST",
                 status="302") == 1
    assert moved("idp_http_requests_total", endpoint="accounts.login", method="POST",
                 status="400") == 1
    assert moved("idp_http_requests_total", endpoint="endpoints.token", status="200") == 2
    assert moved("idp_http_request_duration_seconds_count", endpoint="endpoints.token") == 2
    # Routes by name only: no path, code or token reaches a label.
    for secret in (code, tokens["access_token"], tokens["refresh_token"], user.email):
        assert secret not in after.text
    assert "/consent/" not in after.text and "/account/" not in after.text


def test_an_unmatched_path_and_an_odd_method_keep_the_labels_bounded(
        client: FlaskClient) -> None:
    client.get("/no/such/page/abc123")
    client.open("/token", method="BREW")
    text = scrape(client)
    assert text.value("idp_http_requests_total", endpoint="unmatched", status="404") >= 1
    assert text.value("idp_http_requests_total", method="other") >= 1
    # No label but a platform's id holds them: those ids are random, and may well hold
    # "BREW" or "abc123" (c8XBREW5lF3Ol9c1coX2RDJDR failed a run).
    labels = [value for name, value in re.findall(r'(\w+)="([^"]*)"', text.text)
              if name != "client_id"]
    assert labels and not [v for v in labels if "abc123" in v or "BREW" in v]
    assert "/no/such/page" not in text.text


def test_throttled_and_second_step_sign_ins_are_counted(
        client: FlaskClient, logged_in: Browser, user: Traveller, frozen: Any) -> None:
    key, _ = enrol(logged_in)
    logged_in.get("/logout")
    logged_in.submit("/logout", {})
    frozen.shift(90)  # past the step of the code typed at enrolment
    before = scrape(client)

    location = start_login(logged_in, user.email, user.password)
    assert logged_in.submit(location, {"code": code_at(key)}).status_code == 302
    for _ in range(7):  # five free failures, a sixth that starts a delay, then refused
        logged_in.login("nobody@example.org", "a guess")

    after = scrape(client)
    def moved(**labels: str) -> float:
        return (after.value("idp_logins_total", **labels)
                - before.value("idp_logins_total", **labels))

    assert moved(outcome="second_step", factor="password") == 1
    assert moved(outcome="success", factor="second-factor") == 1
    assert moved(outcome="failure", factor="password") == 6
    assert moved(outcome="throttled", factor="password") == 1


def test_back_channel_deliveries_and_the_outbox_are_counted(
        client: FlaskClient, logged_in: Browser, receiver: Receiver, frozen: Any) -> None:
    platform = make_platform(backchannel_logout_uri=receiver.uri)
    sign_in(logged_in, platform)
    before = scrape(client)
    receiver.statuses = [500]
    log_out(logged_in)
    frozen.shift(300)

    waiting = scrape(client)
    assert waiting.value("idp_outbox_pending_messages") == 1
    assert waiting.value("idp_outbox_oldest_pending_age_seconds") == 300
    assert deliver_due(now=utcnow()) == {"retrying": 1}
    assert deliver_due(now=utcnow() + timedelta(seconds=30)) == {"delivered": 1}

    after = scrape(client)
    for outcome in ("retrying", "delivered"):
        assert (after.value("idp_backchannel_attempts_total", outcome=outcome)
                - before.value("idp_backchannel_attempts_total", outcome=outcome)) == 1
    assert after.value("idp_outbox_pending_messages") == 0
    assert after.value("idp_outbox_oldest_pending_age_seconds") == 0


def test_signing_keys_are_counted_by_state_and_alg(client: FlaskClient) -> None:
    client.get("/jwks.json")  # the keys are made at first need
    state = scrape(client)
    for alg in ("RS256", "ES256"):
        assert state.value("idp_signing_keys", state="active", alg=alg) == 1
        assert state.value("idp_signing_keys", state="next", alg=alg) == 0


@pytest.mark.parametrize(("header", "challenge"), [
    (None, 'Bearer realm="metrics"'),
    ("Bearer", 'Bearer realm="metrics"'),
    ("Bearer wrong-token", 'Bearer realm="metrics", error="invalid_token"'),
    (f"Bearer {TOKEN}x", 'Bearer realm="metrics", error="invalid_token"'),
    (f"Bearer {TOKEN[:-1]}", 'Bearer realm="metrics", error="invalid_token"'),
    (f"Bearer  {TOKEN}", 'Bearer realm="metrics", error="invalid_token"'),
    (f"Bearer {TOKEN}é", 'Bearer realm="metrics", error="invalid_token"'),
    (TOKEN, 'Bearer realm="metrics"'),
    (f"Basic {TOKEN}", 'Bearer realm="metrics"'),
# Named, not shown: the random token in a test's id would differ between pytest-xdist workers.
], ids=["none", "no token", "wrong", "one more character", "one less", "two spaces",
        "non-ASCII", "no scheme", "Basic"])
def test_metrics_are_refused_without_the_token(client: FlaskClient, header: str | None,
                                               challenge: str) -> None:
    response = client.get("/metrics", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == challenge
    assert "idp_" not in response.get_data(as_text=True)


def test_the_scheme_s_case_does_not_matter(client: FlaskClient) -> None:
    """RFC 9110 11.1: authentication schemes are case-insensitive."""
    response = client.get("/metrics", headers={"Authorization": f"bearer {TOKEN}"})
    assert response.status_code == 200


def test_while_the_database_is_down_the_counters_are_still_served(
        tmp_path: Path) -> None:
    with socket.socket() as closed:  # bound, never listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        url = f"postgresql+psycopg://postgres@127.0.0.1:{closed.getsockname()[1]}/idp"
        app = create_app(settings=conftest.test_settings(url, metrics_token=TOKEN),
                         config=TEST_CONFIG)
        app.instance_path = str(tmp_path)
        client = app.test_client()
        client.get("/healthz")
        response = client.get("/metrics", headers=AUTH)
    assert response.status_code == 200
    text = Scrape(response.get_data(as_text=True))
    assert text.value("idp_http_requests_total", endpoint="health.liveness") >= 1
    assert "idp_outbox_pending_messages" not in text.text


def test_without_a_configured_token_there_are_no_metrics(database_url: str) -> None:
    app = create_app(settings=conftest.test_settings(database_url), config=TEST_CONFIG)
    response = app.test_client().get("/metrics", headers={"Authorization": "Bearer "})
    assert response.status_code == 404
    assert "idp_" not in response.get_data(as_text=True)
    with app.app_context():
        db.engine.dispose()


def test_production_refuses_a_short_metrics_token(tmp_path: Path) -> None:
    environ = {"IDP_ENV": "production", "IDP_ISSUER": "https://id.example",
               "IDP_SECRET_KEY": conftest.SECRET_KEY, "IDP_KEY_ENCRYPTION_KEY": conftest.KEK,
               "IDP_SMTP_URL": "smtp://mail.example", "IDP_REDIS_URL": "redis://r.example/0"}
    assert load_settings(tmp_path, environ).metrics_token == ""
    long_enough = load_settings(tmp_path, environ | {"IDP_METRICS_TOKEN": TOKEN})
    assert long_enough.metrics_token == TOKEN
    with pytest.raises(ConfigError, match="IDP_METRICS_TOKEN must be at least 32"):
        load_settings(tmp_path, environ | {"IDP_METRICS_TOKEN": "short"})
