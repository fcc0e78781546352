"""Changing the password, the email address and the phone number: each behind a recent
login (ASVS 7.5.1); the password also asks for the current one, the new address proves
itself by a link, and the owner is told by mail."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from flask import Flask

from idp.accounts.models import User
from idp.extensions import db, utcnow
from tests.accounts.mail_links import another_browser, follow, link_to
from tests.browser import Browser
from tests.factories import Traveller, make_user
from tests.mail import Mailbox, mailbox, smtp_server  # noqa: F401

NEW_PASSWORD = "seven swans over the river bend"
NEW_EMAIL = "umberto.rossi@example.net"

pytestmark = pytest.mark.usefixtures("in_english")


def reload(user: Traveller) -> User:
    db.session.expire_all()
    found = db.session.get(User, user.model.id)
    assert found is not None
    return found


def change_password(browser: Browser, current: str, new: str) -> int:
    browser.get("/account/password")
    return browser.submit("/account/password", {"current_password": current,
                                                "password": new}).status_code


def ask_email_change(browser: Browser, email: str) -> int:
    browser.get("/account/email")
    return browser.submit("/account/email", {"email": email}).status_code


def test_the_account_page_links_to_each_change(logged_in: Browser) -> None:
    html = logged_in.get("/account").get_data(as_text=True)
    for path, words in (("/account/email", "Change my email address"),
                        ("/account/password", "Change my password"),
                        ("/account/phone", "Change my phone number")):
        assert f'href="{path}"' in html and words in html
    assert 'name="phone_number"' not in html  # the phone has its own page now


@pytest.mark.parametrize("path", ["/account/password", "/account/email", "/account/phone"])
def test_a_change_needs_a_recent_login(logged_in: Browser, path: str) -> None:
    assert logged_in.get(path).status_code == 200
    with time_machine.travel(utcnow() + timedelta(minutes=20), tick=False):
        response = logged_in.get(path)
    assert response.status_code == 302
    assert response.location == f"/account/confirm?next={path}"


@pytest.mark.parametrize("path", ["/account/password", "/account/email", "/account/phone"])
def test_a_change_needs_a_login(browser: Browser, path: str) -> None:
    response = browser.get(path)
    assert response.status_code == 302 and response.location.startswith("/login?next=")


def test_changing_the_password_needs_the_current_one(
        logged_in: Browser, user: Traveller, mailbox: Mailbox) -> None:
    assert change_password(logged_in, "not my password at all", NEW_PASSWORD) == 400
    html = logged_in.page.get_data(as_text=True)  # type: ignore[union-attr]
    assert 'id="current_password-error"' in html
    assert "This is not your current password." in html
    assert mailbox.messages == []
    assert another_browser(logged_in.client.application).login(
        user.email, user.password).status_code == 302


@pytest.mark.parametrize("password", [
    "short one", "123456789012345", "example example example", "umberto rossi umberto"])
def test_a_new_password_follows_the_rules(logged_in: Browser, user: Traveller,
                                          password: str) -> None:
    assert change_password(logged_in, user.password, password) == 400
    assert 'id="password-error"' in logged_in.page.get_data(as_text=True)  # type: ignore[union-attr]


def test_changing_the_password_logs_out_the_other_devices_and_tells_the_owner(
        app: Flask, logged_in: Browser, user: Traveller, mailbox: Mailbox) -> None:
    other = another_browser(app)
    other.login(user.email, user.password)
    assert other.get("/account").status_code == 200

    assert change_password(logged_in, user.password, NEW_PASSWORD) == 302
    assert logged_in.get("/account").status_code == 200  # this device stays
    assert other.get("/account").status_code == 302  # the other one is out
    message = mailbox.last(user.email)
    assert message["Subject"] == "Your Mobility ID password was changed"
    assert "https://idp.test/password/forgot" in mailbox.links(message)
    assert other.login(user.email, NEW_PASSWORD).status_code == 302


def test_changing_the_password_voids_a_pending_reset_link(
        app: Flask, logged_in: Browser, user: Traveller, mailbox: Mailbox) -> None:
    stranger = another_browser(app)
    stranger.get("/password/forgot")
    stranger.submit("/password/forgot", {"email": user.email}).close()
    reset = link_to(mailbox, user.email)
    assert change_password(logged_in, user.password, NEW_PASSWORD) == 302
    assert stranger.get(reset).status_code == 410


def test_a_new_address_is_used_only_once_its_link_is_followed(
        app: Flask, logged_in: Browser, user: Traveller, mailbox: Mailbox) -> None:
    old_email = user.email
    assert ask_email_change(logged_in, NEW_EMAIL.upper()) == 302
    assert reload(user).email == old_email  # nothing changes yet
    assert mailbox.to(old_email) == []
    message = mailbox.last(NEW_EMAIL)
    assert message["Subject"] == "Confirm your new email address for Mobility ID"

    phone = another_browser(app)  # the mail is read on another device
    path = link_to(mailbox, NEW_EMAIL)
    assert NEW_EMAIL in phone.get(path).get_data(as_text=True)
    response = phone.submit(path, {})
    assert response.status_code == 302

    changed = reload(user)
    assert changed.email == NEW_EMAIL and changed.email_verified
    notice = mailbox.last(old_email)
    assert notice["Subject"] == "Your Mobility ID email address was changed"
    assert "u…@example.net" in Mailbox.body(notice) and NEW_EMAIL not in Mailbox.body(notice)
    assert phone.get(path).status_code == 410  # once only
    assert phone.login(NEW_EMAIL, user.password).status_code == 302
    assert another_browser(app).login(old_email, user.password).status_code == 400


def test_a_taken_address_gets_the_same_answer_and_is_refused_at_the_link(
        logged_in: Browser, user: Traveller, mailbox: Mailbox) -> None:
    owner = make_user(email=NEW_EMAIL)
    assert ask_email_change(logged_in, NEW_EMAIL) == 302  # the answer tells nothing
    page = follow(logged_in, link_to(mailbox, NEW_EMAIL))
    assert page.status_code == 409
    assert "Another Mobility ID account already uses this email address" in page.get_data(
        as_text=True)
    assert reload(user).email == user.email
    assert db.session.get(User, owner.model.id).email == NEW_EMAIL  # type: ignore[union-attr]
    assert mailbox.to(user.email) == []


def test_an_address_taken_after_the_request_is_refused_too(
        logged_in: Browser, user: Traveller, mailbox: Mailbox) -> None:
    assert ask_email_change(logged_in, NEW_EMAIL) == 302
    make_user(email=NEW_EMAIL)  # someone signs up with it meanwhile
    assert follow(logged_in, link_to(mailbox, NEW_EMAIL)).status_code == 409
    assert reload(user).email == user.email


@pytest.mark.parametrize(("email", "error"), [
    ("", "Enter your email address."),
    ("not an address", "Enter an email address like name@example.org."),
    ("SAME", "This is already your email address."),
])
def test_a_wrong_new_address_is_refused(logged_in: Browser, user: Traveller,
                                        email: str, error: str) -> None:
    status = ask_email_change(logged_in, user.email.upper() if email == "SAME" else email)
    html = logged_in.page.get_data(as_text=True)  # type: ignore[union-attr]
    assert status == 400 and 'id="email-error"' in html and error in html


def test_links_to_the_old_address_stop_working_after_a_change(
        app: Flask, logged_in: Browser, user: Traveller, mailbox: Mailbox) -> None:
    logged_in.get("/account")
    logged_in.submit("/account/email/resend", {})
    verify = link_to(mailbox, user.email)
    stranger = another_browser(app)
    stranger.get("/password/forgot")
    stranger.submit("/password/forgot", {"email": user.email}).close()
    reset = link_to(mailbox, user.email)

    assert ask_email_change(logged_in, NEW_EMAIL) == 302
    assert follow(logged_in, link_to(mailbox, NEW_EMAIL)).status_code == 302
    assert logged_in.get(verify).status_code in (400, 410)
    assert stranger.get(reset).status_code in (400, 410)


def test_changing_the_phone_number_unverifies_it(logged_in: Browser, user: Traveller) -> None:
    user.model.phone_number, user.model.phone_number_verified = "+33 6 00 00 00 00", True
    db.session.commit()
    logged_in.get("/account/phone")
    assert logged_in.submit("/account/phone", {"phone_number": " +33 6 12 34 56 78 "}
                            ).status_code == 302
    changed = reload(user)
    # Kept in E.164, shown as its owner writes it.
    assert changed.phone_number == "+33612345678" and not changed.phone_number_verified
    assert "06 12 34 56 78" in logged_in.get("/account").get_data(as_text=True)

    logged_in.get("/account/phone")
    assert logged_in.submit("/account/phone", {"phone_number": ""}).status_code == 302
    assert reload(user).phone_number is None


@pytest.mark.parametrize("number", ["call me", "12", "+33 6 12 34 56 78 90 12 34 56 78 90 12"])
def test_a_wrong_phone_number_is_refused(logged_in: Browser, user: Traveller,
                                         number: str) -> None:
    logged_in.get("/account/phone")
    page = logged_in.submit("/account/phone", {"phone_number": number})
    assert page.status_code == 400 and 'id="phone_number-error"' in page.get_data(as_text=True)
    assert reload(user).phone_number is None


@pytest.mark.parametrize("path", ["/account/password", "/account/email", "/account/phone"])
def test_change_pages_speak_french(logged_in: Browser, path: str) -> None:
    page = logged_in.get(path, headers={"Accept-Language": "fr"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and '<html lang="fr">' in html
    assert 'method="post"' in html and 'name="csrf_token"' in html
