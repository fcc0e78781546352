"""The traveller's consent to a delegation (issue 14, part 2): the screen says it in
words, and the consent record, its signed receipt, the audit log and the data export
carry it; stopping it is a new record and an audit event."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jws
from joserfc.jwk import KeySet

from consent import audit
from consent.delegations import stop_delegation
from consent.glossary import GLOSSARY
from consent.models import history
from idp.extensions import db
from tests import factories
from tests.browser import Browser
from tests.consent.test_readable_data import keys_in
from tests.delegation import API, Cast, allow, delegate, delegation_request, make_cast


@pytest.fixture
def cast(app: Flask) -> Cast:
    return make_cast()


@pytest.fixture
def umberto(user: factories.Traveller) -> factories.Traveller:
    user.model.nickname = "Umberto A."
    user.model.phone_number = "+33612345678"
    db.session.commit()
    return user


def text_of(browser: Browser) -> str:
    return " ".join(browser.page.get_data(as_text=True).split())  # type: ignore[union-attr]


def test_the_screen_says_who_acts_on_what_for_how_long(
        logged_in: Browser, cast: Cast, umberto: factories.Traveller,
        in_english: None) -> None:
    page = logged_in.authorize(delegation_request(cast.regional))

    assert page.status_code == 200
    text = text_of(logged_in)
    assert ("Covoiturage régional may search rides and book seats on Covoiturage national "
            "for you.") in text
    assert "What Covoiturage national will see" in text
    assert "Acting for you on Covoiturage national" in text
    assert "Covoiturage national sees a number made only for it, not your name." in text
    assert "You can stop it at any time in “My platforms”." in text
    html = page.get_data(as_text=True)
    # What the national platform would see, with the traveller's own values, unticked.
    assert 'name="resource_claim" value="nickname"' in html
    assert 'name="resource_claim" value="phone_number"' in html
    assert "checked" not in html.split('class="consent-delegation"', 1)[1].split("</section>")[0]


def test_the_screen_speaks_french_with_the_platforms_french_words(
        logged_in: Browser, cast: Cast, umberto: factories.Traveller) -> None:
    logged_in.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr"
    logged_in.authorize(delegation_request(cast.regional))

    text = text_of(logged_in)

    # The actions in the national platform's own French words.
    assert "chercher des trajets" in text and "réserver des places" in text
    assert "Covoiturage régional" in text and "Covoiturage national" in text


def test_allowing_records_the_delegation(logged_in: Browser, cast: Cast,
                                         umberto: factories.Traveller) -> None:
    delegate(logged_in, cast.regional, resource_claims=("nickname",))

    record = history(umberto.model.id, cast.regional.client_id)[-1]
    [entry] = record.delegations
    assert entry["resource"] == API
    assert entry["resource_client_id"] == cast.national.client_id
    assert entry["resource_platform"] == "Covoiturage national"
    assert entry["actions"] == ["trips:search", "bookings:create"]
    assert entry["claims"] == ["nickname"]
    assert datetime.fromisoformat(entry["valid_until"]) == record.valid_until
    assert entry["offline_access"] is False
    # The sub the national platform sees, not the regional one's.
    assert entry["resource_sub"] != record.sub
    assert any(p["id"] == f"delegation:{API}" for p in record.purposes)


def test_the_same_request_again_needs_no_new_consent(logged_in: Browser, cast: Cast,
                                                      umberto: factories.Traveller) -> None:
    delegate(logged_in, cast.regional)

    page = logged_in.authorize(delegation_request(cast.regional))

    assert page.status_code in (302, 303)
    assert "code=" in page.location


def test_a_new_action_asks_again(logged_in: Browser, cast: Cast,
                                 umberto: factories.Traveller) -> None:
    delegate(logged_in, cast.regional, scope="openid profile:alias trips:search")

    page = logged_in.authorize(delegation_request(cast.regional))

    assert page.status_code == 200
    assert 'name="resource_claim"' in page.get_data(as_text=True)


def test_a_box_not_offered_is_refused(logged_in: Browser, cast: Cast,
                                      umberto: factories.Traveller) -> None:
    logged_in.authorize(delegation_request(cast.regional))

    page = allow(logged_in, resource_claims=("email",))

    assert page.status_code == 400
    assert history(umberto.model.id, cast.regional.client_id) == []


def test_the_receipt_carries_the_delegation(client: FlaskClient, logged_in: Browser,
                                            cast: Cast, umberto: factories.Traveller) -> None:
    delegate(logged_in, cast.regional)

    token = logged_in.get(f"/account/platforms/{cast.regional.client_id}/receipt")
    keys = KeySet.import_key_set(client.get("/jwks.json").get_json())
    receipt = json.loads(jws.deserialize_compact(token.get_data(as_text=True), keys).payload)

    [entry] = receipt["delegations"]
    assert entry["resource"] == API and entry["actions"] == ["trips:search",
                                                             "bookings:create"]


def test_audit_events_and_export_carry_the_delegation(
        logged_in: Browser, cast: Cast, umberto: factories.Traveller) -> None:
    delegate(logged_in, cast.regional, resource_claims=("nickname", "phone_number"))

    granted = events(umberto, audit.DELEGATION_GRANTED)
    exported = json.loads(logged_in.get("/account/export").get_data(as_text=True))

    assert granted == [{"record_id": granted[0]["record_id"], "resource": API,
                        "resource_client_id": cast.national.client_id,
                        "actions": ["trips:search", "bookings:create"],
                        "claims": ["nickname", "phone_number"],
                        "valid_until": granted[0]["valid_until"], "offline_access": False}]
    assert "+33612345678" not in json.dumps(granted)  # values never enter the log
    [consent] = [c for c in exported["consents"] if c["client_id"] == cast.regional.client_id]
    assert consent["delegations"][0]["resource"] == API
    # The readable page explains every key of the file, the delegation's too.
    assert keys_in(exported) - set(GLOSSARY) == set()
    readable = logged_in.get("/account/data")
    assert readable.status_code == 200


def test_stopping_is_a_new_record_and_an_audit_event(
        logged_in: Browser, cast: Cast, umberto: factories.Traveller) -> None:
    delegate(logged_in, cast.regional)
    before = history(umberto.model.id, cast.regional.client_id)[-1]

    stopped = stop_delegation(umberto.model, cast.regional.client_id, API)
    db.session.commit()

    assert stopped is not None
    assert stopped.event_type == "narrowed" and stopped.previous_record_id == before.record_id
    assert stopped.delegations == []
    assert stopped.scopes_granted == before.scopes_granted  # the rest of the consent stays
    [event] = events(umberto, audit.DELEGATION_STOPPED)
    assert event["record_id"] == stopped.record_id and event["resource"] == API
    assert stop_delegation(umberto.model, cast.regional.client_id, API) is None


@pytest.mark.parametrize(("ticked", "kept"), [
    ({"delegation_offline": "yes"}, True),
    # The platform's own "use your information later" is not the delegation's.
    ({"scope": ["offline_access"]}, False),
    ({}, False),
])
def test_offline_access_for_the_delegation_has_its_own_box_unticked(
        logged_in: Browser, cast: Cast, umberto: factories.Traveller, in_english: None,
        ticked: dict[str, Any], kept: bool) -> None:
    request = delegation_request(cast.regional, "openid offline_access trips:search")
    logged_in.authorize(request)
    html = logged_in.page.get_data(as_text=True)  # type: ignore[union-attr]
    assert ("Keep this going while you are not using Covoiturage régional"
            in text_of(logged_in))
    box = html.split('name="delegation_offline"', 1)[1].split(">", 1)[0]
    assert "checked" not in box  # nothing optional ticked in advance
    action = html.split('action="', 1)[1].split('"', 1)[0]
    logged_in.submit(action, {"decision": "allow", "delegation": API, **ticked}, html)

    record = history(umberto.model.id, cast.regional.client_id)[-1]
    assert record.delegations[0]["offline_access"] is kept


def test_no_offline_box_unless_the_platform_asked_and_none_is_taken(
        logged_in: Browser, cast: Cast, umberto: factories.Traveller) -> None:
    logged_in.authorize(delegation_request(cast.regional, "openid trips:search"))
    html = logged_in.page.get_data(as_text=True)  # type: ignore[union-attr]
    assert "delegation_offline" not in html
    action = html.split('action="', 1)[1].split('"', 1)[0]

    response = logged_in.submit(action, {"decision": "allow", "delegation_offline": "yes"},
                                html)

    assert response.status_code == 400
    assert history(umberto.model.id, cast.regional.client_id) == []


def events(user: factories.Traveller, event_type: str) -> list[dict[str, Any]]:
    rows = db.session.scalars(db.select(audit.AuditEvent).where(
        audit.AuditEvent.event_type == event_type,
        audit.AuditEvent.subject == audit.subject_pseudonym(user.model)))
    return [dict(row.data) for row in rows]
