"""Human help on every page (issue 12, item 1), the signed-in menu (item 6) and the
footer pages: what a traveller far from computers needs to reach a person."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from idp import create_app
from idp.settings import ConfigError
from tests.browser import Browser
from tests.conftest import TEST_CONFIG
from tests.conftest import test_settings as settings_for
from tests.factories import Platform, Traveller, make_platform

# Redis database 7, fixed here: under pytest-xdist every test that uses it runs in
# one worker, one after the other (both backends' included).
pytestmark = pytest.mark.xdist_group("redis-7")

OPERATOR = {"operator_name": "Mobilité Solidaire Lyon", "help_phone": "04 72 00 00 00",
            "help_email": "aide@mobilite-solidaire.example",
            "help_hours": "Monday to Friday, 8 am to 6 pm",
            "help_url": "https://mobilite-solidaire.example/aide",
            "operator_address": "1 place Bellecour, 69002 Lyon"}
FOOTER_PAGES = ("/help", "/legal", "/privacy", "/accessibility")


def text(response: Any) -> str:
    return unescape(response.get_data(as_text=True))


@pytest.fixture
def helped(database_url: str, tmp_path: Path) -> Iterator[FlaskClient]:
    """A provider whose operator gave every way to reach a human."""
    app = create_app(settings=settings_for(database_url, **OPERATOR), config=TEST_CONFIG)
    app.instance_path = str(tmp_path)
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    yield client


def test_every_page_says_whom_to_call_when_the_operator_said_it(helped: FlaskClient) -> None:
    for path in ("/", "/login", "/signup", "/no-such-page", *FOOTER_PAGES):
        page = text(helped.get(path))
        assert "Need help?" in page, path
        assert 'href="tel:+33472000000"' in page, path
        assert "04 72 00 00 00" in page and "Monday to Friday, 8 am to 6 pm" in page, path
        assert 'href="mailto:aide@mobilite-solidaire.example"' in page, path
        assert "Call Mobilité Solidaire Lyon:" in page, path


def test_the_help_page_says_who_to_call_what_to_have_ready_and_what_an_advisor_does(
        helped: FlaskClient) -> None:
    page = text(helped.get("/help"))
    for heading in ("Who to call", "What to have ready", "What an advisor can do"):
        assert f"<h2>{heading}</h2>" in page
    assert 'href="https://mobilite-solidaire.example/aide"' in page
    assert "Never give your password." in page


def test_without_any_contact_the_help_block_still_points_somewhere(
        client: FlaskClient, in_english: None) -> None:
    page = text(client.get("/"))
    assert "Need help?" in page
    assert "tel:" not in page and "mailto:" not in page
    assert "Ask the person or the service that sent you here" in page
    assert "The operator has not given a contact yet." in text(client.get("/legal"))


def test_development_shows_demo_help_said_to_be_fictional(database_url: str,
                                                           tmp_path: Path) -> None:
    app = create_app(settings=settings_for(database_url, env="development"),
                     config=TEST_CONFIG)
    app.instance_path = str(tmp_path)
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    assert 'href="tel:+33199001234"' in text(client.get("/"))
    assert "the names, numbers and addresses are not real" in text(client.get("/legal"))


def test_production_without_a_human_to_reach_warns_at_start(
        database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = settings_for(database_url, env="production", smtp_url="smtp://127.0.0.1:25",
                             redis_url="redis://127.0.0.1:6379/7",
                             allow_http_loopback_issuer=True, issuer="http://127.0.0.1:5000")
    with caplog.at_level(logging.WARNING, logger="idp.helpdesk"):
        create_app(settings=settings)
    assert "no way to reach a human" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="idp.helpdesk"):
        create_app(settings={**settings, "help_phone": "3939"})
    assert "no way to reach a human" not in caplog.text


@pytest.mark.parametrize(("name", "value"), [
    ("help_phone", "call me"), ("help_phone", "12"), ("help_email", "nobody"),
    ("help_url", "http://help.example"), ("help_url", "javascript:alert(1)"),
])
def test_a_help_setting_that_would_send_people_nowhere_is_refused(
        database_url: str, name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"IDP_{name.upper()}"):
        create_app(settings=settings_for(database_url, **{name: value}))


def test_the_footer_pages_answer_in_french_and_english(client: FlaskClient) -> None:
    for language in ("fr", "en"):
        for path in FOOTER_PAGES:
            response = client.get(path, headers={"Accept-Language": language})
            assert response.status_code == 200, (language, path)
            assert f'<html lang="{language}">' in text(response)
            for link in FOOTER_PAGES:
                assert f'href="{link}"' in text(response)


def test_the_accessibility_statement_follows_rgaa_and_shows_the_checks(
        client: FlaskClient, in_english: None) -> None:
    from idp.helpdesk import audit_results

    page = text(client.get("/accessibility"))
    audit = audit_results()
    assert "partially conformant with RGAA version 4.1" in page
    for heading in ("Conformance status", "Test results", "Content that is not accessible",
                    "Feedback and contact", "Remedies"):
        assert f"<h2>{heading}</h2>" in page
    assert "Défenseur des droits" in page
    total = len(audit["page_states"])
    assert total > 0, "the audit file is empty: run tests/browser_real/test_audit.py"
    assert f"out of {total} without any violation" in page
    assert f"{audit['keyboard']['pages']} pages walked with the Tab key" in page
    zoom = audit["zoom"]
    assert f"checked at {zoom['percent']} percent zoom: {zoom['pages_with_problems']} pages " \
        "scroll sideways" in page


def test_the_menu_shows_on_signed_in_pages_only_and_marks_the_current_one(
        logged_in: Browser, client: FlaskClient, in_english: None) -> None:
    page = text(logged_in.get("/account"))
    assert '<nav aria-label="My account" class="site-menu">' in page
    assert '<a href="/account" aria-current="page">My details</a>' in page
    for path in ("/account/platforms", "/account/mobility", "/account/security", "/help",
                 "/logout"):
        assert f'href="{path}"' in page
    security = text(logged_in.get("/account/sessions"))
    assert '<a href="/account/security" aria-current="true">Security</a>' in security
    logged_in.get("/logout")
    logged_in.submit("/logout", {})
    assert "site-menu" not in text(client.get("/help"))


def test_the_home_page_leads_to_my_platforms(logged_in: Browser, in_english: None) -> None:
    page = text(logged_in.get("/"))
    assert '<a class="button" href="/account/platforms">My platforms</a>' in page


def test_the_security_page_gathers_what_protects_the_account(
        logged_in: Browser, client: FlaskClient, in_english: None) -> None:
    page = text(logged_in.get("/account/security"))
    for path in ("/account/password", "/account/email", "/account/phone",
                 "/account/two-step", "/account/sessions"):
        assert f'href="{path}"' in page
    logged_in.get("/logout")
    logged_in.submit("/logout", {})
    assert client.get("/account/security").status_code == 302


def test_an_error_about_a_platform_says_how_to_reach_it(
        client: FlaskClient, in_english: None, app: Flask) -> None:
    platform: Platform = make_platform(name="Covoit Rhône", contacts=["help@covoit.example"],
                                       tos_uri="https://covoit.example/terms")
    page = text(client.get("/authorize", query_string={
        "client_id": platform.client_id, "response_type": "code",
        "redirect_uri": "https://elsewhere.example/cb", "scope": "openid"}))
    assert "How to contact Covoit Rhône" in page
    assert 'href="mailto:help@covoit.example"' in page
    assert 'href="https://covoit.example/terms"' in page
    assert f'href="{platform.model.policy_uri}"' in page


def test_an_error_about_an_unknown_platform_points_to_our_help(
        client: FlaskClient, in_english: None) -> None:
    page = text(client.get("/authorize", query_string={
        "client_id": "nobody", "response_type": "code", "scope": "openid"}))
    assert "If you do not know which platform sent you, ask us" in page
    assert "Need help?" in page


def test_a_confirmation_is_announced_at_the_top(logged_in: Browser, user: Traveller,
                                                in_english: None) -> None:
    logged_in.get("/account")
    page = text(logged_in.follow_local(logged_in.submit("/account", {
        "given_name": "Umberto", "family_name": "Rossi"})))
    main = page.split('<main id="main" tabindex="-1">')[1]
    assert main.lstrip().startswith('<div class="notices" role="status">')
    assert "Your details are saved." in main.split("<h1>")[0]


def test_the_operator_sets_help_through_the_environment(tmp_path: Path) -> None:
    from idp.settings import load_settings

    environ = {"IDP_OPERATOR_NAME": "Mobilité Solidaire", "IDP_HELP_PHONE": "+33 4 72 00 00 00",
               "IDP_HELP_EMAIL": "aide@example.org", "IDP_HELP_HOURS": "9 h – 17 h",
               "IDP_HELP_URL": "https://example.org/aide",
               "IDP_OPERATOR_ADDRESS": "1 place Bellecour, Lyon"}
    settings = load_settings(tmp_path, environ=environ)
    assert (settings.operator_name, settings.help_phone, settings.help_email,
            settings.help_hours, settings.help_url, settings.operator_address) == (
        "Mobilité Solidaire", "+33 4 72 00 00 00", "aide@example.org", "9 h – 17 h",
        "https://example.org/aide", "1 place Bellecour, Lyon")
