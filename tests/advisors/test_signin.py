"""An advisor's own account: a one-time set-up link (a password, then the authenticator
app, required), sign-in with email, password and a code, sign-out. An advisor is never a
traveller: their signed-in state is their own cookie and row."""

from __future__ import annotations

import pytest
from flask import Flask
from time_machine import TimeMachineFixture

from idp.advisors.models import AdvisorSession
from idp.advisors.service import add_advisor, find_advisor, revoke_advisor
from idp.extensions import db
from tests.advisors.pages import PASSWORD, make_ready, new_browser, set_up, setup_path, sign_in
from tests.totp import code_at, read_key

pytestmark = pytest.mark.usefixtures("frozen")


def test_the_set_up_link_asks_a_password_then_the_app_and_works_once(
        app: Flask, frozen: TimeMachineFixture) -> None:
    advisor, link = add_advisor("nadia@centre.example", "Nadia Benali", "Mobilité Lyon")
    browser = new_browser(app)

    set_up(browser, link)

    db.session.refresh(advisor)
    assert advisor.is_ready and advisor.setup_token_hash is None
    assert advisor.password_hash is not None and advisor.password_hash.startswith("$argon2")
    assert advisor.totp_secret_encrypted is not None
    again = new_browser(app).get(setup_path(link))
    assert again.status_code == 404
    assert "Ask your operator for a new one" in again.get_data(as_text=True)


def test_a_weak_password_is_refused_with_the_error_summary(app: Flask) -> None:
    _, link = add_advisor("nadia@centre.example", "Nadia Benali", "Mobilité Lyon")
    browser = new_browser(app)
    path = setup_path(link)
    browser.get(path)

    page = browser.submit(path, {"password": "short"})

    html = page.get_data(as_text=True)
    assert page.status_code == 400
    assert 'class="error-summary"' in html and "Error: Set up your advisor account" in html


def test_no_access_before_the_app_is_set_up(app: Flask) -> None:
    _, link = add_advisor("nadia@centre.example", "Nadia Benali", "Mobilité Lyon")
    browser = new_browser(app)
    path = setup_path(link)
    browser.get(path)
    assert browser.submit(path, {"password": PASSWORD}).status_code == 302

    browser.get("/advisor/login")
    refused = browser.submit("/advisor/login", {"email": "nadia@centre.example",
                                                "password": PASSWORD})

    assert refused.status_code == 403
    assert "set up your authenticator app first" in refused.get_data(as_text=True)
    assert browser.get("/advisor").location.startswith("/advisor/login")
    assert db.session.scalar(db.select(db.func.count(AdvisorSession.id))) == 0


def test_sign_in_with_the_right_code_opens_the_advisor_pages(
        app: Flask, frozen: TimeMachineFixture) -> None:
    account = make_ready(app, frozen)
    browser = new_browser(app)
    assert browser.get("/advisor").status_code == 302

    signed_in = sign_in(browser, account)

    assert signed_in.status_code == 302 and signed_in.location == "/advisor"
    page = browser.get("/advisor")
    assert page.status_code == 200
    assert "Signed in as advisor: Nadia Benali" in page.get_data(as_text=True)
    # Never a traveller: the traveller's pages still ask for a traveller's login.
    assert browser.get("/account").location.startswith("/login")


def test_a_wrong_code_is_refused(app: Flask, frozen: TimeMachineFixture) -> None:
    account = make_ready(app, frozen)
    browser = new_browser(app)
    wrong = "000000" if code_at(account.key) != "000000" else "111111"

    refused = sign_in(browser, account, code=wrong)

    assert refused.status_code == 400
    assert "This code is not right" in refused.get_data(as_text=True)
    assert browser.get("/advisor").status_code == 302


def test_a_code_used_once_is_refused_the_second_time(
        app: Flask, frozen: TimeMachineFixture) -> None:
    account = make_ready(app, frozen)
    code = code_at(account.key)
    first = new_browser(app)
    assert sign_in(first, account, code).status_code == 302

    replay = sign_in(new_browser(app), account, code)

    assert replay.status_code == 400
    frozen.shift(30)
    assert sign_in(new_browser(app), account).status_code == 302


def test_signing_out_ends_the_session(app: Flask, frozen: TimeMachineFixture) -> None:
    account = make_ready(app, frozen)
    browser = new_browser(app)
    sign_in(browser, account)
    browser.get("/advisor")

    out = browser.submit("/advisor/logout", {})

    assert out.status_code == 302
    assert browser.get("/advisor").status_code == 302
    assert db.session.scalar(db.select(db.func.count(AdvisorSession.id))) == 0


def test_a_revoked_advisor_is_out_at_the_next_request(
        app: Flask, frozen: TimeMachineFixture) -> None:
    account = make_ready(app, frozen)
    browser = new_browser(app)
    sign_in(browser, account)
    assert browser.get("/advisor").status_code == 200

    advisor = find_advisor(account.email)
    assert advisor is not None
    revoke_advisor(advisor)

    assert browser.get("/advisor").location.startswith("/advisor/login")
    browser.get("/advisor/login")
    again = browser.submit("/advisor/login", {"email": account.email,
                                              "password": account.password})
    assert again.status_code == 400


def test_the_key_is_shown_for_typing_by_hand(app: Flask) -> None:
    _, link = add_advisor("nadia@centre.example", "Nadia Benali", "Mobilité Lyon")
    browser = new_browser(app)
    path = setup_path(link)
    browser.get(path)
    browser.submit(path, {"password": PASSWORD})

    page = browser.get(path).get_data(as_text=True)

    assert len(read_key(page)) == 32 and "<svg" in page
