"""The consent screen in assisted mode (issue 12): an advisor, under a mandate naming the
platform, goes through the traveller's consent screen with them and records their answer.
Refused, with a clear page and nothing recorded, without such a mandate in force."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from consent import audit, records
from consent.models import ConsentRecord
from idp.advisors.assistance import PHONE
from idp.advisors.models import CONSENT, UPDATE_DETAILS, Advisor, Mandate
from idp.extensions import db, utcnow
from tests.advisors.factories import make_advisor, make_mandate, session_cookie
from tests.browser import AuthorizationRequest, Browser, query_of
from tests.consent.test_consent_screen import POLICY, checkboxes
from tests.factories import Platform, Traveller, make_platform


@pytest.fixture
def carpool(app: Flask) -> Platform:
    return make_platform(name="National carpool", scope_policy=POLICY)


@pytest.fixture
def advisor(app: Flask) -> Advisor:
    return make_advisor(name="Nadia Benali", centre="Plateforme mobilité Charente")


@pytest.fixture
def mandate(advisor: Advisor, user: Traveller, carpool: Platform) -> Mandate:
    return make_mandate(advisor, user.model.id, method=PHONE, actions=[CONSENT],
                        platforms=[carpool.client_id])


def signed_in(app: Flask, client: FlaskClient, advisor: Advisor) -> Browser:
    """The advisor's browser, signed in with password and authenticator code."""
    name, key = session_cookie(app, advisor)["Cookie"].split("=", 1)
    client.set_cookie(name, key, domain="idp.test")
    return Browser(client)


def path(mandate: Mandate, platform: Platform) -> str:
    return f"/advisor/travellers/{mandate.mandate_id}/consent/{platform.client_id}"


def consent_records() -> list[ConsentRecord]:
    return list(db.session.scalars(db.select(ConsentRecord).order_by(ConsentRecord.id)))


def event_types() -> list[str]:
    return list(db.session.scalars(db.select(audit.AuditEvent.event_type)
                                   .order_by(audit.AuditEvent.id)))


def test_the_screen_says_who_helps_and_is_the_traveller_s_own_screen(
        app: Flask, client: FlaskClient, in_english: None, user: Traveller, advisor: Advisor,
        mandate: Mandate, carpool: Platform) -> None:
    browser = signed_in(app, client, advisor)

    page = browser.get(path(mandate, carpool))

    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert ("Nadia Benali of Plateforme mobilité Charente is helping you. They read this page "
            "to you and choose with you.") in html
    assert "Share with National carpool?" in html
    assert "Always shared, because: We send your booking confirmation." in html
    assert '<input type="hidden" name="scope" value="email">' in html
    boxes = checkboxes(html)
    assert {"phone", "offline_access", "given_name"} <= set(boxes)
    assert not [box for box in boxes.values() if "checked" in box]
    # The advisor says what is shared; the traveller's own values stay off their screen.
    assert user.email not in html and "Umberto" in html  # the account's name, not values
    assert "Email address</li>" in html
    assert f'action="{path(mandate, carpool)}"' in html


def test_the_banner_speaks_french_by_default(app: Flask, client: FlaskClient,
                                             advisor: Advisor, mandate: Mandate,
                                             carpool: Platform) -> None:
    html = signed_in(app, client, advisor).get(path(mandate, carpool)).get_data(as_text=True)

    assert ("Nadia Benali, de Plateforme mobilité Charente, vous aide. Cette personne vous lit "
            "cette page et choisit avec vous.") in html


def test_allowing_records_the_consent_given_with_help(
        app: Flask, client: FlaskClient, in_english: None, user: Traveller, advisor: Advisor,
        mandate: Mandate, carpool: Platform) -> None:
    browser = signed_in(app, client, advisor)
    browser.get(path(mandate, carpool))

    response = browser.submit(path(mandate, carpool),
                              {"decision": "allow", "scope": ["email", "phone"]})

    assert response.status_code == 303
    done = browser.follow_local(response).get_data(as_text=True)
    assert "Done. National carpool can now see this:" in done
    assert 'href="/advisor"' in done  # back to the people the advisor helps
    assert "Your phone number" in done and "Your email address" in done
    [record] = consent_records()
    assert record.scopes_granted == ["openid", "email", "phone"]
    assert "offline_access" in record.scopes_refused
    assert (record.collection_method, record.helper_id, record.mandate_id) == (
        "assisted_phone", advisor.public_id, mandate.mandate_id)
    assert event_types() == ["consent:granted", "assisted:consent_given"]
    assert audit.verify().ok


