"""Sign-up finished by a code sent by SMS instead of the mailed link: the code activates
the pending account with its number verified (the address stays unverified), the pages
are the same for a taken address, and only the number given last can activate."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from idp.accounts.models import User
from idp.extensions import db
from tests.accounts.test_signup import without_secrets
from tests.browser import Browser, english_browser
from tests.factories import Traveller
from tests.mail import Mailbox, mailbox, smtp_server  # noqa: F401
from tests.sms import SmsOutbox, outbox_for

EMAIL = "umberto@example.org"
CHOSEN = "the tram to the old harbour"
NUMBER = "+33612345678"

pytestmark = pytest.mark.usefixtures("in_english")


@pytest.fixture
def outbox(app: Flask, tmp_path: Path) -> SmsOutbox:
    return outbox_for(app, tmp_path)


def sign_up(browser: Browser, email: str = EMAIL, phone: str = "06 12 34 56 78",
            password: str = CHOSEN) -> TestResponse:
    browser.get("/signup")
    page = browser.submit("/signup", {"given_name": "Umberto", "email": email,
                                      "phone_number": phone, "password": password})
    page.close()
    return page


def ask_code(browser: Browser) -> TestResponse:
    response = browser.submit("/signup/sms", {})
    response.close()
    return response


def type_code(browser: Browser, code: str) -> TestResponse:
    browser.get("/signup/sms/code")
    return browser.submit("/signup/sms/code", {"code": code})


def account(email: str = EMAIL) -> User | None:
    db.session.expire_all()
    return db.session.scalar(db.select(User).where(User.email == email))


def test_the_right_code_activates_the_account_with_its_number_verified(
        browser: Browser, outbox: SmsOutbox, mailbox: Mailbox) -> None:
    page = sign_up(browser)
    html = page.get_data(as_text=True)
    assert "You gave the number 06 12 34 56 78." in html
    assert "Send me a code by SMS instead" in html
    asked = ask_code(browser)
    assert asked.status_code == 302 and asked.location == "/signup/sms/code"
    code_page = browser.get(asked.location).get_data(as_text=True)
    assert "We sent a code to 06 12 34 56 78" in code_page
    assert 'autocomplete="one-time-code"' in code_page

    done = type_code(browser, outbox.code(NUMBER))
    assert done.status_code == 302 and done.location.startswith("/login")
    user = account()
    assert user is not None and not user.is_pending
    assert user.phone_number == NUMBER and user.phone_number_verified
    assert not user.email_verified  # until its own link is followed
    assert browser.login(EMAIL, CHOSEN).status_code == 302


def test_the_sign_up_form_asks_for_a_mobile_number_it_can_text(
        browser: Browser, outbox: SmsOutbox) -> None:
    assert "Mobile number (optional)" in browser.get("/signup").get_data(as_text=True)
    page = sign_up(browser, phone="call me")
    assert page.status_code == 400 and 'id="phone_number-error"' in page.get_data(as_text=True)
    assert account() is None


def test_without_a_number_no_sms_is_offered(browser: Browser, outbox: SmsOutbox) -> None:
    page = sign_up(browser, phone="")
    assert "Send me a code by SMS instead" not in page.get_data(as_text=True)
    assert browser.get("/signup/sms/code").status_code == 302


def test_a_taken_address_gets_the_same_pages_and_no_sms(
        app: Flask, user: Traveller, outbox: SmsOutbox, mailbox: Mailbox) -> None:
    new, taken = english_browser(app), english_browser(app)
    new_page, taken_page = sign_up(new), sign_up(taken, email=user.email)
    assert without_secrets(new_page, EMAIL) == without_secrets(taken_page, user.email)
    ask_code(taken)
    assert outbox.messages() == []
    refused = type_code(taken, "123456")
    assert refused.status_code == 400
    assert "This code is not right, or it no longer works." in refused.get_data(as_text=True)
    db.session.refresh(user.model)
    assert user.model.phone_number is None


def test_only_the_number_given_last_can_activate(
        app: Flask, outbox: SmsOutbox, mailbox: Mailbox) -> None:
    first, second = english_browser(app), english_browser(app)
    sign_up(first)
    ask_code(first)
    early = outbox.code(NUMBER)
    sign_up(second, phone="06 98 76 54 32", password="another long password for this")
    assert type_code(first, early).status_code == 400
    pending = account()
    assert pending is not None and pending.is_pending and not pending.phone_number_verified


def test_asking_again_within_a_minute_says_when(browser: Browser, outbox: SmsOutbox,
                                                 mailbox: Mailbox) -> None:
    sign_up(browser)
    ask_code(browser)
    browser.get("/signup/sms/code")
    again = browser.submit("/signup/sms", {})
    assert again.status_code == 429
    assert "You can ask for a new code in 1 minute." in again.get_data(as_text=True)
    assert len(outbox.messages(NUMBER)) == 1

