"""No copy of personal data in any cache: every answer says ``Cache-Control: no-store``
(RFC 9111 5.2.2.3; RFC 6749 5.1 for tokens), whatever its content type, except the few
that are public on purpose: discovery, the JWKS and static files.

The table names one request per route of ``app.url_map``, made by a logged-in traveller
who has allowed a platform, or by that platform with its credentials and tokens; a route
missing from the table fails the first test, so a new route gets a row."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from clients.credentials import issue_initial_access_token
from tests.browser import AuthorizationRequest, Browser, csrf_token
from tests.factories import Platform
from tests.tokens import basic, issue_tokens

PUBLIC = {"endpoints.discovery", "endpoints.jwks", "static"}
SCOPE = "openid email phone offline_access"


@dataclass
class World:
    """A traveller signed in who allowed ``platform``; the platform's tokens."""

    browser: Browser
    platform: Platform
    tokens: dict[str, Any]

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.browser.client.get(path, **kwargs)

    def form(self, path: str, data: dict[str, Any] | None = None) -> TestResponse:
        """A form post as the traveller's browser sends it, with a valid CSRF token."""
        html = self.get("/account").get_data(as_text=True)
        return self.browser.client.post(
            path, data={"csrf_token": csrf_token(html), **(data or {})},
            headers={"Referer": "https://idp.test/account"})

    def platform_post(self, path: str, data: dict[str, Any]) -> TestResponse:
        return self.browser.client.post(path, data=data, headers=basic(self.platform))

    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens['access_token']}"}


def register(world: World, method: str) -> TestResponse:
    """RFC 7591/7592: register a platform, then read, replace or delete it."""
    _, token = issue_initial_access_token(expires_in=3600, uses=1)
    meta = {"client_name": "Fuzzy carpool", "redirect_uris": ["https://fuzzy.example/cb"]}
    created = world.browser.client.post("/register", json=meta,
                                        headers={"Authorization": f"Bearer {token}"})
    if method == "POST":
        return created
    info = created.get_json()
    path = f"/register/{info['client_id']}"
    headers = {"Authorization": f"Bearer {info['registration_access_token']}"}
    body = {**meta, "client_id": info["client_id"]} if method == "PUT" else None
    return world.browser.client.open(path, method=method, json=body, headers=headers)


def authorize(world: World) -> TestResponse:
    request = AuthorizationRequest(world.platform.client_id, world.platform.redirect_uri,
                                   scope=SCOPE)
    return world.get("/authorize?" + urlencode(request.params()))


def receipt_path(world: World) -> str:
    return f"/account/platforms/{world.platform.client_id}/receipt"


