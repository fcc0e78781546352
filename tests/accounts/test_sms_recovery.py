"""A traveller who cannot read their mail gets back in with a code sent by SMS to the
account's verified number: the same page for any number typed, the code once, then the
same "choose a new password" page as the mailed link, and two-step still asked."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from flask import Flask
from werkzeug.test import TestResponse

from idp.accounts.models import BrowserSession
from idp.extensions import db, utcnow
from tests.accounts.test_account_events import account_events
from tests.browser import Browser, english_browser
from tests.factories import Traveller
from tests.sms import SmsOutbox, outbox_for
from tests.totp import enrol, start_login

NUMBER = "+33612345678"
NEW_PASSWORD = "seven swans over the river bend"

pytestmark = pytest.mark.usefixtures("in_english")


@pytest.fixture
def outbox(app: Flask, tmp_path: Path) -> SmsOutbox:
    return outbox_for(app, tmp_path)


@pytest.fixture
def verified(user: Traveller) -> Traveller:
    user.model.phone_number, user.model.phone_number_verified = NUMBER, True
    db.session.commit()
    return user


def ask_code(browser: Browser, typed: str = "06 12 34 56 78") -> TestResponse:
    """Fill "get a code by SMS"; the SMS leaves once the answer is sent (closed)."""
    browser.get("/password/forgot/sms")
    response = browser.submit("/password/forgot/sms", {"phone_number": typed})
    response.close()
    return response


def type_code(browser: Browser, code: str) -> TestResponse:
    browser.get("/password/forgot/sms/code")
    return browser.submit("/password/forgot/sms/code", {"code": code})


def without_csrf(page: TestResponse) -> str:
    return page.get_data(as_text=True).split('name="csrf_token"')[0]


def wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def test_the_forgot_page_offers_a_code_by_sms(browser: Browser, outbox: SmsOutbox) -> None:
    html = browser.get("/password/forgot").get_data(as_text=True)
    assert 'href="/password/forgot/sms"' in html and "Get a code by SMS" in html


def test_without_a_sender_the_sms_route_is_not_offered(app: Flask, browser: Browser) -> None:
    settings = app.extensions["idp.settings"]
    app.extensions["idp.settings"] = replace(settings, sms_url="", env="production")
    assert "Get a code by SMS" not in browser.get("/password/forgot").get_data(as_text=True)
    assert browser.get("/password/forgot/sms").status_code == 302


def test_the_right_code_leads_to_a_new_password_and_the_traveller_logs_in_with_it(
        browser: Browser, verified: Traveller, outbox: SmsOutbox, app: Flask) -> None:
    other = english_browser(app)
    other.login(verified.email, verified.password)
    asked = ask_code(browser)
    assert asked.status_code == 302 and asked.location == "/password/forgot/sms/code"
    page = browser.get(asked.location).get_data(as_text=True)
    assert "06 •• •• •• 78" in page and "06 12 34 56 78" not in page  # masked
    assert 'autocomplete="one-time-code"' in page

    chosen = type_code(browser, outbox.code(NUMBER))
    assert chosen.status_code == 302 and chosen.location.startswith("/password/reset/by-sms/")
    assert "Choose a new password" in browser.get(chosen.location).get_data(as_text=True)
    done = browser.submit(chosen.location, {"password": NEW_PASSWORD})
    assert done.status_code == 302 and done.location == "/login"

    assert db.session.scalars(db.select(BrowserSession)).all() == []  # sessions ended
    assert other.get("/account").status_code == 302
    assert browser.login(verified.email, verified.password).status_code == 400
    assert browser.login(verified.email, NEW_PASSWORD).status_code == 302
    db.session.refresh(verified.model)
    assert not verified.model.email_verified  # the phone proved, not the mailbox
    (event,) = [e for e in account_events(verified) if e[0] == "account:password_reset"]
    assert event[1]["method"] == "sms"
    assert browser.get(chosen.location).status_code == 410  # the way is used


def test_an_unknown_or_unverified_number_gets_the_same_page_and_no_sms(
        app: Flask, browser: Browser, user: Traveller, outbox: SmsOutbox) -> None:
    user.model.phone_number = "+33698765432"  # saved, never verified
    db.session.commit()
    pages = []
    for typed in ("06 98 76 54 32", "06 11 11 11 11"):
        fresh = english_browser(app)
        asked = ask_code(fresh, typed)
        assert asked.status_code == 302 and asked.location == "/password/forgot/sms/code"
        pages.append(fresh.get(asked.location))
        refused = type_code(fresh, "123456")
        assert refused.status_code == 400
        assert "This code is not right, or it no longer works." in refused.get_data(as_text=True)
    assert outbox.messages() == []
    assert without_csrf(pages[0]).replace("98", "11").replace("32", "11") == without_csrf(
        pages[1])


def test_a_wrong_used_or_expired_code_gets_one_answer(
        browser: Browser, verified: Traveller, outbox: SmsOutbox) -> None:
    ask_code(browser)
    code = outbox.code(NUMBER)
    for attempt in (wrong(code), ""):
        page = type_code(browser, attempt)
        assert page.status_code == 400 and 'id="error-summary"' in page.get_data(as_text=True)
    with time_machine.travel(utcnow() + timedelta(minutes=11), tick=False):
        late = type_code(browser, code)
    assert "This code is not right, or it no longer works." in late.get_data(as_text=True)


def test_five_wrong_codes_kill_the_code(browser: Browser, verified: Traveller,
                                        outbox: SmsOutbox) -> None:
    ask_code(browser)
    code = outbox.code(NUMBER)
    for _ in range(5):
        assert type_code(browser, wrong(code)).status_code == 400
    assert type_code(browser, code).status_code == 400
    assert verified.model.password_hash == db.session.get(
        type(verified.model), verified.model.id).password_hash


def test_a_code_works_once(app: Flask, browser: Browser, verified: Traveller,
                           outbox: SmsOutbox) -> None:
    ask_code(browser)
    code = outbox.code(NUMBER)
    assert type_code(browser, code).status_code == 302
    again = english_browser(app)
    ask_code(again)  # within a minute: no new code leaves
    assert len(outbox.messages(NUMBER)) == 1
    assert type_code(again, code).status_code == 400


def test_asking_again_waits_a_minute_on_a_page_the_same_for_any_number(
        browser: Browser, verified: Traveller, outbox: SmsOutbox) -> None:
    ask_code(browser)
    browser.get("/password/forgot/sms/code")
    too_soon = browser.submit("/password/forgot/sms/again", {})
    assert too_soon.status_code == 429
    assert "You can ask for a new code in 1 minute." in too_soon.get_data(as_text=True)
    with time_machine.travel(utcnow() + timedelta(seconds=61), tick=False):
        browser.get("/password/forgot/sms/code")
        again = browser.submit("/password/forgot/sms/again", {})
        again.close()
        assert again.status_code == 302
        assert len(outbox.messages(NUMBER)) == 2
        assert type_code(browser, outbox.code(NUMBER)).status_code == 302


def test_two_step_is_still_asked_after_a_reset_by_sms(
        app: Flask, logged_in: Browser, verified: Traveller, outbox: SmsOutbox) -> None:
    enrol(logged_in)
    browser = english_browser(app)
    ask_code(browser)
    chosen = type_code(browser, outbox.code(NUMBER))
    browser.get(chosen.location)
    browser.submit(chosen.location, {"password": NEW_PASSWORD})
    start_login(browser, verified.email, NEW_PASSWORD)  # asserts the code page comes
    assert browser.get("/account").status_code == 302

