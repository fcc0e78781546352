"""A traveller proves their phone number with a code sent by SMS: the code works once,
for 10 minutes, dies after 5 wrong tries, and codes are not sent more than once a minute
nor five times an hour. Only then does the account say "verified"."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from flask import Flask
from werkzeug.test import TestResponse

from idp.accounts.models import User
from idp.extensions import db, utcnow
from tests.accounts.test_account_events import account_events
from tests.browser import Browser
from tests.factories import Traveller
from tests.sms import SmsOutbox, outbox_for

NUMBER = "+33612345678"

pytestmark = pytest.mark.usefixtures("in_english")


@pytest.fixture
def outbox(app: Flask, tmp_path: Path) -> SmsOutbox:
    return outbox_for(app, tmp_path)


def save_number(browser: Browser, typed: str = "06 12 34 56 78") -> TestResponse:
    browser.get("/account/phone")
    return browser.submit("/account/phone", {"phone_number": typed})


def type_code(browser: Browser, code: str) -> TestResponse:
    browser.get("/account/phone/verify")
    return browser.submit("/account/phone/verify", {"code": code})


def send_again(browser: Browser) -> TestResponse:
    browser.get("/account/phone/verify")
    return browser.submit("/account/phone/verify/send", {})


def reload(user: Traveller) -> User:
    db.session.expire_all()
    found = db.session.get(User, user.model.id)
    assert found is not None
    return found


def test_a_saved_number_gets_a_code_and_the_right_code_verifies_it(
        logged_in: Browser, user: Traveller, outbox: SmsOutbox) -> None:
    saved = save_number(logged_in)
    assert saved.status_code == 302 and saved.location == "/account/phone/verify"
    page = logged_in.get("/account/phone/verify").get_data(as_text=True)
    assert "We sent a code to 06 12 34 56 78" in page  # in full: the owner is reading
    assert 'autocomplete="one-time-code"' in page and 'inputmode="numeric"' in page
    assert reload(user).phone_number == NUMBER and not reload(user).phone_number_verified

    verified = type_code(logged_in, outbox.code(NUMBER))
    assert verified.status_code == 302 and verified.location == "/account"
    assert reload(user).phone_number_verified
    profile = logged_in.get("/account").get_data(as_text=True)
    assert "06 12 34 56 78" in profile and ">verified<" in profile
    assert "Verify my phone number" not in profile and "/account/phone/verify" not in profile
    assert account_events(user)[-1] == ("account:phone_verified", {})
    assert "You verified your phone number" in logged_in.get(
        "/account/platforms").get_data(as_text=True)


def test_an_unverified_number_offers_to_verify_it_now(
        logged_in: Browser, user: Traveller, outbox: SmsOutbox) -> None:
    user.model.phone_number = NUMBER
    db.session.commit()
    profile = logged_in.get("/account").get_data(as_text=True)
    assert "not verified yet" in profile and 'href="/account/phone/verify"' in profile
    page = logged_in.get("/account/phone/verify").get_data(as_text=True)
    assert "We will send a code by text message to 06 12 34 56 78" in page
    assert outbox.messages() == []
    assert send_again(logged_in).status_code == 302
    assert type_code(logged_in, outbox.code(NUMBER)).status_code == 302
    assert reload(user).phone_number_verified


def test_a_wrong_code_is_refused_with_the_error_summary(
        logged_in: Browser, user: Traveller, outbox: SmsOutbox) -> None:
    save_number(logged_in)
    right = outbox.code(NUMBER)
    wrong = "000000" if right != "000000" else "111111"
    page = type_code(logged_in, wrong)
    html = page.get_data(as_text=True)
    assert page.status_code == 400 and 'id="error-summary"' in html
    assert "This code is not right" in html and f'value="{wrong}"' not in html
    assert not reload(user).phone_number_verified
    empty = type_code(logged_in, "")
    assert "Enter the 6-digit code we sent you." in empty.get_data(as_text=True)


def test_five_wrong_codes_kill_the_code(logged_in: Browser, user: Traveller,
                                        outbox: SmsOutbox) -> None:
    save_number(logged_in)
    right = outbox.code(NUMBER)
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(5):
        assert "This code is not right" in type_code(logged_in, wrong).get_data(as_text=True)
    dead = type_code(logged_in, right)
    assert dead.status_code == 400
    assert "Too many wrong codes. Ask for a new one." in dead.get_data(as_text=True)
    assert not reload(user).phone_number_verified


def test_a_code_works_for_ten_minutes(logged_in: Browser, user: Traveller,
                                      outbox: SmsOutbox) -> None:
    save_number(logged_in)
    code = outbox.code(NUMBER)
    with time_machine.travel(utcnow() + timedelta(minutes=10, seconds=1), tick=False):
        page = type_code(logged_in, code)
    assert page.status_code == 400
    assert "This code is too old. Ask for a new one." in page.get_data(as_text=True)
    assert not reload(user).phone_number_verified


def test_a_new_code_voids_the_older_one(logged_in: Browser, user: Traveller,
                                        outbox: SmsOutbox) -> None:
    save_number(logged_in)
    first = outbox.code(NUMBER)
    with time_machine.travel(utcnow() + timedelta(seconds=61), tick=False):
        assert send_again(logged_in).status_code == 302
        second = outbox.code(NUMBER)
        if first != second:
            assert "not right" in type_code(logged_in, first).get_data(as_text=True)
        assert type_code(logged_in, second).status_code == 302


def test_codes_are_not_sent_more_than_once_a_minute_nor_five_times_an_hour(
        logged_in: Browser, outbox: SmsOutbox) -> None:
    save_number(logged_in)
    too_soon = send_again(logged_in)
    assert too_soon.status_code == 429
    assert "You can ask for a new code in 1 minute." in too_soon.get_data(as_text=True)
    start = utcnow()
    for minute in range(1, 5):
        with time_machine.travel(start + timedelta(minutes=minute, seconds=1), tick=False):
            assert send_again(logged_in).status_code == 302
    assert len(outbox.messages(NUMBER)) == 5
    with time_machine.travel(start + timedelta(minutes=10), tick=False):
        refused = send_again(logged_in)
    assert refused.status_code == 429
    assert "You can ask for a new code in 50 minutes." in refused.get_data(as_text=True)
    assert len(outbox.messages(NUMBER)) == 5


def test_the_code_never_reaches_the_logs(logged_in: Browser, outbox: SmsOutbox,
                                         caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        save_number(logged_in)
        type_code(logged_in, outbox.code(NUMBER))
    assert outbox.code(NUMBER) not in caplog.text and "612345678" not in caplog.text


@pytest.mark.parametrize("typed", ["+33 6 12 34 56 78", "0612345678", "06.12.34.56.78",
                                   "0033 6 12 34 56 78"])
def test_a_number_is_kept_in_one_form_whatever_way_it_is_typed(
        logged_in: Browser, user: Traveller, outbox: SmsOutbox, typed: str) -> None:
    assert save_number(logged_in, typed).status_code == 302
    assert reload(user).phone_number == NUMBER