Call = Callable[[World], TestResponse]
ROUTES: dict[str, Call] = {
    "accounts.home": lambda w: w.get("/"),
    "endpoints.discovery": lambda w: w.get("/.well-known/openid-configuration"),
    "accounts.profile": lambda w: w.get("/account"),
    "reauth.confirm": lambda w: w.get("/account/confirm"),
    "rights.delete": lambda w: w.get("/account/delete"),
    "email.change": lambda w: w.get("/account/email"),
    "email.resend": lambda w: w.form("/account/email/resend"),
    "rights.export": lambda w: w.get("/account/export"),
    "accounts.mobility_details": lambda w: w.get("/account/mobility"),
    "accounts.mobility_topic": lambda w: w.get("/account/mobility/home"),
    "credentials.change_password": lambda w: w.get("/account/password"),
    "credentials.change_phone": lambda w: w.get("/account/phone"),
    "platforms.index": lambda w: w.get("/account/platforms"),
    "platforms.receipt": lambda w: w.get(receipt_path(w)),
    "platforms.revoke": lambda w: w.form(
        f"/account/platforms/{w.platform.client_id}/revoke"),
    "platforms.stop": lambda w: w.form(
        f"/account/platforms/{w.platform.client_id}/delegations/stop"),
    "platforms.withdraw_scope": lambda w: w.form(
        f"/account/platforms/{w.platform.client_id}/scopes/phone/withdraw"),
    "sessions.index": lambda w: w.get("/account/sessions"),
    "sessions.end": lambda w: w.form("/account/sessions/1/end"),
    "sessions.end_others": lambda w: w.form("/account/sessions/end-others"),
    "mfa.enrol": lambda w: w.get("/account/two-step"),
    "mfa.disable": lambda w: w.get("/account/two-step/disable"),
    "mfa.regenerate": lambda w: w.get("/account/two-step/recovery-codes"),
    "oauth.authorize": authorize,
    "oauth.resume": lambda w: w.get("/authorize/continue/unknown"),
    "consent.decide": lambda w: w.form("/consent/unknown", {"decision": "allow"}),
    "consent_api.records_for_platform": lambda w: w.get(
        "/consent/records?" + urlencode({"sub": w.tokens["sub"]}), headers=basic(w.platform)),
    "email.confirm_change": lambda w: w.get("/email/confirm/not-a-token"),
    "email.verify": lambda w: w.get("/email/verify/not-a-token"),
    "logout.end_session": lambda w: w.get("/end_session"),
    "logout.confirm": lambda w: w.form("/end_session/confirm"),
    "endpoints.introspect": lambda w: w.platform_post(
        "/introspect", {"token": w.tokens["access_token"]}),
    "endpoints.jwks": lambda w: w.get("/jwks.json"),
    "language": lambda w: w.get("/language/en?next=/account"),
    "accounts.login": lambda w: w.get("/login"),
    "second_step.code": lambda w: w.get("/login/code"),
    "second_step.refuse": lambda w: w.form("/login/code/refuse"),
    "second_step.recovery": lambda w: w.get("/login/recovery"),
    "accounts.logout": lambda w: w.get("/logout"),
    "recovery.forgot": lambda w: w.get("/password/forgot"),
    "recovery.sent": lambda w: w.get("/password/forgot/sent"),
    "recovery.reset": lambda w: w.get("/password/reset/not-a-token"),
    "registration.register_client": lambda w: register(w, "POST"),
    "registration.read_client": lambda w: register(w, "GET"),
    "registration.update_client": lambda w: register(w, "PUT"),
    "registration.delete_client": lambda w: register(w, "DELETE"),
    "endpoints.revoke": lambda w: w.platform_post(
        "/revoke", {"token": w.tokens["refresh_token"]}),
    "accounts.signup": lambda w: w.get("/signup"),
    "accounts.resend_signup_link": lambda w: w.form("/signup/resend"),
    "static": lambda w: w.get("/static/style.css"),
    "endpoints.token": lambda w: w.platform_post(
        "/token", {"grant_type": "refresh_token", "refresh_token": w.tokens["refresh_token"]}),
    "endpoints.userinfo": lambda w: w.get("/userinfo", headers=w.bearer()),
    "par.push": lambda w: w.platform_post("/par", AuthorizationRequest(
        w.platform.client_id, w.platform.redirect_uri).params()),
    "health.liveness": lambda w: w.get("/healthz"),
    "health.readiness": lambda w: w.get("/readyz"),
    "metrics.scrape": lambda w: w.get("/metrics"),  # 404 here: no token configured
}


@pytest.fixture
def world(logged_in: Browser, platform: Platform) -> World:
    tokens = issue_tokens(logged_in, platform, scope=SCOPE)
    info = logged_in.client.get("/userinfo",
                                headers={"Authorization": f"Bearer {tokens['access_token']}"})
    return World(logged_in, platform, tokens | {"sub": info.get_json()["sub"]})


# The help and footer pages (issue 12): they show the signed-in menu, so no-store too.
ROUTES.update({
    "help.help_page": lambda w: w.get("/help"),
    "help.legal": lambda w: w.get("/legal"),
    "help.privacy": lambda w: w.get("/privacy"),
    "help.accessibility": lambda w: w.get("/accessibility"),
    "help.security": lambda w: w.get("/account/security"),
    # The readable data and proof pages (issue 12, item 9).
    "rights.readable": lambda w: w.get("/account/data"),
    "proof.show": lambda w: w.get(f"/account/platforms/{w.platform.client_id}/proof"),
    # Restarting a platform's request that took too long (issue 12, item 2).
    "oauth.restart": lambda w: w.form("/authorize/restart/unknown-interaction"),
})

