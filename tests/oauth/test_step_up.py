"""A platform asks for two-step verification (acr_values, or an essential acr claim):
the traveller's session is raised with a code, or the traveller learns how to turn it on,
or goes back and the platform hears unmet_authentication_requirements. ID tokens carry
what happened as acr and amr (OIDC Core 2, RFC 8176)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from time_machine import TimeMachineFixture
from werkzeug.test import TestResponse

from idp.accounts.login import ACR_MFA, ACR_PASSWORD
from idp.accounts.models import BrowserSession
from idp.extensions import db
from tests.browser import AuthorizationRequest, Browser, query_of
from tests.factories import Platform, Traveller
from tests.tokens import redeem, verify_id_token
from tests.totp import RECOVERY_CODE, code_at, enrol, read_key

ESSENTIAL_MFA = json.dumps({"id_token": {"acr": {"essential": True, "values": [ACR_MFA]}}})

pytestmark = pytest.mark.usefixtures("frozen", "in_english")


@pytest.fixture
def enrolled_elsewhere(app: Flask, logged_in: Browser, user: Traveller,
                       frozen: TimeMachineFixture) -> tuple[str, list[str]]:
    """The traveller, logged in here with the password, turns two-step verification on
    from another browser: this session stays a password-only one."""
    other = Browser(app.test_client())
    other.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    other.login(user.email, user.password)
    enrolled = enrol(other)
    frozen.shift(90)
    return enrolled


def request_for(platform: Platform, **extra: str) -> AuthorizationRequest:
    return AuthorizationRequest(platform.client_id, platform.redirect_uri, extra=extra)


def the_session() -> BrowserSession:
    """The session of this test's browser: the first one (another browser may follow)."""
    db.session.expire_all()
    login = db.session.scalar(db.select(BrowserSession).order_by(BrowserSession.id))
    assert login is not None
    return login


def finish(browser: Browser, platform: Platform, request: AuthorizationRequest,
           page: TestResponse) -> dict[str, Any]:
    """Allow on the consent screen; the platform redeems the code; the ID token's claims."""
    assert page.status_code == 200
    answer = browser.follow_local(browser.consent("allow"))
    response = redeem(browser.client, platform, query_of(answer.location)["code"],
                      request.verifier)
    assert response.status_code == 200, response.get_json()
    return verify_id_token(browser.client, response.get_json()["id_token"])


def test_discovery_advertises_both_classes(client: FlaskClient) -> None:
    config = client.get("/.well-known/openid-configuration").get_json()
    assert config["acr_values_supported"] == [ACR_PASSWORD, ACR_MFA]


def test_a_plain_login_gives_the_password_class(
        logged_in: Browser, platform: Platform) -> None:
    request = request_for(platform)
    claims = finish(logged_in, platform, request, logged_in.authorize(request))
    assert claims["acr"] == ACR_PASSWORD and claims["amr"] == ["pwd"]


@pytest.mark.parametrize("extra", [{"acr_values": ACR_MFA},
                                   {"acr_values": f"{ACR_MFA} {ACR_PASSWORD}"},
                                   {"claims": ESSENTIAL_MFA}])
def test_a_password_session_is_raised_with_a_code(
        logged_in: Browser, platform: Platform, enrolled_elsewhere: tuple[str, list[str]],
        extra: dict[str, str]) -> None:
    key, _ = enrolled_elsewhere
    before = the_session()
    sid, key_hash = before.sid, before.key_hash
    request = request_for(platform, **extra)
    page = logged_in.authorize(request)
    assert page.request.path == "/login/code"
    assert f"{platform.model.client_name} asks for two-step verification" in page.get_data(
        as_text=True)
    wrong = logged_in.submit(page.request.full_path, {"code": "123456"})
    assert wrong.status_code == 400 and the_session().acr == ACR_PASSWORD
    page = logged_in.follow_local(logged_in.submit(page.request.full_path,
                                                   {"code": code_at(key)}))
    after = the_session()
    assert after.sid == sid and after.key_hash != key_hash  # same session, new key
    assert after.acr == ACR_MFA and after.amr == ["pwd", "otp", "mfa"]
    claims = finish(logged_in, platform, request, page)
    assert claims["acr"] == ACR_MFA
    assert {"otp", "mfa"} <= set(claims["amr"])
    assert claims["sid"] == sid


def test_a_recovery_code_raises_the_session_without_otp(
        logged_in: Browser, platform: Platform,
        enrolled_elsewhere: tuple[str, list[str]]) -> None:
    _, codes = enrolled_elsewhere
    request = request_for(platform, acr_values=ACR_MFA)
    page = logged_in.authorize(request)
    recovery = logged_in.get(page.request.full_path.replace("/login/code", "/login/recovery"))
    assert recovery.status_code == 200
    page = logged_in.follow_local(logged_in.submit(recovery.request.full_path,
                                                   {"recovery_code": codes[0]}))
    claims = finish(logged_in, platform, request, page)
    assert claims["acr"] == ACR_MFA and claims["amr"] == ["pwd", "mfa"]


def test_an_mfa_session_is_not_asked_again(
        browser: Browser, user: Traveller, platform: Platform,
        enrolled_elsewhere: tuple[str, list[str]]) -> None:
    key, _ = enrolled_elsewhere
    request = request_for(platform, acr_values=ACR_MFA)
    page = browser.authorize(request)  # a new browser: login, then the code
    page = browser.login_form(user.email, user.password)
    assert page.request.path == "/login/code"
    page = browser.follow_local(browser.submit(page.request.full_path, {"code": code_at(key)}))
    claims = finish(browser, platform, request, page)
    assert claims["acr"] == ACR_MFA
    second = request_for(platform, acr_values=ACR_MFA)
    page = browser.authorize(second)
    assert page.status_code == 302 and "code" in query_of(page.location)