def test_the_traveller_s_platform_then_logs_them_in_without_asking_again(
        app: Flask, client: FlaskClient, user: Traveller, advisor: Advisor, mandate: Mandate,
        carpool: Platform) -> None:
    browser = signed_in(app, client, advisor)
    browser.get(path(mandate, carpool))
    browser.submit(path(mandate, carpool), {"decision": "allow", "scope": ["email"]})
    traveller = Browser(app.test_client())
    traveller.login(user.email, user.password)

    response = traveller.authorize(AuthorizationRequest(
        carpool.client_id, carpool.redirect_uri, scope="openid email"))

    assert response.status_code == 302 and "code" in query_of(response.location)


def test_what_the_traveller_answered_before_is_not_asked_again(
        app: Flask, client: FlaskClient, in_english: None, user: Traveller, advisor: Advisor,
        mandate: Mandate, carpool: Platform) -> None:
    records.give(user.model, carpool.model, None, ["openid", "email"],
                 ["sub", "email", "email_verified"], [], [], "en")
    db.session.commit()
    browser = signed_in(app, client, advisor)

    html = browser.get(path(mandate, carpool)).get_data(as_text=True)
    assert 'name="scope" value="email"' not in html and "phone" in checkboxes(html)
    assert "Already shared with National carpool" in html

    browser.submit(path(mandate, carpool), {"decision": "allow", "scope": ["phone"]})
    assert sorted(consent_records()[-1].scopes_granted) == ["email", "openid", "phone"]
    # Everything answered now: the screen leads straight to what is shared.
    again = browser.get(path(mandate, carpool))
    assert again.status_code == 303 and again.location.endswith("/done")
    assert len(consent_records()) == 2


def test_deny_records_nothing(app: Flask, client: FlaskClient, in_english: None,
                              advisor: Advisor, mandate: Mandate, carpool: Platform) -> None:
    browser = signed_in(app, client, advisor)
    browser.get(path(mandate, carpool))

    page = browser.submit(path(mandate, carpool), {"decision": "deny"})

    assert page.status_code == 200
    assert "Nothing was shared with National carpool" in page.get_data(as_text=True)
    assert consent_records() == [] and event_types() == []


def test_an_item_that_was_not_offered_is_refused(app: Flask, client: FlaskClient,
                                                 advisor: Advisor, mandate: Mandate,
                                                 carpool: Platform) -> None:
    browser = signed_in(app, client, advisor)
    browser.get(path(mandate, carpool))

    page = browser.submit(path(mandate, carpool),
                          {"decision": "allow", "scope": ["email", "mobility:health"]})

    assert page.status_code == 400
    assert consent_records() == []


def refusal(page) -> bool:  # type: ignore[no-untyped-def]
    html = page.get_data(as_text=True)
    return page.status_code == 403 and "This person has not allowed you to do this now." in html


def test_an_advisor_not_signed_in_is_sent_to_sign_in(client: FlaskClient, mandate: Mandate,
                                                     carpool: Platform) -> None:
    for url in (path(mandate, carpool), path(mandate, carpool) + "/done"):
        response = client.get(url)
        assert response.status_code == 302
        assert response.location.startswith("/advisor/login?next=")
    assert consent_records() == []


@pytest.mark.parametrize("case", ["other platform", "other action",
                                  "unknown mandate", "another advisor", "unconfirmed"])
def test_without_a_mandate_for_this_platform_the_page_is_refused(
        app: Flask, client: FlaskClient, in_english: None, user: Traveller, advisor: Advisor,
        carpool: Platform, case: str) -> None:
    other = make_platform(name="Other carpool")
    mandate = make_mandate(advisor, user.model.id, actions=[CONSENT, UPDATE_DETAILS],
                           platforms=[other.client_id if case == "other platform"
                                      else carpool.client_id])
    if case == "other action":
        mandate.actions = [UPDATE_DETAILS]
    if case == "unconfirmed":
        mandate.confirmed_at = mandate.expires_at = None
    db.session.commit()
    browser = signed_in(app, client, make_advisor() if case == "another advisor" else advisor)
    url = path(mandate, carpool).replace(mandate.mandate_id, "unknown") \
        if case == "unknown mandate" else path(mandate, carpool)

    assert refusal(browser.get(url))
    assert refusal(browser.get(url + "/done"))
    assert consent_records() == []


def test_a_mandate_stopped_while_the_screen_is_open_refuses_the_answer(
        app: Flask, client: FlaskClient, in_english: None, advisor: Advisor,
        mandate: Mandate, carpool: Platform) -> None:
    browser = signed_in(app, client, advisor)
    browser.get(path(mandate, carpool))
    mandate.revoked_at, mandate.revoked_by = utcnow(), "traveller"
    db.session.commit()

    page = browser.submit(path(mandate, carpool), {"decision": "allow", "scope": ["email"]})

    assert refusal(page)
    assert consent_records() == [] and event_types() == []
