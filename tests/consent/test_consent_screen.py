"""The consent screen and the consent record: the traveller decides, scope by scope."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest

from consent.models import ConsentRecord
from idp.extensions import db, utcnow
from tests.browser import AuthorizationRequest, Browser, query_of
from tests.factories import Platform, Traveller, make_platform
from tests.tokens import redeem, userinfo

SCOPE = "openid profile email phone offline_access"
POLICY = {
    "email": {"required": True, "purpose": {"en": "We send your booking confirmation.",
                                            "fr": "Nous envoyons la confirmation."}},
    "phone": {"required": False, "purpose": {"en": "The driver can call you."}},
}


@pytest.fixture
def carpool(app) -> Platform:  # type: ignore[no-untyped-def]
    return make_platform(name="National carpool", scope_policy=POLICY,
                         contacts=["dpo@carpool.example"])


def ask(browser: Browser, platform: Platform, scope: str = SCOPE, **extra: str):  # type: ignore[no-untyped-def]
    request = AuthorizationRequest(platform.client_id, platform.redirect_uri, scope=scope,
                                   extra=extra)
    return request, browser.authorize(request)


def answer(browser: Browser, scopes: list[str] = (), claims: list[str] = (),  # type: ignore[assignment]
           decision: str = "allow"):  # type: ignore[no-untyped-def]
    html = browser.page.get_data(as_text=True)  # type: ignore[union-attr]
    action = html.split('<form method="post" action="')[1].split('"')[0]
    data: dict = {"decision": decision, "scope": list(scopes), "claim": list(claims)}
    return browser.follow_local(browser.submit(action, data, html))


def records() -> list[ConsentRecord]:
    return list(db.session.scalars(db.select(ConsentRecord).order_by(ConsentRecord.id)))


def checkboxes(html: str) -> dict[str, str]:
    return {m.group(2): m.group(0) for m in
            re.finditer(r'<input type="checkbox" name="(scope|claim)" value="([^"]+)"[^>]*>', html)}


def test_the_screen_says_who_asks_what_and_why(logged_in: Browser, user: Traveller,
                                               carpool: Platform) -> None:
    _, page = ask(logged_in, carpool)
    html = page.get_data(as_text=True)
    assert "National carpool" in html and "dpo@carpool.example" in html
    assert carpool.model.policy_uri in html
    assert "Nous envoyons la confirmation." in html  # the page speaks French by default
    assert user.email in html  # the traveller's own value, in full: it is theirs
    boxes = checkboxes(html)
    # A required item has no box to untick by mistake: its answer is a hidden field,
    # and an answer without it is refused (test_a_tampered_answer_is_refused...).
    assert "email" not in boxes
    assert '<input type="hidden" name="scope" value="email">' in html
    # Nothing optional is ticked in advance, sensitive or not.
    for name in ("phone", "offline_access", "given_name", "family_name"):
        assert "checked" not in boxes[name]


def test_an_unticked_optional_scope_is_not_released(logged_in: Browser, carpool: Platform) -> None:
    request, _ = ask(logged_in, carpool)
    response = answer(logged_in, scopes=["email"], claims=["given_name"])
    code = query_of(response.location)["code"]
    tokens = redeem(logged_in.client, carpool, code, request.verifier).get_json()
    claims = userinfo(logged_in.client, tokens["access_token"]).get_json()
    assert claims["email"] and claims["given_name"] == "Umberto"
    assert "family_name" not in claims and "phone_number" not in claims
    assert "refresh_token" not in tokens  # offline_access was not ticked

    [record] = records()
    assert record.event_type == "given"
    assert set(record.scopes_granted) == {"openid", "email", "profile"}
    assert set(record.scopes_refused) == {"phone", "offline_access"}
    assert "given_name" in record.claims_granted and "family_name" not in record.claims_granted
    assert record.language == "en" or record.language == "fr"
    assert record.withdrawal_method.endswith("/account/platforms")
    assert record.amr == ["pwd"] and record.valid_until > utcnow() + timedelta(days=300)


def test_each_purpose_shown_is_recorded_by_version_and_digest(logged_in: Browser,
                                                              carpool: Platform) -> None:
    ask(logged_in, carpool, scope="openid email", ui_locales="en")
    answer(logged_in, scopes=["email"])
    [purpose] = records()[0].purposes
    shown = "Your email address To write to you, for example to confirm a trip. " \
            "We send your booking confirmation."
    assert purpose == {"id": "email", "version": 1,
                       "sha256": hashlib.sha256(shown.encode()).hexdigest()}


@pytest.mark.parametrize("scopes, claims", [
    (["email", "address"], []),          # a scope that was not requested
    (["email", "openid-everything"], []),
    (["email"], ["email_verified"]),     # a claim not offered one by one
    ([], ["given_name"]),                # the required scope unticked
])
def test_a_tampered_answer_is_refused_and_nothing_recorded(
        logged_in: Browser, carpool: Platform, scopes: list[str], claims: list[str]) -> None:
    ask(logged_in, carpool)
    response = answer(logged_in, scopes=scopes, claims=claims)
    assert response.status_code == 400 and "Location" not in response.headers
    assert records() == []


def test_a_later_request_asks_only_for_the_new_scope(logged_in: Browser,
                                                     carpool: Platform) -> None:
    ask(logged_in, carpool, scope="openid email")
    answer(logged_in, scopes=["email"])
    _, page = ask(logged_in, carpool, scope="openid email phone")
    boxes = checkboxes(page.get_data(as_text=True))
    assert set(boxes) == {"phone"}
    answer(logged_in, scopes=["phone"])
    first, second = records()
    assert second.event_type == "extended" and second.previous_record_id == first.record_id
    assert {"email", "phone"} <= set(second.scopes_granted)


def test_a_refused_scope_is_not_asked_again_unless_the_platform_insists(
        logged_in: Browser, carpool: Platform) -> None:
    ask(logged_in, carpool, scope="openid email phone")
    answer(logged_in, scopes=["email"])
    _, again = ask(logged_in, carpool, scope="openid email phone")
    assert again.status_code == 302  # answered before: no screen
    _, forced = ask(logged_in, carpool, scope="openid email phone", prompt="consent")
    assert "phone" in checkboxes(forced.get_data(as_text=True))


def test_an_expired_consent_is_asked_again(logged_in: Browser, carpool: Platform) -> None:
    ask(logged_in, carpool, scope="openid email")
    answer(logged_in, scopes=["email"])
    record = records()[0]
    record.valid_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    _, page = ask(logged_in, carpool, scope="openid email")
    # Asked again: email is required, so it shows without a box, as a hidden answer.
    assert page.status_code == 200 and 'name="scope" value="email"' in page.get_data(as_text=True)
    assert [r.event_type for r in records()] == ["given", "expired"]


def test_health_data_is_asked_every_time(logged_in: Browser) -> None:
    platform = make_platform(scope="openid accessibility_needs", scope_policy={
        "accessibility_needs": {"required": False, "purpose": {"en": "Room for a wheelchair."}}})
    ask(logged_in, platform, scope="openid accessibility_needs")
    answer(logged_in, scopes=["accessibility_needs"])
    assert records()[0].consent_type == "explicit"
    _, page = ask(logged_in, platform, scope="openid accessibility_needs")
    assert "accessibility_needs" in checkboxes(page.get_data(as_text=True))


def test_a_sensitive_scope_cannot_be_required(app) -> None:  # type: ignore[no-untyped-def]
    from clients.registration import ClientMetadataError

    with pytest.raises(ClientMetadataError, match="sensitive"):
        make_platform(scope_policy={"address": {"required": True, "purpose": {"en": "x"}}})


def test_deny_records_nothing_and_tells_the_platform(logged_in: Browser,
                                                     carpool: Platform) -> None:
    request, _ = ask(logged_in, carpool)
    response = answer(logged_in, decision="deny")
    assert query_of(response.location)["error"] == "access_denied"
    assert records() == []


def test_a_required_profile_is_shared_whole_without_a_box(app, logged_in: Browser) -> None:  # type: ignore[no-untyped-def]
    """A required scope whose claims are usually ticked one by one: no box at all, each
    claim a hidden answer, and an answer that drops one of them is refused."""
    platform = make_platform(scope_policy={
        "profile": {"required": True, "purpose": {"en": "Drivers see who they carry."}}})
    ask(logged_in, platform, scope="openid profile", ui_locales="en")
    html = logged_in.page.get_data(as_text=True)  # type: ignore[union-attr]
    assert checkboxes(html) == {}
    assert "Always shared, because: Drivers see who they carry." in html
    hidden = re.findall(r'<input type="hidden" name="claim" value="([^"]+)">', html)
    assert hidden == ["given_name", "family_name", "gender", "birthdate", "locale"]

    refused = answer(logged_in, claims=[])
    assert refused.status_code == 400 and records() == []


def test_each_reworded_purpose_is_recorded_as_its_new_version(logged_in: Browser,
                                                              carpool: Platform) -> None:
    """The catalogue's rule: a change of wording is a new version, so a record says which
    words the traveller read (offline_access was reworded for issue 12, item 5)."""
    ask(logged_in, carpool, scope="openid email offline_access", ui_locales="en")
    answer(logged_in, scopes=["email", "offline_access"])
    purposes = {p["id"]: p for p in records()[0].purposes}
    assert purposes["email"]["version"] == 1 and purposes["offline_access"]["version"] == 2
    shown = "Use your information later The platform can read what you share here later, " \
            "even when you are not on its site. This lasts until you withdraw your agreement."
    assert purposes["offline_access"]["sha256"] == hashlib.sha256(shown.encode()).hexdigest()