def test_an_mfa_session_states_the_password_class_when_only_that_is_essential(
        browser: Browser, platform: Platform,
        enrolled_elsewhere: tuple[str, list[str]]) -> None:
    """OIDC Core 5.5.1.1: the acr returned is one of the essential values; amr still says
    a second factor was given."""
    key, _ = enrolled_elsewhere
    request = request_for(platform, claims=ESSENTIAL_MFA)
    page = browser.authorize(request)
    page = browser.follow_local(browser.submit(page.request.full_path, {"code": code_at(key)}))
    assert finish(browser, platform, request, page)["acr"] == ACR_MFA
    password_only = json.dumps({"id_token": {"acr": {"essential": True,
                                                     "values": [ACR_PASSWORD]}}})
    second = request_for(platform, claims=password_only)
    answer = browser.authorize(second)
    assert answer.status_code == 302, "the consent on record covers it: no page"
    tokens = redeem(browser.client, platform, query_of(answer.location)["code"],
                    second.verifier).get_json()
    claims = verify_id_token(browser.client, tokens["id_token"])
    assert claims["acr"] == ACR_PASSWORD and "otp" in claims["amr"]


def test_password_first_in_preference_needs_no_code(
        logged_in: Browser, platform: Platform,
        enrolled_elsewhere: tuple[str, list[str]]) -> None:
    request = request_for(platform, acr_values=f"{ACR_PASSWORD} {ACR_MFA}")
    claims = finish(logged_in, platform, request, logged_in.authorize(request))
    assert claims["acr"] == ACR_PASSWORD


def test_without_two_step_a_password_fallback_is_used(
        logged_in: Browser, platform: Platform) -> None:
    request = request_for(platform, acr_values=f"{ACR_MFA} {ACR_PASSWORD}")
    claims = finish(logged_in, platform, request, logged_in.authorize(request))
    assert claims["acr"] == ACR_PASSWORD and claims["amr"] == ["pwd"]


def test_without_two_step_the_traveller_can_go_back_refusing(
        logged_in: Browser, platform: Platform) -> None:
    request = request_for(platform, acr_values=ACR_MFA)
    page = logged_in.authorize(request)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f"{platform.model.client_name} asks for two-step verification" in html
    assert 'href="/account/two-step?next=/authorize/continue/' in html
    interaction = query_of(page.request.full_path)["interaction"]
    response = logged_in.submit(f"/login/code/refuse?interaction={interaction}", {})
    assert response.location.startswith(platform.redirect_uri + "?")
    params = query_of(response.location)
    assert params == {"error": "unmet_authentication_requirements", "state": request.state,
                      "iss": "https://idp.test"}
    # The interaction is used up: the refusal cannot be replayed.
    again = logged_in.submit(f"/login/code/refuse?interaction={interaction}", {}, html=html)
    assert not again.location.startswith(platform.redirect_uri)


def test_without_two_step_the_traveller_turns_it_on_and_continues(
        logged_in: Browser, platform: Platform) -> None:
    request = request_for(platform, acr_values=ACR_MFA)
    page = logged_in.authorize(request)
    enrol_url = page.get_data(as_text=True).split('<a class="button" href="')[1].split('"')[0]
    page = logged_in.get(enrol_url.replace("&amp;", "&"))
    key = read_key(page.get_data(as_text=True))
    page = logged_in.submit(page.request.full_path, {"code": code_at(key)})
    html = page.get_data(as_text=True)
    assert len(RECOVERY_CODE.findall(html)) == 10
    back = html.split('<a class="button" href="')[1].split('"')[0]
    assert back.startswith("/authorize/continue/")
    claims = finish(logged_in, platform, request, logged_in.follow_local(logged_in.get(back)))
    assert claims["acr"] == ACR_MFA and claims["amr"] == ["pwd", "otp", "mfa"]


@pytest.mark.parametrize("with_two_step", [True, False])
def test_prompt_none_with_an_unmet_class_tells_the_platform(
        app: Flask, logged_in: Browser, user: Traveller, platform: Platform,
        with_two_step: bool, frozen: TimeMachineFixture) -> None:
    if with_two_step:
        other = Browser(app.test_client())
        other.login(user.email, user.password)
        enrol(other)
    request = request_for(platform, acr_values=ACR_MFA, prompt="none")
    response = logged_in.authorize(request)
    assert response.location.startswith(platform.redirect_uri + "?")
    assert query_of(response.location)["error"] == "login_required"
    assert query_of(response.location)["state"] == request.state


def test_prompt_login_of_a_two_step_traveller_asks_the_code_again(
        logged_in: Browser, user: Traveller, platform: Platform,
        enrolled_elsewhere: tuple[str, list[str]]) -> None:
    key, _ = enrolled_elsewhere
    request = request_for(platform, prompt="login")
    page = logged_in.authorize(request)
    assert page.request.path == "/login"
    page = logged_in.login_form(user.email, user.password)
    assert page.request.path == "/login/code"
    page = logged_in.follow_local(logged_in.submit(page.request.full_path,
                                                   {"code": code_at(key)}))
    claims = finish(logged_in, platform, request, page)
    assert claims["acr"] == ACR_MFA and "otp" in claims["amr"]


@pytest.mark.parametrize("interaction", ["", "nope", "x" * 300])
def test_the_step_up_page_with_a_bad_interaction_sends_to_login(
        logged_in: Browser, interaction: str) -> None:
    response = logged_in.get(f"/login/code?interaction={interaction}")
    assert response.status_code == 302 and response.location.startswith("/login")
