"""Sign-up tells nobody who has an account (issue 9, item 9): the same page, status and
work for a new address and a taken one; the address's owner learns by mail. A new
account waits, pending, until its link is followed with the password chosen."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from idp.accounts.models import User
from idp.extensions import db, utcnow
from tests.accounts.mail_links import another_browser, follow, link_to
from tests.browser import ISSUER, AuthorizationRequest, Browser, csrf_token, query_of
from tests.factories import Platform, Traveller, make_user
from tests.mail import Mailbox, mailbox, smtp_server  # noqa: F401

EMAIL = "nawel@example.org"
CHOSEN = "the tram to the old harbour"
OTHER = "a stranger typed this long password"

pytestmark = pytest.mark.usefixtures("in_english")


def sign_up(browser: Browser, email: str = EMAIL, password: str = CHOSEN,
            given_name: str = "Nawel", query: str = "") -> TestResponse:
    """Fill the sign-up form; its mail leaves once the answer is sent (closed)."""
    browser.get(f"/signup{query}")
    page = browser.submit(f"/signup{query}", {"given_name": given_name, "email": email,
                                              "password": password})
    page.close()
    return page


def without_secrets(page: TestResponse, email: str) -> str:
    """The page without what differs by design: the CSRF token and the typed address."""
    html = re.sub(r'name="csrf_token" type="hidden" value="[^"]+"', "",
                  page.get_data(as_text=True))
    return html.replace(email, "EMAIL")


def account(email: str = EMAIL) -> User | None:
    db.session.expire_all()
    return db.session.scalar(db.select(User).where(User.email == email))


def confirm(browser: Browser, path: str, password: str) -> TestResponse:
    browser.get(path)
    return browser.submit(path, {"password": password})


def test_a_new_and_a_taken_address_get_the_same_answer(
        browser: Browser, user: Traveller, mailbox: Mailbox) -> None:
    new = sign_up(browser, "Someone.New@Example.org")
    taken = sign_up(browser, user.email.upper())

    assert new.status_code == taken.status_code == 200
    assert sorted(new.headers.keys()) == sorted(taken.headers.keys())
    assert without_secrets(new, "someone.new@example.org") == without_secrets(taken, user.email)
    assert "Check your mailbox" in new.get_data(as_text=True)
    assert "already uses" not in taken.get_data(as_text=True)


class CountingHasher(PasswordHasher):
    """argon2's hasher, noting each password it hashes or checks."""

    def __init__(self, calls: list[str]) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.calls = calls

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self.calls.append("hash")
        return super().hash(password, salt=salt)

    def verify(self, hash: str | bytes, password: str | bytes) -> Any:  # noqa: A002
        self.calls.append("verify")
        return super().verify(hash, password)


def test_every_address_costs_the_same_argon2_work(
        app: Flask, browser: Browser, user: Traveller, mailbox: Mailbox) -> None:
    pending = make_user()
    pending.model.activated_at = None
    db.session.commit()
    calls: list[str] = []
    app.extensions["idp.passwords"] = CountingHasher(calls)

    for email in ("new@example.org", user.email, pending.email):
        calls.append(email)
        sign_up(browser, email)

    assert calls == ["new@example.org", "hash", user.email, "hash", pending.email, "hash"]


def test_the_owner_of_a_taken_address_is_told_and_nothing_changes(
        browser: Browser, user: Traveller, mailbox: Mailbox) -> None:
    before = (user.model.password_hash, user.model.given_name)
    sign_up(browser, user.email, OTHER, given_name="Mallory")

    message = mailbox.last(user.email)
    body = Mailbox.body(message)
    assert message["Subject"] == "Someone tried to create a Mobility ID account with your address"
    assert "Someone, maybe you, tried to create a Mobility ID account" in body
    assert "Hello Umberto," in body and "Mallory" not in body
    assert mailbox.links(message) == [f"{ISSUER}/login", f"{ISSUER}/password/forgot"]
    found = account(user.email)
    assert found is not None and (found.password_hash, found.given_name) == before
    assert browser.login(user.email, user.password).status_code == 302


def test_the_owner_is_told_in_the_language_they_chose(
        browser: Browser, mailbox: Mailbox) -> None:
    owner = make_user(locale="fr-FR")
    sign_up(browser, owner.email)  # the browser asks English; the owner chose French

    body = Mailbox.body(mailbox.last(owner.email))
    assert "Bonjour Umberto," in body


