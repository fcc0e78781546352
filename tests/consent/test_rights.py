"""The traveller's rights: download their data, delete their account."""

from __future__ import annotations

import json

from consent.audit import AuditEvent, subject_pseudonym
from consent.models import ConsentRecord
from idp.accounts import throttle
from idp.accounts.links import EmailLink
from idp.accounts.mfa import RecoveryCode, TotpCredential
from idp.accounts.models import BrowserSession, User
from idp.extensions import db
from idp.oauth.models import Token
from tests.browser import Browser
from tests.consent.test_platforms import allowed  # noqa: F401  (fixture)
from tests.factories import Traveller
from tests.mail import Mailbox, mailbox, smtp_server  # noqa: F401
from tests.tokens import userinfo
from tests.totp import enrol, freeze_at_step_start


def test_download_my_data_gives_everything_but_secrets(logged_in: Browser, user: Traveller,
                                                       allowed) -> None:  # type: ignore[no-untyped-def]
    response = logged_in.get("/account/export")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.get_data(as_text=True))
    assert data["profile"]["email"] == user.email
    assert [c["event_type"] for c in data["consents"]] == ["given"]
    assert data["sessions"] and data["tokens"]
    text = response.get_data(as_text=True)
    _, tokens = allowed
    secrets = [user.model.password_hash, tokens["access_token"], tokens["refresh_token"],
               *db.session.scalars(db.select(Token.access_token_hash))]
    assert "$argon2" not in text and not [s for s in secrets if s in text]
    assert "data:exported" in db.session.scalars(db.select(AuditEvent.event_type)).all()


def test_deleting_the_account_needs_the_password(logged_in: Browser, user: Traveller) -> None:
    logged_in.get("/account/delete")
    response = logged_in.submit("/account/delete", {"password": "not my password at all"})
    assert response.status_code == 400
    assert db.session.get(User, user.model.id) is not None


def test_deleting_the_account_erases_it_and_keeps_a_pseudonymous_trail(
        logged_in: Browser, user: Traveller, allowed, runner) -> None:  # type: ignore[no-untyped-def]
    _, tokens = allowed
    pseudonym = subject_pseudonym(user.model)
    logged_in.get("/account/delete")
    response = logged_in.submit("/account/delete", {"password": user.password})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.scalar(db.select(User).where(User.email == user.email)) is None
    assert db.session.scalars(db.select(ConsentRecord)).all() == []
    assert userinfo(logged_in.client, tokens["access_token"]).status_code == 401
    events = db.session.scalars(db.select(AuditEvent).where(AuditEvent.subject == pseudonym))
    kinds = [e.event_type for e in events]
    assert kinds[-2:] == ["consent:revoked", "account:deleted"]
    dump = json.dumps([e.data for e in db.session.scalars(db.select(AuditEvent))])
    assert user.email not in dump and "Umberto" not in dump
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    assert logged_in.get("/account").status_code == 302  # logged out


def test_the_copy_says_whether_two_step_is_on_but_never_its_secrets(
        logged_in: Browser, user: Traveller, time_machine) -> None:  # type: ignore[no-untyped-def]
    freeze_at_step_start(time_machine)
    key, codes = enrol(logged_in)

    data = json.loads(logged_in.get("/account/export").get_data(as_text=True))

    assert data["two_step_verification"]["enabled"] is True
    assert data["two_step_verification"]["recovery_codes_left"] == 10
    assert data["sessions"][0]["network"] == "127.0.0.0/24"  # the prefix, not the address
    text = json.dumps(data)
    assert key not in text and not [c for c in codes if c in text]


def test_erasure_leaves_no_second_factor_link_or_session_behind(
        logged_in: Browser, user: Traveller, mailbox: Mailbox,
        time_machine) -> None:  # type: ignore[no-untyped-def]
    freeze_at_step_start(time_machine)
    enrol(logged_in)
    logged_in.get("/account")
    logged_in.submit("/account/email/resend", {})  # a verification link in the table
    time_machine.shift(90)
    for model in (TotpCredential, RecoveryCode, EmailLink, BrowserSession):
        assert db.session.scalars(db.select(model)).all(), model.__name__
    logged_in.get("/account/delete")

    response = logged_in.submit("/account/delete", {"password": user.password})

    assert response.status_code == 302
    db.session.expire_all()
    for model in (User, TotpCredential, RecoveryCode, EmailLink, BrowserSession):
        assert db.session.scalars(db.select(model)).all() == [], model.__name__


def test_the_password_asked_before_erasure_is_throttled(
        logged_in: Browser, user: Traveller) -> None:
    logged_in.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    logged_in.get("/account/delete")
    for _ in range(throttle.FREE_FAILURES + 1):
        logged_in.submit("/account/delete", {"password": "not my password at all"})

    page = logged_in.submit("/account/delete", {"password": user.password})

    assert "Too many attempts for this account." in page.get_data(as_text=True)
    assert db.session.get(User, user.model.id) is not None
