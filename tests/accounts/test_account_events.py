"""Each change to how a traveller signs in or is reached enters the hash-chained audit
log (ASVS 7.2), in the transaction of the change, and the traveller's own history."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from consent.audit import AuditEvent, subject_pseudonym
from idp.extensions import db
from tests.accounts.mail_links import follow, link_to
from tests.accounts.test_sessions import CHROME_ANDROID, open_browser
from tests.browser import Browser
from tests.factories import Traveller
from tests.mail import Mailbox, mailbox, smtp_server  # noqa: F401
from tests.totp import enrol

pytestmark = pytest.mark.usefixtures("in_english")
NEW_PASSWORD = "a brand new route along the river bank"


def account_events(user: Traveller) -> list[tuple[str, dict[str, object]]]:
    rows = db.session.scalars(db.select(AuditEvent).where(
        AuditEvent.subject == subject_pseudonym(user.model)).order_by(AuditEvent.id))
    return [(e.event_type, e.data) for e in rows if e.event_type.startswith("account:")]


def test_a_password_change_is_recorded_with_the_sessions_it_ended(
        app, logged_in: Browser, user: Traveller, runner) -> None:  # type: ignore[no-untyped-def]
    open_browser(app, "198.51.100.7", CHROME_ANDROID).login(user.email, user.password)
    logged_in.get("/account/password")

    logged_in.submit("/account/password", {"current_password": user.password,
                                           "password": NEW_PASSWORD})

    assert account_events(user) == [("account:password_changed", {"sessions_ended": 1})]
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    history = logged_in.get("/account/platforms").get_data(as_text=True)
    assert "You changed your password" in history


def test_a_wrong_current_password_records_nothing(logged_in: Browser, user: Traveller) -> None:
    logged_in.get("/account/password")
    logged_in.submit("/account/password", {"current_password": "not my password at all",
                                           "password": NEW_PASSWORD})
    assert account_events(user) == []


def test_two_step_on_new_codes_and_off_are_recorded(
        logged_in: Browser, user: Traveller, frozen) -> None:  # type: ignore[no-untyped-def]
    enrol(logged_in)
    logged_in.get("/account/two-step/recovery-codes")
    logged_in.submit("/account/two-step/recovery-codes", {})
    logged_in.get("/account/two-step/disable")
    logged_in.submit("/account/two-step/disable", {})

    assert [kind for kind, _ in account_events(user)] == [
        "account:two_step_enabled", "account:recovery_codes_renewed",
        "account:two_step_disabled"]


def test_a_reset_is_recorded_and_the_address_never_is(
        client: FlaskClient, browser: Browser, user: Traveller, mailbox: Mailbox) -> None:
    browser.get("/password/forgot")
    browser.submit("/password/forgot", {"email": user.email}).close()
    follow(browser, link_to(mailbox, user.email), {"password": NEW_PASSWORD})

    (event,) = account_events(user)
    assert event[0] == "account:password_reset"
    stored = db.session.scalars(db.select(AuditEvent.data)).all()
    assert user.email not in str(stored)


def test_ending_other_sessions_is_recorded(app, logged_in: Browser,  # type: ignore[no-untyped-def]
                                           user: Traveller) -> None:
    open_browser(app, "198.51.100.7", CHROME_ANDROID).login(user.email, user.password)
    logged_in.get("/account/sessions")
    logged_in.submit("/account/sessions/end-others", {})

    assert account_events(user) == [("account:sessions_ended", {"count": 1})]


def test_phone_and_email_changes_are_recorded_without_their_values(
        app, logged_in: Browser, user: Traveller, mailbox: Mailbox) -> None:  # type: ignore[no-untyped-def]
    logged_in.get("/account/phone")
    logged_in.submit("/account/phone", {"phone_number": "+33 6 98 76 54 32"})
    logged_in.get("/account/email")
    logged_in.submit("/account/email", {"email": "new.address@example.net"})
    follow(logged_in, link_to(mailbox, "new.address@example.net"))

    assert account_events(user) == [("account:phone_changed", {"removed": False}),
                                     ("account:email_changed", {})]
    stored = str(db.session.scalars(db.select(AuditEvent.data)).all())
    assert "98 76" not in stored and "new.address" not in stored
