"""A traveller who forgot their password gets a link by mail: it works once, for 30
minutes; the reset shuts out every other session and token, and never tells anyone
whether an address has an account."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from flask import Flask
from werkzeug.test import TestResponse

from idp.accounts.models import BrowserSession
from idp.extensions import db, utcnow
from idp.outbox import OutboxMessage
from tests.accounts.mail_links import another_browser, follow, link_to, tampered
from tests.browser import Browser
from tests.factories import Traveller, make_platform
from tests.mail import Mailbox, mailbox, smtp_server  # noqa: F401
from tests.tokens import issue_tokens, refresh

NEW_PASSWORD = "seven swans over the river bend"

pytestmark = pytest.mark.usefixtures("in_english")


def ask_reset(browser: Browser, email: str) -> TestResponse:
    """Fill "forgot your password?"; the mail leaves once the answer is sent (closed)."""
    browser.get("/password/forgot")
    response = browser.submit("/password/forgot", {"email": email})
    response.close()
    return response


def without_csrf(page: TestResponse) -> str:
    return page.get_data(as_text=True).split('name="csrf_token"')[0]


def test_the_login_page_links_to_forgot_password(browser: Browser) -> None:
    html = browser.get("/login").get_data(as_text=True)
    assert 'href="/password/forgot"' in html and "Forgot your password?" in html


def test_a_reset_link_works_once_and_the_traveller_logs_in_again(
        browser: Browser, user: Traveller, mailbox: Mailbox) -> None:
    ask_reset(browser, user.email.upper())
    message = mailbox.last(user.email)
    assert message["Subject"] == "Choose a new password for Mobility ID"
    assert "30 minutes" in Mailbox.body(message)
    path = link_to(mailbox, user.email)

    assert browser.get(path).status_code == 200
    response = browser.submit(path, {"password": NEW_PASSWORD})
    assert response.status_code == 302 and response.location == "/login"
    assert browser.get("/account").status_code == 302  # not logged in by the reset

    assert browser.get(path).status_code == 410  # used
    assert mailbox.last(user.email)["Subject"] == "Your Mobility ID password was changed"
    assert browser.login(user.email, user.password).status_code == 400
    assert browser.login(user.email, NEW_PASSWORD).status_code == 302
    db.session.refresh(user.model)
    assert user.model.email_verified  # the link proved the traveller reads this address


def test_an_unknown_address_gets_the_same_answer_and_no_mail(
        browser: Browser, user: Traveller, mailbox: Mailbox) -> None:
    known = ask_reset(browser, user.email)
    known_page = browser.get(known.location)
    unknown = ask_reset(browser, "nobody@example.org")
    unknown_page = browser.get(unknown.location)

    assert known.status_code == unknown.status_code == 302
    assert known.location == unknown.location == "/password/forgot/sent"
    assert without_csrf(known_page) == without_csrf(unknown_page)
    assert "If a Mobility ID account uses this address" in known_page.get_data(as_text=True)
    assert [m["To"] for m in mailbox.messages] == [user.email]


def test_asking_again_within_a_minute_sends_no_second_mail(
        browser: Browser, user: Traveller, mailbox: Mailbox) -> None:
    ask_reset(browser, user.email)
    ask_reset(browser, user.email)
    assert len(mailbox.to(user.email)) == 1


@pytest.mark.parametrize(("minutes", "status"), [(29, 200), (31, 410)])
def test_a_reset_link_lasts_30_minutes(browser: Browser, user: Traveller, mailbox: Mailbox,
                                       minutes: int, status: int) -> None:
    ask_reset(browser, user.email)
    path = link_to(mailbox, user.email)
    with time_machine.travel(utcnow() + timedelta(minutes=minutes), tick=False):
        page = browser.get(path)
        assert page.status_code == status
        if status == 410:
            assert "This link has expired" in page.get_data(as_text=True)
            assert 'href="/password/forgot"' in page.get_data(as_text=True)


def test_only_the_newest_link_works(browser: Browser, user: Traveller,
                                    mailbox: Mailbox) -> None:
    ask_reset(browser, user.email)
    first = link_to(mailbox, user.email)
    with time_machine.travel(utcnow() + timedelta(minutes=2), tick=False):
        ask_reset(browser, user.email)
        second = link_to(mailbox, user.email)
        assert follow(browser, first, {"password": NEW_PASSWORD}).status_code == 410
        assert follow(browser, second, {"password": NEW_PASSWORD}).status_code == 302


@pytest.mark.parametrize("password", [
    "short one", "123456789012345", "traveller mobility id", "aaaaaaaaaaaaaaaaaa"])
def test_a_weak_password_is_refused_and_the_link_still_works(
        browser: Browser, user: Traveller, mailbox: Mailbox, password: str) -> None:
    ask_reset(browser, user.email)
    path = link_to(mailbox, user.email)
    browser.get(path)
    page = browser.submit(path, {"password": password})
    assert page.status_code == 400
    assert 'id="password-error"' in page.get_data(as_text=True)
    assert follow(browser, path, {"password": NEW_PASSWORD}).status_code == 302


def test_a_reset_ends_every_session_and_revokes_every_token(
        app: Flask, logged_in: Browser, user: Traveller, mailbox: Mailbox) -> None:
    platform = make_platform(backchannel_logout_uri="https://carpool.example/backchannel")
    tokens = issue_tokens(logged_in, platform)  # with a refresh token (offline_access)
    assert "refresh_token" in tokens

    elsewhere = another_browser(app)
    ask_reset(elsewhere, user.email)
    assert follow(elsewhere, link_to(mailbox, user.email),
                  {"password": NEW_PASSWORD}).status_code == 302

    assert logged_in.get("/account").status_code == 302  # the old cookie opens nothing
    assert db.session.scalar(db.select(db.func.count(BrowserSession.id))) == 0
    answer = refresh(logged_in.client, platform, tokens["refresh_token"])
    assert answer.status_code == 400 and answer.get_json()["error"] == "invalid_grant"
    assert logged_in.client.get("/userinfo", headers={
        "Authorization": f"Bearer {tokens['access_token']}"}).status_code == 401
    told = db.session.scalars(db.select(OutboxMessage)).all()
    assert [(m.client_id, m.reason) for m in told] == [(platform.client_id, "password_reset")]


@pytest.mark.parametrize("token", ["tampered", "not-a-token", "x" * 1000, "e30.e30.e30"])
def test_a_damaged_link_gets_a_friendly_page(browser: Browser, user: Traveller,
                                             mailbox: Mailbox, token: str) -> None:
    ask_reset(browser, user.email)
    if token == "tampered":
        token = tampered(link_to(mailbox, user.email).rsplit("/", 1)[1])
    page = browser.get(f"/password/reset/{token}")
    assert page.status_code == 400
    assert "This link does not work" in page.get_data(as_text=True)


def test_a_verification_link_does_not_reset_the_password(
        logged_in: Browser, user: Traveller, mailbox: Mailbox) -> None:
    logged_in.get("/account")
    logged_in.submit("/account/email/resend", {})
    token = link_to(mailbox, user.email).rsplit("/", 1)[1]
    assert logged_in.get(f"/password/reset/{token}").status_code == 400


def test_forgot_password_pages_speak_french(browser: Browser, user: Traveller,
                                            mailbox: Mailbox) -> None:
    browser.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr"
    for path in ("/password/forgot/sent", "/password/forgot"):
        page = browser.get(path)
        assert page.status_code == 200 and '<html lang="fr">' in page.get_data(as_text=True)
    bad = browser.submit("/password/forgot", {"email": "not an address"})
    assert bad.status_code == 400 and 'id="email-error"' in bad.get_data(as_text=True)
    ask_reset(browser, user.email)
    page = browser.get(link_to(mailbox, user.email))
    assert page.status_code == 200 and '<html lang="fr">' in page.get_data(as_text=True)
    assert browser.get("/password/reset/x").status_code == 400
