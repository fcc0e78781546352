"""A slow traveller is not dropped (issue 12, item 2; WCAG 2.2.1 Timing Adjustable).

A platform's request waits an hour for the traveller; the login page says so. A login or
consent finished later never lands on "My details" without a word: a page names the
platform, and one button restarts the platform's same request, whose answer goes only to
a redirect URI the platform registered."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
from werkzeug.test import TestResponse

from idp.extensions import db, utcnow
from tests.browser import AuthorizationRequest, Browser, form_action, query_of
from tests.factories import Platform, Traveller, make_platform
from tests.totp import code_at, enrol, freeze_at_step_start

RESTART = re.compile(r'action="(/authorize/restart/[^"]+)"')


def request_for(platform: Platform) -> AuthorizationRequest:
    return AuthorizationRequest(platform.client_id, platform.redirect_uri)


def later(time_machine: Any, minutes: int) -> None:
    time_machine.move_to(utcnow() + timedelta(minutes=minutes), tick=False)


def text_of(page: TestResponse) -> str:
    return unescape(page.get_data(as_text=True))


def assert_expired_page(page: TestResponse, platform: Platform) -> str:
    """The page names the platform and has the one button back; returns its action."""
    html = text_of(page)
    assert page.status_code == 200
    assert "Location" not in page.headers
    assert f"Your request from {platform.model.client_name} took too long" in html
    assert f"Go back to {platform.model.client_name}" in html
    match = RESTART.search(html)
    assert match, "no restart button"
    return match.group(1)


def test_the_login_page_names_the_platform_and_the_time_limit(
        browser: Browser, platform: Platform, in_english: None) -> None:
    page = browser.authorize(request_for(platform))
    html = text_of(page)
    assert (f"{platform.model.client_name} uses Mobility ID, your one mobility account, "
            "to sign you in.") in html
    assert "You have 60 minutes to log in." in html


def test_the_login_page_without_a_platform_has_no_platform_line(
        browser: Browser, in_english: None) -> None:
    html = text_of(browser.get("/login"))
    assert "uses Mobility ID" not in html
    assert "minutes to log in" not in html


def test_a_login_finished_16_minutes_later_goes_on_to_the_platform(
        browser: Browser, user: Traveller, platform: Platform, time_machine: Any) -> None:
    browser.authorize(request_for(platform))
    later(time_machine, 16)
    page = browser.login_form(user.email, user.password)
    assert form_action(text_of(page), "").startswith("/consent/")


def test_a_login_finished_61_minutes_later_says_so_and_goes_back_to_the_platform(
        browser: Browser, user: Traveller, platform: Platform, time_machine: Any,
        in_english: None) -> None:
    request = request_for(platform)
    browser.authorize(request)
    later(time_machine, 61)
    page = browser.login_form(user.email, user.password)
    assert page.request.path.startswith("/authorize/continue/")
    restart = assert_expired_page(page, platform)
    assert "You are logged in to Mobility ID" in text_of(page)

    page = browser.follow_local(browser.submit(restart, {}))
    assert form_action(text_of(page), "").startswith("/consent/")  # no second login
    answer = browser.consent()
    assert answer.location.startswith(platform.redirect_uri + "?")
    assert query_of(answer.location)["state"] == request.state  # the platform's own request


def test_a_consent_given_61_minutes_later_says_so_and_can_restart(
        logged_in: Browser, platform: Platform, time_machine: Any, in_english: None) -> None:
    request = request_for(platform)
    logged_in.authorize(request)
    later(time_machine, 61)
    restart = assert_expired_page(logged_in.consent(), platform)
    logged_in.follow_local(logged_in.submit(restart, {}))
    answer = logged_in.consent()
    assert query_of(answer.location)["state"] == request.state
    assert "code" in query_of(answer.location)


def test_a_restarted_request_is_used_once(logged_in: Browser, platform: Platform,
                                          time_machine: Any, in_english: None) -> None:
    logged_in.authorize(request_for(platform))
    later(time_machine, 61)
    page = logged_in.consent()
    restart = assert_expired_page(page, platform)
    logged_in.submit(restart, {})
    again = logged_in.submit(restart, {}, text_of(page))
    assert again.status_code == 400
    assert "Location" not in again.headers


def test_a_request_kept_past_a_day_is_gone(browser: Browser, user: Traveller,
                                           platform: Platform, time_machine: Any,
                                           in_english: None) -> None:
    browser.authorize(request_for(platform))
    later(time_machine, 25 * 60 + 30)  # the hour, then the day it is kept
    page = browser.login_form(user.email, user.password)
    assert page.request.path == "/account"  # My details: nothing left to go back to


def test_restart_needs_the_pages_csrf_token(logged_in: Browser, platform: Platform,
                                            time_machine: Any) -> None:
    logged_in.authorize(request_for(platform))
    later(time_machine, 61)
    restart = assert_expired_page_any_language(logged_in.consent())
    response = logged_in.client.post(restart)
    assert response.status_code in (400, 403)
    assert "Location" not in response.headers


def assert_expired_page_any_language(page: TestResponse) -> str:
    match = RESTART.search(text_of(page))
    assert match
    return match.group(1)


@pytest.mark.parametrize("path", ["/authorize/restart/unknown", "/authorize/restart/"
                                  + "x" * 300])
def test_restarting_an_unknown_request_is_an_error_page(logged_in: Browser, platform: Platform,
                                                        path: str) -> None:
    page = logged_in.authorize(request_for(platform))
    response = logged_in.submit(path, {}, text_of(page))
    assert response.status_code in (400, 404)
    assert "Location" not in response.headers


def test_an_expired_request_never_goes_to_a_redirect_uri_no_longer_registered(
        logged_in: Browser, platform: Platform, time_machine: Any) -> None:
    logged_in.authorize(request_for(platform))
    later(time_machine, 61)
    restart = assert_expired_page_any_language(logged_in.consent())
    platform.model.redirect_uris = ["https://elsewhere.example/callback"]
    db.session.commit()
    response = logged_in.submit(restart, {})
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_someone_not_signed_in_goes_back_to_the_platforms_registered_site(
        browser: Browser, time_machine: Any, in_english: None) -> None:
    platform = make_platform(client_uri="https://carpool.example/")
    page = browser.authorize(request_for(platform))
    interaction = query_of(page.request.full_path)["interaction"]
    later(time_machine, 61)
    page = browser.get(f"/authorize/continue/{interaction}")
    html = text_of(page)
    assert f"Your request from {platform.model.client_name} took too long" in html
    assert '<a class="button" href="https://carpool.example/">' in html
    assert "/authorize/restart/" not in html


def test_someone_not_signed_in_without_a_platform_site_restarts_and_logs_in(
        browser: Browser, user: Traveller, platform: Platform, time_machine: Any,
        in_english: None) -> None:
    page = browser.authorize(request_for(platform))
    interaction = query_of(page.request.full_path)["interaction"]
    later(time_machine, 61)
    restart = assert_expired_page(browser.get(f"/authorize/continue/{interaction}"), platform)
    page = browser.follow_local(browser.submit(restart, {}))
    assert page.request.path == "/login"
    page = browser.login_form(user.email, user.password)
    assert form_action(text_of(page), "").startswith("/consent/")


def test_a_login_with_a_code_finished_61_minutes_later_says_so_too(
        logged_in: Browser, user: Traveller, platform: Platform, time_machine: Any,
        in_english: None) -> None:
    freeze_at_step_start(time_machine)
    key, _ = enrol(logged_in)
    logged_in.get("/logout")
    logged_in.submit("/logout", {})
    page = logged_in.authorize(request_for(platform))
    later(time_machine, 61)
    response = logged_in.submit(page.request.full_path,
                                {"email": user.email, "password": user.password})
    code_page = logged_in.get(response.location)
    response = logged_in.submit(code_page.request.full_path, {"code": code_at(key)})
    assert_expired_page(logged_in.follow_local(response), platform)
