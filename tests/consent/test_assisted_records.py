"""A consent given with an advisor's help (issue 12, assisted access): the same record and
audit trail as the traveller's own yes, plus who helped, how, and under which mandate."""

from __future__ import annotations

import json

import pytest
from joserfc import jws
from joserfc.jwk import KeySet

from consent import audit, records
from consent.assisted import IN_PERSON, PHONE, Assistance
from consent.models import ConsentRecord
from consent.receipts import sign_receipt
from idp.extensions import db
from tests.factories import Platform, Traveller

HELP = Assistance(advisor_id="adv_0123456789abcdef", advisor_name="Nadia Benali",
                  centre="Plateforme mobilité Charente", mandate_id="m-1", method=PHONE)


def give(user: Traveller, platform: Platform, assistance: Assistance | None,
         scopes: tuple[str, ...] = ("openid", "email")) -> ConsentRecord:
    record = records.give(user.model, platform.model, None, list(scopes), ["sub", "email"],
                          [], [], "fr", assistance=assistance)
    db.session.commit()
    return record


def events() -> list[audit.AuditEvent]:
    return list(db.session.scalars(db.select(audit.AuditEvent).order_by(audit.AuditEvent.id)))


def test_a_consent_given_with_help_says_who_helped_how_and_under_which_mandate(
        user: Traveller, platform: Platform) -> None:
    record = give(user, platform, HELP)

    stored = db.session.scalar(db.select(ConsentRecord))
    assert stored is not None and stored.record_id == record.record_id
    assert (stored.collection_method, stored.helper_id, stored.mandate_id) == (
        "assisted_phone", "adv_0123456789abcdef", "m-1")
    # Nobody signed in as the traveller: no login method is claimed for them.
    assert stored.amr == [] and stored.acr is None and stored.auth_time is None


def test_the_audit_log_has_the_usual_event_and_the_assisted_one_without_a_name(
        user: Traveller, platform: Platform) -> None:
    give(user, platform, HELP)

    granted, assisted = events()
    assert granted.event_type == "consent:granted"
    assert granted.data["advisor_id"] == "adv_0123456789abcdef"
    assert granted.data["mandate_id"] == "m-1" and granted.data["method"] == "assisted_phone"
    assert assisted.event_type == "assisted:consent_given"
    assert assisted.client_id == platform.client_id
    assert assisted.subject == granted.subject == audit.subject_pseudonym(user.model)
    assert assisted.data["record_id"] == granted.data["record_id"]
    for event in (granted, assisted):
        text = json.dumps(event.data)
        assert "Nadia" not in text and "Charente" not in text
    assert audit.verify().ok


def test_a_consent_given_alone_stays_as_it_was(user: Traveller, platform: Platform) -> None:
    record = give(user, platform, None)

    assert (record.collection_method, record.helper_id, record.mandate_id) == ("web", None, None)
    assert [e.event_type for e in events()] == ["consent:granted"]
    assert "advisor_id" not in events()[0].data


def test_sharing_more_later_with_help_is_recorded_as_assisted_too(
        user: Traveller, platform: Platform) -> None:
    give(user, platform, None)
    in_person = Assistance("adv_0123456789abcdef", "Nadia Benali", "Centre", "m-2", IN_PERSON)

    extended = give(user, platform, in_person, scopes=("openid", "email", "phone"))

    assert extended.event_type == "extended"
    assert (extended.collection_method, extended.mandate_id) == ("assisted_in_person", "m-2")
    assert [e.event_type for e in events()] == [
        "consent:granted", "consent:scope_added", "assisted:consent_given"]


def test_withdrawing_it_later_is_the_traveller_s_own_act(user: Traveller,
                                                        platform: Platform) -> None:
    give(user, platform, HELP)

    withdrawn = records.withdraw(user.model, platform.client_id)
    db.session.commit()

    assert withdrawn is not None
    assert (withdrawn.collection_method, withdrawn.helper_id, withdrawn.mandate_id) == (
        "web", None, None)


@pytest.mark.usefixtures("app")
def test_the_signed_receipt_carries_the_assistance(client, user: Traveller,  # type: ignore[no-untyped-def]
                                                   platform: Platform) -> None:
    record = give(user, platform, HELP)
    keys = KeySet.import_key_set(client.get("/jwks.json").get_json())

    receipt = json.loads(jws.deserialize_compact(sign_receipt(record), keys).payload)

    assert receipt["collection_method"] == "assisted_phone"
    assert receipt["helper_id"] == "adv_0123456789abcdef"
    assert receipt["mandate_id"] == "m-1"
    assert "Nadia Benali" not in json.dumps(receipt)  # the platform reads receipts too
