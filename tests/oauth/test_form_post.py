"""Form Post Response Mode: the code, or the error, reaches the platform in the body of
a form the browser posts to the redirect URI, with or without JavaScript."""

from __future__ import annotations

import re
from html import unescape

import pytest
from werkzeug.test import TestResponse

from idp.oauth.responses import AUTO_SUBMIT, AUTO_SUBMIT_HASH
from tests.browser import AuthorizationRequest, Browser
from tests.factories import Platform, make_platform
from tests.tokens import redeem

FIELD = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


def posted_form(response: TestResponse) -> tuple[str, dict[str, str]]:
    """Where the page posts to, and what."""
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    action = re.search(r'<form method="post" action="([^"]+)"', html)
    assert action, "the page has no form"
    return unescape(action.group(1)), {k: unescape(v) for k, v in FIELD.findall(html)}


def request_for(platform: Platform, **extra: str) -> AuthorizationRequest:
    return AuthorizationRequest(platform.client_id, platform.redirect_uri,
                                extra={"response_mode": "form_post", **extra})


def test_the_code_is_posted_to_the_platform(logged_in: Browser, platform: Platform) -> None:
    request = request_for(platform)
    logged_in.authorize(request)

    action, fields = posted_form(logged_in.consent("allow"))

    assert action == platform.redirect_uri
    assert set(fields) == {"code", "state", "iss"}
    assert fields["state"] == request.state and fields["iss"] == "https://idp.test"
    tokens = redeem(logged_in.client, platform, fields["code"], request.verifier)
    assert tokens.status_code == 200


def test_the_page_works_without_javascript_and_under_our_csp(logged_in: Browser,
                                                            platform: Platform) -> None:
    logged_in.authorize(request_for(platform))
    response = logged_in.consent("allow")
    html = response.get_data(as_text=True)
    csp = response.headers["Content-Security-Policy"]

    assert re.search(r"<noscript>.*<button type=\"submit\"", html, re.S)
    assert f"<script>{AUTO_SUBMIT}</script>" in html
    assert f"script-src 'sha256-{AUTO_SUBMIT_HASH}'" in csp
    assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert response.headers["Cache-Control"] == "no-store"
    assert "Location" not in response.headers


def test_a_silent_answer_is_posted_too(logged_in: Browser, platform: Platform) -> None:
    logged_in.authorize(request_for(platform))
    logged_in.follow_local(logged_in.consent("allow"))
    _, fields = posted_form(logged_in.authorize(request_for(platform, prompt="none")))
    assert "code" in fields


def test_a_refusal_is_posted(logged_in: Browser, platform: Platform) -> None:
    request = request_for(platform)
    logged_in.authorize(request)
    _, fields = posted_form(logged_in.consent("deny"))
    assert fields["error"] == "access_denied" and fields["state"] == request.state
    assert fields["iss"] == "https://idp.test"


def test_errors_after_the_redirect_uri_is_checked_are_posted(browser: Browser,
                                                             platform: Platform) -> None:
    request = request_for(platform, prompt="none")
    action, fields = posted_form(browser.authorize(request))
    assert action == platform.redirect_uri
    assert fields["error"] == "login_required" and fields["state"] == request.state


def test_errors_before_are_a_page_never_a_post(browser: Browser) -> None:
    platform = make_platform(redirect_uri="https://carpool.example/callback")
    request = AuthorizationRequest(platform.client_id, "https://evil.example/callback",
                                   extra={"response_mode": "form_post"})
    response = browser.authorize(request)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'action="https://evil.example' not in html and "<script>" not in html


def test_the_redirect_uri_keeps_its_own_query(logged_in: Browser) -> None:
    platform = make_platform(redirect_uri="https://carpool.example/cb?tenant=north")
    logged_in.authorize(request_for(platform))
    action, fields = posted_form(logged_in.consent("allow"))
    assert action == "https://carpool.example/cb?tenant=north"
    assert "tenant" not in fields and "code" in fields


@pytest.mark.parametrize("mode", ["fragment", "web_message"])
def test_other_response_modes_are_refused_by_query(browser: Browser, platform: Platform,
                                                   mode: str) -> None:
    response = browser.authorize(request_for(platform, response_mode=mode))
    assert response.status_code == 302
    assert "error=invalid_request" in response.location


def test_discovery_lists_both_response_modes(browser: Browser) -> None:
    document = browser.get("/.well-known/openid-configuration").get_json()
    assert document["response_modes_supported"] == ["query", "form_post"]