def test_a_new_account_waits_for_its_address(browser: Browser, mailbox: Mailbox) -> None:
    sign_up(browser)

    user = account()
    assert user is not None and user.is_pending and not user.email_verified
    assert user.password_hash.startswith("$argon2id$")
    assert mailbox.last(EMAIL)["Subject"] == "Finish creating your Mobility ID account"
    assert browser.get("/account").status_code == 302  # not logged in


def test_a_pending_account_cannot_log_in_but_can_get_its_link_again(
        browser: Browser, mailbox: Mailbox) -> None:
    sign_up(browser)
    first = link_to(mailbox, EMAIL)

    wrong = browser.login(EMAIL, OTHER)
    assert wrong.status_code == 400 and "Send the link again" not in wrong.get_data(as_text=True)
    page = browser.login(EMAIL, CHOSEN)
    assert page.status_code == 403
    assert "Confirm your address first" in page.get_data(as_text=True)
    assert browser.get("/account").status_code == 302

    with time_machine.travel(utcnow() + timedelta(minutes=2), tick=False):
        browser.login(EMAIL, CHOSEN)
        again = browser.submit("/signup/resend", {})
        again.close()
        assert again.status_code == 200 and "Check your mailbox" in again.get_data(as_text=True)
        second = link_to(mailbox, EMAIL)
        assert second != first and browser.get(first).status_code == 410


def test_nobody_else_can_make_us_send_the_link_again(
        app: Flask, browser: Browser, mailbox: Mailbox) -> None:
    sign_up(browser)
    stranger = another_browser(app)
    stranger.get("/login")
    refused = stranger.submit("/signup/resend", {})
    assert refused.status_code == 302 and refused.location.startswith("/login")
    assert len(mailbox.to(EMAIL)) == 1


def test_the_link_and_the_password_activate_the_account(
        app: Flask, browser: Browser, mailbox: Mailbox) -> None:
    sign_up(browser)
    phone = another_browser(app)  # the mail is read on another device

    assert confirm(phone, link_to(mailbox, EMAIL), OTHER).status_code == 400
    assert account().is_pending  # type: ignore[union-attr]
    response = confirm(phone, link_to(mailbox, EMAIL), CHOSEN)

    assert response.status_code == 302 and response.location == "/account"
    user = account()
    assert user is not None and not user.is_pending and user.email_verified
    assert phone.get("/account").status_code == 200
    assert browser.login(EMAIL, CHOSEN).status_code == 302
    assert phone.get(link_to(mailbox, EMAIL)).status_code == 410


def test_opening_the_link_changes_nothing(browser: Browser, mailbox: Mailbox) -> None:
    sign_up(browser)
    page = browser.get(link_to(mailbox, EMAIL))
    assert page.status_code == 200 and EMAIL in page.get_data(as_text=True)
    assert account().is_pending  # type: ignore[union-attr]  # a mail scanner spends nothing


def test_someone_who_signed_up_first_with_my_address_does_not_keep_it(
        app: Flask, browser: Browser, mailbox: Mailbox) -> None:
    squatter = another_browser(app)
    sign_up(squatter, EMAIL, OTHER, given_name="Mallory")
    with time_machine.travel(utcnow() + timedelta(minutes=2), tick=False):
        sign_up(browser, EMAIL, CHOSEN)
        link = link_to(mailbox, EMAIL)

        user = account()
        assert user is not None and user.given_name == "Nawel"
        assert len(mailbox.to(EMAIL)) == 2
        # Had the squatter the link, their password would not open it.
        assert confirm(squatter, link, OTHER).status_code == 400
        assert confirm(browser, link, CHOSEN).status_code == 302


def test_a_squatter_signing_up_after_me_cannot_make_me_activate_their_password(
        app: Flask, browser: Browser, mailbox: Mailbox) -> None:
    sign_up(browser, EMAIL, CHOSEN)
    squatter = another_browser(app)
    with time_machine.travel(utcnow() + timedelta(minutes=2), tick=False):
        sign_up(squatter, EMAIL, OTHER)
        # I follow the newest link with my password: refused, so I sign up again.
        assert confirm(browser, link_to(mailbox, EMAIL), CHOSEN).status_code == 400
        assert account().is_pending  # type: ignore[union-attr]
        assert squatter.login(EMAIL, OTHER).status_code == 403


