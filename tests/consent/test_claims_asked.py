"""A claim asked one by one with the claims parameter (OIDC Core 5.5) is asked on the
consent screen as its scope would be, for that claim alone: marked essential when asked
so but never ticked in advance, released once allowed, and named in the consent record."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from joserfc import jws
from joserfc.jwk import KeySet
from werkzeug.test import TestResponse

from consent.models import ConsentRecord
from idp.extensions import db
from tests.browser import AuthorizationRequest, Browser, query_of
from tests.factories import Platform, Traveller, make_platform
from tests.tokens import basic, redeem, userinfo, verify_id_token

ESSENTIAL_EMAIL = {"userinfo": {"email": {"essential": True}}}
CHECKBOX = re.compile(r'<input type="checkbox" name="(scope|claim)" value="([^"]+)"[^>]*>')

pytestmark = pytest.mark.usefixtures("in_english")


def ask(browser: Browser, platform: Platform, claims: dict[str, Any],
        scope: str = "openid", **extra: str) -> tuple[AuthorizationRequest, TestResponse]:
    request = AuthorizationRequest(platform.client_id, platform.redirect_uri, scope=scope,
                                   extra={"claims": json.dumps(claims), **extra})
    return request, browser.authorize(request)


def answer(browser: Browser, claims: list[str] = (),  # type: ignore[assignment]
           scopes: list[str] = (), decision: str = "allow") -> TestResponse:  # type: ignore[assignment]
    """Answer the consent screen with only these boxes ticked."""
    html = browser.page.get_data(as_text=True)  # type: ignore[union-attr]
    action = html.split('<form method="post" action="')[1].split('"')[0]
    data = {"decision": decision, "scope": list(scopes), "claim": list(claims)}
    return browser.follow_local(browser.submit(action, data, html))


def tokens_for(browser: Browser, platform: Platform, request: AuthorizationRequest,
               response: TestResponse) -> dict[str, Any]:
    code = query_of(response.location)["code"]
    tokens: dict[str, Any] = redeem(browser.client, platform, code, request.verifier).get_json()
    return tokens


def boxes(html: str) -> dict[str, str]:
    return {m.group(2): m.group(0) for m in CHECKBOX.finditer(html)}


def records() -> list[ConsentRecord]:
    return list(db.session.scalars(db.select(ConsentRecord).order_by(ConsentRecord.id)))


def test_an_essential_claim_is_asked_marked_and_not_ticked(
        logged_in: Browser, user: Traveller, platform: Platform) -> None:
    _, page = ask(logged_in, platform, ESSENTIAL_EMAIL)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "/consent/" in html
    assert list(boxes(html)) == ["email"]  # the claim alone, not email_verified
    assert "checked" not in boxes(html)["email"] and "required" not in boxes(html)["email"]
    assert "Email address:" in html and user.email in html  # their own value, in full
    assert "essential</span>" in html
    assert "You still choose" in html


def test_an_allowed_claim_is_released_and_recorded(logged_in: Browser, user: Traveller,
                                                   platform: Platform) -> None:
    request, _ = ask(logged_in, platform, ESSENTIAL_EMAIL)
    tokens = tokens_for(logged_in, platform, request, answer(logged_in, claims=["email"]))
    info = userinfo(logged_in.client, tokens["access_token"]).get_json()
    assert set(info) == {"sub", "email"} and info["email"] == user.email
    assert tokens["scope"] == "openid"  # the claim was asked, not the scope
    assert "email" not in verify_id_token(logged_in.client, tokens["id_token"])

    [record] = records()
    assert record.event_type == "given"
    assert "email" in record.scopes_granted and record.claims_granted == ["sub", "email"]
    [purpose] = record.purposes
    assert purpose["id"] == "email" and purpose["claims"] == ["email"]
    assert purpose["essential"] == ["email"]


def test_the_receipt_names_the_claim(logged_in: Browser, platform: Platform) -> None:
    request, _ = ask(logged_in, platform, ESSENTIAL_EMAIL)
    tokens = tokens_for(logged_in, platform, request, answer(logged_in, claims=["email"]))
    sub = userinfo(logged_in.client, tokens["access_token"]).get_json()["sub"]
    answer_ = logged_in.client.get(f"/consent/records?sub={sub}", headers=basic(platform))
    [receipt] = answer_.get_json()["receipts"]
    keys = KeySet.import_key_set(logged_in.client.get("/jwks.json").get_json())
    payload = json.loads(jws.deserialize_compact(receipt, keys).payload)
    assert "email" in payload["claims_granted"]
    assert payload["purposes"][0]["claims"] == ["email"]


@pytest.mark.parametrize("how", ["untick", "deny"])
def test_a_refused_claim_is_not_released(logged_in: Browser, platform: Platform,
                                         how: str) -> None:
    request, _ = ask(logged_in, platform, ESSENTIAL_EMAIL)
    response = answer(logged_in, decision="deny" if how == "deny" else "allow")
    if how == "deny":
        assert query_of(response.location)["error"] == "access_denied"
        assert records() == []
        return
    tokens = tokens_for(logged_in, platform, request, response)
    assert set(userinfo(logged_in.client, tokens["access_token"]).get_json()) == {"sub"}
    [record] = records()
    assert "email" in record.scopes_refused and "email" not in record.claims_granted


def test_an_answered_claim_is_not_asked_again(logged_in: Browser, user: Traveller,
                                              platform: Platform) -> None:
    request, _ = ask(logged_in, platform, ESSENTIAL_EMAIL)
    answer(logged_in, claims=["email"])
    request, response = ask(logged_in, platform, ESSENTIAL_EMAIL)
    assert response.status_code == 302  # straight back to the platform
    tokens = tokens_for(logged_in, platform, request, response)
    assert userinfo(logged_in.client, tokens["access_token"]).get_json()["email"] == user.email


def test_a_scope_given_claim_by_claim_is_asked_whole_later(logged_in: Browser,
                                                            platform: Platform) -> None:
    """Allowing one claim is not allowing its scope: asked as a scope, it is asked again."""
    ask(logged_in, platform, {"userinfo": {"given_name": None}})
    answer(logged_in, claims=["given_name"])
    _, page = ask(logged_in, platform, {}, scope="openid profile")
    assert page.status_code == 200
    assert {"given_name", "family_name"} <= set(boxes(page.get_data(as_text=True)))


def test_an_id_token_member_puts_the_allowed_claim_in_the_id_token_only(
        logged_in: Browser, platform: Platform) -> None:
    request, _ = ask(logged_in, platform, {"id_token": {"given_name": {"essential": True}}})
    tokens = tokens_for(logged_in, platform, request, answer(logged_in, claims=["given_name"]))
    assert verify_id_token(logged_in.client, tokens["id_token"])["given_name"] == "Umberto"
    # Asked for the ID token only: userinfo does not add it (OIDC Core 5.5).
    assert "given_name" not in userinfo(logged_in.client, tokens["access_token"]).get_json()


def test_a_sensitive_claim_is_asked_only_with_a_declared_purpose(
        logged_in: Browser, user: Traveller, platform: Platform) -> None:
    """address is registered but without a purpose: the claims parameter cannot open it."""
    user.model.locality = "Lyon"
    db.session.commit()
    claims = {"userinfo": {"address": {"essential": True}, "email": None}}
    request, _ = ask(logged_in, platform, claims)
    assert list(boxes(logged_in.page.get_data(as_text=True))) == ["email"]  # type: ignore[union-attr]
    tokens = tokens_for(logged_in, platform, request, answer(logged_in, claims=["email"]))
    assert "address" not in userinfo(logged_in.client, tokens["access_token"]).get_json()

    declared = make_platform(scope_policy={"address": {"required": False, "purpose": {
        "en": "We post your season ticket."}}})
    request, page = ask(logged_in, declared, claims)
    html = page.get_data(as_text=True)
    assert set(boxes(html)) == {"address", "email"} and "We post your season ticket." in html
    tokens = tokens_for(logged_in, declared, request,
                        answer(logged_in, claims=["address", "email"]))
    info = userinfo(logged_in.client, tokens["access_token"]).get_json()
    assert info["address"]["locality"] == "Lyon"


def test_a_claim_of_an_unregistered_scope_or_unknown_is_ignored(
        logged_in: Browser, platform: Platform) -> None:
    request, page = ask(logged_in, platform, {"userinfo": {
        "mob_employer": {"essential": True}, "shoe_size": {"essential": True}}})
    assert boxes(page.get_data(as_text=True)) == {}  # nothing to ask beyond sub
    tokens = tokens_for(logged_in, platform, request, answer(logged_in))
    assert set(userinfo(logged_in.client, tokens["access_token"]).get_json()) == {"sub"}