# Consent given with an advisor's help (issue 12, assisted access): no advisor signed in here.
ROUTES.update({
    "assisted_consent.consent": lambda w: w.get(
        f"/advisor/travellers/unknown/consent/{w.platform.client_id}"),
    "assisted_consent.done": lambda w: w.get(
        f"/advisor/travellers/unknown/consent/{w.platform.client_id}/done"),
})


# Assisted access (issue 12): the advisors' pages (a traveller's browser is sent to the
# advisor sign-in, or gets its refusal) and the traveller's "People who help you".
ADVISOR_MANDATE = "00000000-0000-4000-8000-000000000000"
ROUTES.update({
    "advisors.login": lambda w: w.get("/advisor/login"),
    "advisors.code": lambda w: w.get("/advisor/login/code"),
    "advisors.logout": lambda w: w.form("/advisor/logout"),
    "advisors.setup": lambda w: w.get("/advisor/setup/not-a-token"),
    "advisor_work.dashboard": lambda w: w.get("/advisor"),
    "advisor_work.new_traveller": lambda w: w.get("/advisor/travellers/new"),
    "advisor_work.new_mandate": lambda w: w.get("/advisor/mandates/new"),
    "advisor_work.confirm": lambda w: w.get(f"/advisor/mandates/{ADVISOR_MANDATE}/confirm"),
    "advisor_work.send_new_code": lambda w: w.form(f"/advisor/mandates/{ADVISOR_MANDATE}/code"),
    "advisor_work.stop": lambda w: w.form(f"/advisor/mandates/{ADVISOR_MANDATE}/stop"),
    "advisor_work.details": lambda w: w.get(f"/advisor/travellers/{ADVISOR_MANDATE}/details"),
    "advisor_work.details_topic": lambda w: w.get(
        f"/advisor/travellers/{ADVISOR_MANDATE}/details/carpool"),
    "advisor_history.show": lambda w: w.get(f"/advisor/travellers/{ADVISOR_MANDATE}/history"),
    "operator.advisors": lambda w: w.get("/operator/advisors"),
    "operator.revoke": lambda w: w.form("/operator/advisors/adv_0000000000000000/revoke"),
    "helpers.index": lambda w: w.get("/account/helpers"),
    "helpers.stop": lambda w: w.form(f"/account/helpers/{ADVISOR_MANDATE}/stop"),
})


def test_every_route_is_in_the_table(app: Flask) -> None:
    assert {rule.endpoint for rule in app.url_map.iter_rules()} == set(ROUTES)


@pytest.mark.parametrize("endpoint", sorted(set(ROUTES) - PUBLIC))
def test_answers_with_personal_data_or_tokens_are_never_stored(world: World,
                                                               endpoint: str) -> None:
    response = ROUTES[endpoint](world)
    response.close()
    assert response.status_code < 500
    assert response.headers.get("Cache-Control") == "no-store", (
        response.status_code, response.mimetype)


@pytest.mark.parametrize("endpoint", sorted(PUBLIC))
def test_public_documents_keep_their_own_cache_policy(world: World, endpoint: str) -> None:
    response = ROUTES[endpoint](world)
    response.close()
    assert response.status_code == 200
    assert "no-store" not in response.headers["Cache-Control"]
    assert response.headers["ETag"]


def test_an_error_answer_is_not_stored_either(world: World) -> None:
    response = world.browser.client.post("/token", data={"grant_type": "nonsense"})
    assert response.status_code in (400, 401)
    assert response.headers["Cache-Control"] == "no-store"


ROUTES.update({
    # The phone route (issue 12, item 4).
    "phone.verify": lambda w: w.get("/account/phone/verify"),
    "phone.send": lambda w: w.form("/account/phone/verify/send"),
    "sms_recovery.ask": lambda w: w.get("/password/forgot/sms"),
    "sms_recovery.again": lambda w: w.form("/password/forgot/sms/again"),
    "sms_recovery.code": lambda w: w.get("/password/forgot/sms/code"),
    "recovery.reset_by_sms": lambda w: w.get("/password/reset/by-sms/not-a-token"),
    "sms_signup.send": lambda w: w.form("/signup/sms"),
    "sms_signup.code": lambda w: w.get("/signup/sms/code"),
})
