"""A traveller proves they read the account's address: a link is mailed at sign-up (and
again on request), works once, for a day; until then platforms see email_verified false.
Since issue 9 (item 9) the sign-up link also activates the new account, with the password
chosen (tests/accounts/test_signup.py)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from flask import Flask

from idp.accounts.models import User
from idp.extensions import db, utcnow
from tests.accounts.mail_links import follow, link_to, tampered
from tests.browser import AuthorizationRequest, Browser, query_of
from tests.factories import Platform, Traveller
from tests.mail import Mailbox, mailbox, smtp_server  # noqa: F401
from tests.tokens import redeem, userinfo, verify_id_token

EMAIL = "nawel@example.org"

pytestmark = pytest.mark.usefixtures("in_english")


PASSWORD = "the tram to the old harbour"


def sign_up(browser: Browser) -> None:
    browser.get("/signup")
    page = browser.submit("/signup", {"given_name": "Nawel", "email": EMAIL,
                                      "password": PASSWORD})
    page.close()  # the mail leaves once the answer is sent
    assert page.status_code == 200


def is_verified(email: str) -> bool:
    db.session.expire_all()
    user = db.session.scalar(db.select(User).where(User.email == email))
    assert user is not None
    return user.email_verified


def resend(browser: Browser) -> int:
    browser.get("/account")
    return browser.submit("/account/email/resend", {}).status_code


def test_the_link_mailed_at_sign_up_verifies_the_address_once(
        browser: Browser, mailbox: Mailbox) -> None:
    sign_up(browser)
    assert not is_verified(EMAIL)
    path = link_to(mailbox, EMAIL)
    assert mailbox.last(EMAIL)["Subject"] == "Finish creating your Mobility ID account"

    page = browser.get(path)
    assert page.status_code == 200 and EMAIL in page.get_data(as_text=True)
    assert not is_verified(EMAIL)  # opening the link (a mail scanner) changes nothing
    response = browser.submit(path, {"password": PASSWORD})  # a sign-up's link asks it
    assert response.status_code == 302 and response.location == "/account"
    assert is_verified(EMAIL)

    again = browser.get(path)
    assert again.status_code == 410
    assert "This link no longer works" in again.get_data(as_text=True)


def test_the_link_works_in_a_browser_that_is_not_logged_in(
        browser: Browser, app: Flask, mailbox: Mailbox) -> None:
    sign_up(browser)
    phone = Browser(app.test_client())
    assert follow(phone, link_to(mailbox, EMAIL), {"password": PASSWORD}).status_code == 302
    assert is_verified(EMAIL)


def released_email_verified(browser: Browser, platform: Platform) -> tuple[bool, bool]:
    """What a platform reads of email_verified, in the ID token (asked for by the claims
    parameter) and from userinfo, after the traveller signs in to it."""
    request = AuthorizationRequest(platform.client_id, platform.redirect_uri,
                                   scope="openid email", extra={"claims": json.dumps(
                                       {"id_token": {"email_verified": None}})})
    page = browser.authorize(request)
    if page.status_code == 200:
        page = browser.follow_local(browser.consent("allow"))
    tokens = redeem(browser.client, platform, query_of(page.location)["code"],
                    request.verifier).get_json()
    id_token = verify_id_token(browser.client, tokens["id_token"])
    info = userinfo(browser.client, tokens["access_token"]).get_json()
    return id_token["email_verified"], info["email_verified"]


def test_platforms_see_email_verified_from_the_account(
        logged_in: Browser, user: Traveller, platform: Platform, mailbox: Mailbox) -> None:
    assert released_email_verified(logged_in, platform) == (False, False)

    assert resend(logged_in) == 302
    assert follow(logged_in, link_to(mailbox, user.email)).status_code == 302

    assert released_email_verified(logged_in, platform) == (True, True)


def test_the_account_page_offers_to_send_the_link_again(
        logged_in: Browser, user: Traveller, mailbox: Mailbox) -> None:
    html = logged_in.get("/account").get_data(as_text=True)
    assert "not verified yet" in html and 'action="/account/email/resend"' in html

    assert resend(logged_in) == 302
    first = link_to(mailbox, user.email)
    assert resend(logged_in) == 302  # within a minute: no second mail
    assert len(mailbox.to(user.email)) == 1

    with time_machine.travel(utcnow() + timedelta(minutes=2), tick=False):
        assert resend(logged_in) == 302
        second = link_to(mailbox, user.email)
        assert second != first
        assert logged_in.get(first).status_code == 410  # only the newest link works
        assert follow(logged_in, second).status_code == 302
        assert is_verified(user.email)
        html = logged_in.get("/account").get_data(as_text=True)
    assert "not verified yet" not in html and "confirmed" in html
    assert 'action="/account/email/resend"' not in html


def test_sending_again_needs_a_login(browser: Browser) -> None:
    browser.get("/login")
    response = browser.submit("/account/email/resend", {})
    assert response.status_code == 302 and response.location.startswith("/login")


@pytest.mark.parametrize(("hours", "status"), [(23.9, 200), (24.1, 410)])
def test_the_link_lasts_a_day(browser: Browser, mailbox: Mailbox, hours: float,
                              status: int) -> None:
    sign_up(browser)
    path = link_to(mailbox, EMAIL)
    with time_machine.travel(utcnow() + timedelta(hours=hours), tick=False):
        page = browser.get(path)
    assert page.status_code == status
    assert (status == 410) == ("This link has expired" in page.get_data(as_text=True))


@pytest.mark.parametrize("token", [
    "tampered", "nonsense", "a" * 600, "e30.ZZZZZZ.YYYYYYYYYYYYYYYYYYYYYYYYYYY", "%00", "..",
])
def test_a_damaged_link_gets_a_friendly_page(browser: Browser, mailbox: Mailbox,
                                             token: str) -> None:
    sign_up(browser)
    path = link_to(mailbox, EMAIL)
    if token == "tampered":
        token = tampered(path.rsplit("/", 1)[1])
    page = browser.get(f"/email/verify/{token}", headers={"Accept-Language": "en"})
    assert page.status_code in (400, 404)
    assert "Mobility ID" in page.get_data(as_text=True)
    # A forged form post does not get further.
    page = browser.client.post(f"/email/verify/{token}", data={})
    assert page.status_code in (400, 404)
    assert not is_verified(EMAIL)


def test_a_reset_link_does_not_verify_through_the_verification_address(
        browser: Browser, user: Traveller, mailbox: Mailbox) -> None:
    browser.get("/password/forgot")
    browser.submit("/password/forgot", {"email": user.email}).close()
    token = link_to(mailbox, user.email).rsplit("/", 1)[1]
    page = browser.get(f"/email/verify/{token}")
    assert page.status_code == 400
    assert not is_verified(user.email)


def test_the_link_pages_speak_french(browser: Browser, mailbox: Mailbox) -> None:
    sign_up(browser)
    path = link_to(mailbox, EMAIL)
    page = browser.get(path, headers={"Accept-Language": "fr"})
    assert page.status_code == 200 and '<html lang="fr">' in page.get_data(as_text=True)
    broken = browser.get(path + "x", headers={"Accept-Language": "fr"})
    assert broken.status_code == 400 and '<html lang="fr">' in broken.get_data(as_text=True)


def test_the_mail_speaks_the_language_the_traveller_chose(
        logged_in: Browser, user: Traveller, mailbox: Mailbox) -> None:
    user.model.locale = "fr-FR"  # chosen on the profile; the browser still asks English
    db.session.commit()
    assert resend(logged_in) == 302
    assert "1\u00a0jour" in Mailbox.body(mailbox.last(user.email))  # CLDR French duration
