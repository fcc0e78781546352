"""The authorization endpoint: what a traveller sees and what a platform gets back."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import pytest

from idp.accounts.models import BrowserSession
from idp.extensions import db, utcnow
from tests.browser import AuthorizationRequest, Browser, query_of
from tests.factories import Platform, Traveller, make_platform


def request_for(platform: Platform, **extra: str) -> AuthorizationRequest:
    return AuthorizationRequest(platform.client_id, platform.redirect_uri, extra=extra)


def assert_error_page(response, code: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert code in response.get_data(as_text=True)


def assert_redirect_error(response, platform: Platform, error: str,  # type: ignore[no-untyped-def]
                          state: str | None = None) -> dict[str, str]:
    assert response.status_code == 302
    assert response.location.startswith(platform.redirect_uri + "?")
    params = query_of(response.location)
    assert params["error"] == error
    assert params["iss"] == "https://idp.test"
    if state:
        assert params["state"] == state
    return params


def test_unknown_client_gets_an_error_page_and_no_redirect(browser: Browser) -> None:
    request = AuthorizationRequest("no-such-client", "https://evil.example/cb")
    assert_error_page(browser.authorize(request), "invalid_client")


@pytest.mark.parametrize("redirect_uri", [
    "https://evil.example/callback",
    "https://carpool.example/callback/",  # a trailing slash is another URI
    "https://CARPOOL.example/callback",
    "https://carpool.example/callback?x=1",
    "",
])
def test_unregistered_redirect_uri_is_never_followed(browser: Browser, redirect_uri: str) -> None:
    platform = make_platform(redirect_uri="https://carpool.example/callback")
    request = AuthorizationRequest(platform.client_id, redirect_uri or None)  # type: ignore[arg-type]
    assert_error_page(browser.authorize(request), "invalid_request")


def test_only_the_code_response_type_is_supported(browser: Browser, platform: Platform) -> None:
    request = request_for(platform, response_type="id_token token")
    assert_redirect_error(browser.authorize(request), platform, "unsupported_response_type",
                          request.state)


@pytest.mark.parametrize("extra, error", [
    ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
    ({"code_challenge_method": "plain"}, "invalid_request"),
    ({"code_challenge": "short"}, "invalid_request"),
    ({"scope": "profile email"}, "invalid_scope"),
    ({"request": "eyJhbGciOiJub25lIn0.e30."}, "invalid_request_object"),
    ({"request_uri": "https://carpool.example/request.jwt"}, "request_uri_not_supported"),
    ({"response_mode": "fragment"}, "invalid_request"),
    ({"max_age": "soon"}, "invalid_request"),
    ({"prompt": "none login"}, "invalid_request"),
])
def test_bad_requests_go_back_to_the_platform_with_the_oauth_error(
        browser: Browser, platform: Platform, extra: dict[str, str], error: str) -> None:
    request = request_for(platform, **extra)
    assert_redirect_error(browser.authorize(request), platform, error, request.state)


def test_a_repeated_parameter_is_refused(browser: Browser, platform: Platform) -> None:
    params = request_for(platform).params()
    query = urlencode(params) + "&state=second"
    response = browser.get("/authorize?" + query)
    assert response.status_code in (302, 400)
    if response.status_code == 302:
        assert query_of(response.location)["error"] == "invalid_request"


def test_an_oversized_request_is_refused_without_a_500(browser: Browser,
                                                        platform: Platform) -> None:
    request = request_for(platform, state="x" * 5000)
    assert_error_page(browser.authorize(request), "invalid_request")


def test_public_client_without_pkce_is_refused(browser: Browser, public_platform: Platform) -> None:
    request = request_for(public_platform, code_challenge=None, code_challenge_method=None)
    assert_redirect_error(browser.authorize(request), public_platform, "invalid_request")


def test_prompt_none_without_a_session_answers_login_required(browser: Browser,
                                                              platform: Platform) -> None:
    request = request_for(platform, prompt="none")
    assert_redirect_error(browser.authorize(request), platform, "login_required", request.state)


def test_prompt_none_before_consent_answers_consent_required(logged_in: Browser,
                                                             platform: Platform) -> None:
    request = request_for(platform, prompt="none")
    assert_redirect_error(logged_in.authorize(request), platform, "consent_required")


def test_prompt_none_after_consent_returns_a_code_silently(logged_in: Browser,
                                                          platform: Platform) -> None:
    logged_in.authorize(request_for(platform))
    logged_in.follow_local(logged_in.consent("allow"))
    response = logged_in.authorize(request_for(platform, prompt="none"))
    assert response.status_code == 302
    assert "code" in query_of(response.location)


def test_the_same_scopes_are_not_asked_again(logged_in: Browser, platform: Platform) -> None:
    logged_in.authorize(request_for(platform))
    logged_in.follow_local(logged_in.consent("allow"))
    response = logged_in.authorize(request_for(platform))
    assert response.status_code == 302 and "code" in query_of(response.location)
    # A new scope is asked for.
    page = logged_in.authorize(request_for(platform, scope="openid profile email phone"))
    assert page.status_code == 200
    assert "/consent/" in page.get_data(as_text=True)


def test_prompt_consent_asks_again(logged_in: Browser, platform: Platform) -> None:
    logged_in.authorize(request_for(platform))
    logged_in.follow_local(logged_in.consent("allow"))
    page = logged_in.authorize(request_for(platform, prompt="consent"))
    assert page.status_code == 200 and "/consent/" in page.get_data(as_text=True)


def test_deny_sends_access_denied_to_the_platform(logged_in: Browser, platform: Platform) -> None:
    request = request_for(platform)
    logged_in.authorize(request)
    response = logged_in.follow_local(logged_in.consent("deny"))
    assert_redirect_error(response, platform, "access_denied", request.state)


def test_a_replayed_confirmation_finds_nothing(logged_in: Browser, platform: Platform) -> None:
    logged_in.authorize(request_for(platform))
    html = logged_in.page.get_data(as_text=True)  # type: ignore[union-attr]
    first = logged_in.consent("allow")
    assert first.status_code == 302
    action = html.split('action="')[1].split('"')[0]
    again = logged_in.submit(action, {"decision": "allow"}, html)
    assert again.status_code == 400
    assert "Location" not in again.headers


def test_a_tampered_decision_is_refused(logged_in: Browser, platform: Platform) -> None:
    logged_in.authorize(request_for(platform))
    html = logged_in.page.get_data(as_text=True)  # type: ignore[union-attr]
    action = html.split('action="')[1].split('"')[0]
    response = logged_in.submit(action, {"decision": "allow-everything"}, html)
    assert response.status_code == 400


def test_consent_without_csrf_token_is_refused(logged_in: Browser, platform: Platform) -> None:
    logged_in.authorize(request_for(platform))
    html = logged_in.page.get_data(as_text=True)  # type: ignore[union-attr]
    action = html.split('action="')[1].split('"')[0]
    response = logged_in.client.post(action, data={"decision": "allow"},
                                     headers={"Referer": "https://idp.test/"})
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_prompt_login_asks_for_the_password_again(logged_in: Browser, user: Traveller,
                                                  platform: Platform) -> None:
    page = logged_in.authorize(request_for(platform, prompt="login"))
    assert page.request.path == "/login"
    page = logged_in.login_form(user.email, user.password)
    assert "/consent/" in page.get_data(as_text=True)


def test_max_age_forces_a_fresh_login_when_the_session_is_older(
        logged_in: Browser, user: Traveller, platform: Platform) -> None:
    login = db.session.scalar(db.select(BrowserSession))
    login.auth_time = utcnow() - timedelta(hours=1)
    db.session.commit()
    page = logged_in.authorize(request_for(platform, max_age="600"))
    assert page.request.path == "/login"
    page = logged_in.authorize(request_for(platform, max_age="7200"))
    assert "/consent/" in page.get_data(as_text=True)


def test_login_hint_fills_the_email_field(browser: Browser, platform: Platform) -> None:
    page = browser.authorize(request_for(platform, login_hint="umberto@example.org"))
    assert 'value="umberto@example.org"' in page.get_data(as_text=True)


def test_optional_parameters_are_accepted(logged_in: Browser, platform: Platform) -> None:
    request = request_for(platform, display="touch", claims_locales="fr", acr_values="urn:x",
                          ui_locales="en", unknown_parameter="whatever")
    page = logged_in.authorize(request)
    assert page.status_code == 200 and "/consent/" in page.get_data(as_text=True)


def test_the_request_may_be_posted(logged_in: Browser, platform: Platform) -> None:
    page = logged_in.authorize(request_for(platform), method="POST")
    assert page.status_code == 200 and "/consent/" in page.get_data(as_text=True)


def test_single_sign_on_across_platforms(browser: Browser, user: Traveller) -> None:
    first, second = make_platform(name="Regional carpool"), make_platform(name="National carpool")
    browser.authorize(request_for(first))
    browser.login_form(user.email, user.password)
    assert browser.follow_local(browser.consent("allow")).status_code == 302
    page = browser.authorize(request_for(second))
    assert page.request.path.startswith("/authorize")  # no login page on the way
    assert "National carpool" in page.get_data(as_text=True)


@pytest.mark.parametrize("query", [
    "client_id=" + "x" * 3000 + "&response_type=code",
    "client_id=%ff%fe&response_type=code&redirect_uri=%00",
    "client_id=caf%C3%A9&response_type=code&scope=openid",
    "response_type=code",
    "",
    "client_id[]=a&client_id[]=b",
])
def test_garbage_never_gets_a_500_nor_a_redirect(browser: Browser, query: str) -> None:
    response = browser.get("/authorize?" + query)
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_many_pending_requests_keep_the_session_cookie_small(browser: Browser,
                                                            platform: Platform) -> None:
    for _ in range(6):
        response = browser.get("/authorize?" + urlencode(
            request_for(platform, state="s" * 1500).params()))
        assert response.status_code == 302
    cookie = response.headers["Set-Cookie"].split(";")[0]
    assert len(cookie) < 4000
    # The newest request is still there: its login page leads back to it.
    assert browser.follow_local(response).status_code == 200
