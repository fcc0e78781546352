"""Throttling beyond the password form: the second step, the current password asked
before a change, and the lock after NIST's 100 consecutive failures, which only a
password reset by email opens."""

from __future__ import annotations

import pytest
from flask import Flask
from time_machine import TimeMachineFixture

from idp.accounts import throttle
from tests.accounts.mail_links import link_to
from tests.accounts.test_throttle import WRONG, from_address, log_in
from tests.browser import Browser
from tests.factories import Traveller
from tests.mail import Mailbox, mailbox, smtp_server  # noqa: F401
from tests.totp import code_at, enrol, start_login

FREE = throttle.FREE_FAILURES
NEW_PASSWORD = "a brand new route along the river bank"

pytestmark = pytest.mark.usefixtures("in_english")


@pytest.fixture
def enrolled(logged_in: Browser, frozen: TimeMachineFixture) -> str:
    """A traveller with two-step verification, logged out, three steps later."""
    key, _ = enrol(logged_in)
    logged_in.get("/logout")
    logged_in.submit("/logout", {})
    frozen.shift(90)
    return key


def test_wrong_codes_delay_the_second_step_even_for_the_right_code(
    browser: Browser, user: Traveller, enrolled: str
) -> None:
    url = start_login(browser, user.email, user.password)
    for _ in range(FREE + 1):
        assert browser.submit(url, {"code": "000000"}).status_code == 400

    refused = browser.submit(url, {"code": code_at(enrolled)})

    assert refused.status_code == 429
    assert "Too many attempts for this account." in refused.get_data(as_text=True)
    assert browser.get("/account").status_code == 302  # still not signed in


def test_recovery_codes_share_the_second_steps_delay(
    browser: Browser, user: Traveller, enrolled: str
) -> None:
    url = start_login(browser, user.email, user.password)
    for _ in range(FREE + 1):
        browser.submit(url, {"code": "000000"})
    recovery = url.replace("/login/code", "/login/recovery")
    browser.get(recovery)

    refused = browser.submit(recovery, {"recovery_code": "aaaa-bbbb-cccc-dddd"})

    assert refused.status_code == 429


def test_the_current_password_before_a_change_is_throttled(
    logged_in: Browser, user: Traveller
) -> None:
    logged_in.get("/account/password")
    for _ in range(FREE + 1):
        page = logged_in.submit("/account/password",
                                {"current_password": WRONG, "password": NEW_PASSWORD})
        assert "This is not your current password." in page.get_data(as_text=True)

    page = logged_in.submit("/account/password",
                            {"current_password": user.password, "password": NEW_PASSWORD})

    assert "Too many attempts for this account." in page.get_data(as_text=True)


def test_after_100_failures_only_a_reset_by_email_opens_the_account(
    app: Flask, browser: Browser, user: Traveller, mailbox: Mailbox,
    frozen: TimeMachineFixture
) -> None:
    guesser = from_address(app, "203.0.113.7")
    for _ in range(throttle.LOCK_AFTER_FAILURES):
        log_in(guesser, user.email, WRONG).close()
        frozen.shift(throttle.MAX_DELAY + 1)  # every delay waited out
    frozen.shift(2 * 24 * 3600)

    locked = log_in(from_address(app, "198.51.100.9"), user.email, user.password)

    assert locked.status_code == 429
    assert "This account is locked" in locked.get_data(as_text=True)
    assert mailbox.last(user.email)["Subject"] == "Your Mobility ID account is locked"
    browser.get("/password/forgot")
    browser.submit("/password/forgot", {"email": user.email}).close()
    browser.get(path := link_to(mailbox, user.email))
    browser.submit(path, {"password": NEW_PASSWORD})
    assert log_in(from_address(app, "198.51.100.9"), user.email,
                  NEW_PASSWORD).status_code == 302


def test_an_unknown_address_is_locked_alike(app: Flask, frozen: TimeMachineFixture) -> None:
    guesser = from_address(app, "203.0.113.7")
    for _ in range(throttle.LOCK_AFTER_FAILURES):
        log_in(guesser, "nobody@example.org", WRONG)
        frozen.shift(throttle.MAX_DELAY + 1)

    page = log_in(guesser, "nobody@example.org", WRONG)

    assert page.status_code == 429 and "This account is locked" in page.get_data(as_text=True)


def test_a_right_password_without_the_code_is_no_sign_in_to_tell(
    browser: Browser, user: Traveller, enrolled: str, mailbox: Mailbox
) -> None:
    browser.get("/login")
    for _ in range(3):
        browser.submit("/login", {"email": user.email, "password": WRONG})
    url = start_login(browser, user.email, user.password)
    assert mailbox.to(user.email) == []  # the password alone is not a sign-in

    browser.submit(url, {"code": code_at(enrolled)}).close()

    notice = mailbox.last(user.email)
    assert "after 3 failed attempts" in Mailbox.body(notice)


def test_wrong_codes_at_re_authentication_count_with_the_second_step(
    logged_in: Browser, user: Traveller, frozen: TimeMachineFixture
) -> None:
    key, _ = enrol(logged_in)
    frozen.shift(301)  # the confirmation is old: changes ask for it again
    logged_in.get("/account/confirm")
    for _ in range(FREE + 1):
        page = logged_in.submit("/account/confirm",
                                {"password": user.password, "code": "000000"})
        assert page.status_code == 400

    refused = logged_in.submit("/account/confirm",
                               {"password": user.password, "code": code_at(key)})

    assert refused.status_code == 429
    assert "Too many attempts for this account." in refused.get_data(as_text=True)