def authorize_then_sign_up(browser: Browser, platform: Platform,
                           **extra: str) -> AuthorizationRequest:
    request = AuthorizationRequest(platform.client_id, platform.redirect_uri, extra=extra)
    page = browser.authorize(request)
    interaction = query_of(page.request.full_path)["interaction"]
    sign_up(browser, query=f"?interaction={interaction}")
    return request


def test_a_platform_flow_started_before_sign_up_goes_on(
        browser: Browser, platform: Platform, mailbox: Mailbox) -> None:
    request = authorize_then_sign_up(browser, platform)
    link = link_to(mailbox, EMAIL)
    assert "interaction=" in link

    page = browser.follow_local(confirm(browser, link, CHOSEN))
    assert page.status_code == 200 and 'action="/consent/' in page.get_data(as_text=True)
    answer = browser.follow_local(browser.consent("allow"))
    params = query_of(answer.location)
    assert answer.location.startswith(platform.redirect_uri)
    assert params["state"] == request.state and params["code"]


def test_on_another_device_the_confirmation_goes_to_the_account(
        app: Flask, browser: Browser, platform: Platform, mailbox: Mailbox) -> None:
    authorize_then_sign_up(browser, platform)
    response = confirm(another_browser(app), link_to(mailbox, EMAIL), CHOSEN)
    assert response.status_code == 302 and response.location == "/account"


def test_the_link_speaks_the_language_the_platform_asked_for(
        browser: Browser, platform: Platform, mailbox: Mailbox) -> None:
    authorize_then_sign_up(browser, platform, ui_locales="fr")  # the browser asks English
    assert "Bonjour Nawel," in Mailbox.body(mailbox.last(EMAIL))


def post_sign_up(client: FlaskClient, n: int) -> int:
    page = client.get("/signup")
    return client.post("/signup", headers={"Referer": ISSUER}, data={
        "csrf_token": csrf_token(page.get_data(as_text=True)), "given_name": "X",
        "email": f"someone{n}@example.org", "password": "not even a good one",
    }).status_code


def test_sign_up_counts_every_post_against_the_network(app: Flask, client: FlaskClient) -> None:
    # Each sign-up may send a mail: a network cannot use the form to flood mailboxes.
    client.environ_base["REMOTE_ADDR"] = "203.0.113.7"
    with time_machine.travel(utcnow(), tick=False):
        statuses = [post_sign_up(client, n) for n in range(31)]
    assert statuses[-1] == 429 and set(statuses[:-1]) <= {200, 400}


def test_unconfirmed_sign_ups_are_removed_once_their_link_expired(
        app: Flask, browser: Browser, user: Traveller, mailbox: Mailbox) -> None:
    sign_up(browser)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["users", "prune"]).output == "removed 0 unconfirmed sign-up(s)\n"
    with time_machine.travel(utcnow() + timedelta(hours=23), tick=False):
        sign_up(browser, "later@example.org")
    with time_machine.travel(utcnow() + timedelta(hours=24, minutes=1), tick=False):
        result = runner.invoke(args=["users", "prune"])

    assert result.output == "removed 1 unconfirmed sign-up(s)\n"
    assert account() is None
    assert account("later@example.org") is not None and account(user.email) is not None


def test_a_password_reset_also_ends_a_pending_sign_up(
        app: Flask, browser: Browser, mailbox: Mailbox) -> None:
    # Following the reset link proves the address; the new password is the owner's.
    sign_up(browser)
    with time_machine.travel(utcnow() + timedelta(minutes=2), tick=False):
        browser.get("/password/forgot")
        browser.submit("/password/forgot", {"email": EMAIL}).close()
        path = link_to(mailbox, EMAIL)
        browser.get(path)
        new_password = "a new way along the river bank"
        assert browser.submit(path, {"password": new_password}).status_code == 302
        assert browser.login(EMAIL, new_password).status_code == 302


def test_a_sign_up_never_confirmed_does_not_block_an_address(
        app: Flask, logged_in: Browser, user: Traveller, mailbox: Mailbox) -> None:
    # Someone signs up with an address another traveller is moving their account to.
    sign_up(another_browser(app), EMAIL, OTHER)
    with time_machine.travel(utcnow() + timedelta(minutes=2), tick=False):
        logged_in.get("/account/email")
        assert logged_in.submit("/account/email", {"email": EMAIL}).status_code == 302
        assert follow(logged_in, link_to(mailbox, EMAIL)).status_code == 302

    moved = account()
    assert moved is not None and moved.id == user.model.id and not moved.is_pending
    assert db.session.scalar(db.select(db.func.count(User.id))) == 1
