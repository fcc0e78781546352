"""“My platforms”: see every platform, withdraw one scope or the whole platform, download
a signed proof; and the platform's own access to the records."""

from __future__ import annotations

import json

import pytest
from joserfc import jws
from joserfc.jwk import KeySet
from sqlalchemy import event
from sqlalchemy.orm import Session

from consent.audit import AuditEvent
from consent.models import ConsentRecord
from idp.extensions import db
from idp.oauth.claims import subject_for
from idp.oauth.models import Token
from tests.browser import Browser, query_of
from tests.consent.test_consent_screen import POLICY, answer, ask
from tests.factories import Platform, Traveller, make_platform, make_user
from tests.tokens import basic, redeem, refresh, userinfo


@pytest.fixture
def allowed(logged_in: Browser) -> tuple[Platform, dict]:
    """A platform the traveller allowed, with email required and phone optional."""
    platform = make_platform(name="Regional carpool", scope_policy=POLICY)
    request, _ = ask(logged_in, platform, scope="openid email phone offline_access")
    response = answer(logged_in, scopes=["email", "phone", "offline_access"])
    code = query_of(response.location)["code"]
    return platform, redeem(logged_in.client, platform, code, request.verifier).get_json()


def record_kinds() -> list[str]:
    query = db.select(ConsentRecord.event_type).order_by(ConsentRecord.id)
    return list(db.session.scalars(query))


def form_action(html: str, fragment: str) -> str:
    return next(a for a in html.split('action="')[1:] if fragment in a.split('"')[0]).split('"')[0]


def test_my_platforms_lists_what_each_platform_sees(logged_in: Browser, allowed) -> None:  # type: ignore[no-untyped-def]
    html = logged_in.get("/account/platforms").get_data(as_text=True)
    assert "Regional carpool" in html
    assert "Your email address" in html or "Votre adresse e-mail" in html
    assert "/revoke" in html and "/scopes/phone/withdraw" in html
    assert "/scopes/email/withdraw" not in html  # a required scope goes with the platform


def test_revoking_takes_one_click_and_ends_access_at_once(logged_in: Browser, allowed) -> None:  # type: ignore[no-untyped-def]
    platform, tokens = allowed
    page = logged_in.get("/account/platforms")
    html = page.get_data(as_text=True)
    response = logged_in.submit(form_action(html, "/revoke"), {}, html)
    assert response.status_code == 302

    assert userinfo(logged_in.client, tokens["access_token"]).status_code == 401
    assert refresh(logged_in.client, platform, tokens["refresh_token"]).status_code == 400
    kinds = record_kinds()
    assert kinds == ["given", "withdrawn"]
    events = db.session.scalars(db.select(AuditEvent.event_type)).all()
    assert "consent:revoked" in events
    # The next authorization asks again.
    _, page = ask(logged_in, platform, scope="openid email")
    assert page.status_code == 200 and "/consent/" in page.get_data(as_text=True)


def test_withdrawing_one_scope_stops_its_claims_at_once(logged_in: Browser, allowed) -> None:  # type: ignore[no-untyped-def]
    platform, tokens = allowed
    db_user = db.session.scalar(db.select(Token)).user
    db_user.phone_number = "+33612345678"
    db.session.commit()
    assert userinfo(logged_in.client, tokens["access_token"]).get_json()["phone_number"]
    html = logged_in.get("/account/platforms").get_data(as_text=True)
    logged_in.submit(form_action(html, "/scopes/phone/withdraw"), {}, html)
    after = userinfo(logged_in.client, tokens["access_token"]).get_json()
    assert "phone_number" not in after and after["email"]
    assert record_kinds()[-1] == "narrowed"


def test_a_required_scope_cannot_be_withdrawn_alone(logged_in: Browser, allowed) -> None:  # type: ignore[no-untyped-def]
    platform, _ = allowed
    html = logged_in.get("/account/platforms").get_data(as_text=True)
    response = logged_in.submit(f"/account/platforms/{platform.client_id}/scopes/email/withdraw",
                                {}, html)
    assert response.status_code == 404


def test_nobody_can_revoke_someone_else_s_consent(client, allowed) -> None:  # type: ignore[no-untyped-def]
    platform, tokens = allowed
    other = make_user()
    intruder = Browser(client.application.test_client())
    intruder.login(other.email, other.password)
    html = intruder.get("/account").get_data(as_text=True)  # a page with a form, for its token
    response = intruder.submit(f"/account/platforms/{platform.client_id}/revoke", {}, html)
    assert response.status_code == 404
    assert userinfo(client, tokens["access_token"]).status_code == 200


def test_a_signed_receipt_matches_the_record(logged_in: Browser, allowed) -> None:  # type: ignore[no-untyped-def]
    platform, _ = allowed
    response = logged_in.get(f"/account/platforms/{platform.client_id}/receipt")
    assert response.status_code == 200
    keys = KeySet.import_key_set(logged_in.client.get("/jwks.json").get_json())
    token = jws.deserialize_compact(response.get_data(as_text=True), keys)
    receipt = json.loads(token.payload)
    record = db.session.scalar(db.select(ConsentRecord))
    assert receipt == record.as_receipt()
    assert "receipt:issued" in db.session.scalars(db.select(AuditEvent.event_type)).all()


def test_the_platform_reads_its_own_records_with_its_credentials(logged_in: Browser,  # type: ignore[no-untyped-def]
                                                                 user: Traveller,
                                                                 allowed) -> None:
    platform, _ = allowed
    sub = subject_for(user.model, platform.model)
    response = logged_in.client.get(f"/consent/records?sub={sub}", headers=basic(platform))
    assert response.status_code == 200
    body = response.get_json()
    assert [r["event_type"] for r in body["records"]] == ["given"]
    assert len(body["receipts"]) == 1
    other = make_platform()
    assert logged_in.client.get(f"/consent/records?sub={sub}",
                                headers=basic(other)).get_json()["records"] == []
    assert logged_in.client.get(f"/consent/records?sub={sub}",
                                headers=basic(platform, "wrong")).status_code == 401
    assert logged_in.client.get("/consent/records", headers=basic(platform)).status_code == 400


def test_a_failed_commit_leaves_nothing_half_done(logged_in: Browser, allowed) -> None:  # type: ignore[no-untyped-def]
    platform, tokens = allowed

    def fail(session) -> None:  # type: ignore[no-untyped-def]
        if any(isinstance(o, ConsentRecord) and o.event_type == "withdrawn"
               for o in session.identity_map.values()):
            raise RuntimeError("the database went away")

    html = logged_in.get("/account/platforms").get_data(as_text=True)
    event.listen(Session, "before_commit", fail)
    try:
        response = logged_in.submit(form_action(html, "/revoke"), {}, html)
    finally:
        event.remove(Session, "before_commit", fail)
    assert response.status_code == 500
    assert userinfo(logged_in.client, tokens["access_token"]).status_code == 200
    assert record_kinds() == ["given"]
    assert "consent:revoked" not in db.session.scalars(db.select(AuditEvent.event_type)).all()
