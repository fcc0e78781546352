"""The traveller's pages: sign up, log in, log out, edit the profile."""

from __future__ import annotations

from idp.accounts.models import BrowserSession, User
from idp.extensions import db
from tests.browser import Browser
from tests.factories import PASSWORD, Traveller


def test_a_traveller_signs_up_and_is_asked_to_confirm_the_address(browser: Browser) -> None:
    # Since issue 9 (item 9) a sign-up no longer logs in: the account waits for its
    # address to be confirmed (tests/accounts/test_signup.py follows the whole story).
    browser.get("/signup")
    response = browser.submit("/signup", {
        "given_name": "Nawel", "family_name": "", "email": "Nawel@Example.org",
        "password": "the tram to the old harbour"})
    response.close()
    assert response.status_code == 200
    assert "nawel@example.org" in response.get_data(as_text=True)
    user = db.session.scalar(db.select(User).where(User.email == "nawel@example.org"))
    assert user is not None and user.password_hash.startswith("$argon2id$")
    assert user.is_pending
    assert browser.get("/account").status_code == 302


def test_sign_up_errors_are_tied_to_their_field(browser: Browser, user: Traveller) -> None:
    browser.get("/signup")
    page = browser.submit("/signup", {"given_name": "", "email": user.email,
                                      "password": "short"})
    html = page.get_data(as_text=True)
    assert page.status_code == 400
    assert 'aria-describedby="given_name-error"' in html
    assert 'id="given_name-error"' in html
    assert 'aria-invalid="true"' in html
    assert db.session.scalar(db.select(db.func.count(User.id))) == 1


def test_a_common_password_is_refused_on_sign_up(browser: Browser) -> None:
    browser.get("/signup")
    page = browser.submit("/signup", {"given_name": "Joannie", "email": "j@example.org",
                                      "password": "123456789012345"})
    assert page.status_code == 400
    assert 'id="password-error"' in page.get_data(as_text=True)


def test_an_email_already_used_gets_the_same_page_as_a_new_one(
        browser: Browser, user: Traveller) -> None:
    # It used to be refused ("An account already uses this email address"), which told
    # anyone who had an account; test_signup.py compares the two pages in full.
    browser.get("/signup")
    page = browser.submit("/signup", {"given_name": "X", "email": user.email.upper(),
                                      "password": "the tram to the old harbour"})
    page.close()
    assert page.status_code == 200 and 'id="email-error"' not in page.get_data(as_text=True)


def test_login_answers_the_same_for_an_unknown_email_and_a_wrong_password(
        browser: Browser, user: Traveller) -> None:
    unknown = browser.login("nobody@example.org", PASSWORD)
    wrong = browser.login(user.email, "not the right password at all")
    assert unknown.status_code == wrong.status_code == 400
    strip = lambda page: page.get_data(as_text=True).split('name="csrf_token"')[0]  # noqa: E731
    assert strip(unknown).replace("nobody@example.org", "") == strip(wrong).replace(user.email, "")


def test_the_session_key_changes_at_login(browser: Browser, user: Traveller) -> None:
    browser.login(user.email, user.password)
    first = db.session.scalar(db.select(BrowserSession.key_hash))
    browser.login(user.email, user.password)
    hashes = db.session.scalars(db.select(BrowserSession.key_hash)).all()
    assert len(hashes) == 1 and hashes[0] != first


def test_logout_ends_the_session(logged_in: Browser) -> None:
    logged_in.get("/logout")
    response = logged_in.submit("/logout", {})
    assert response.status_code == 302
    assert db.session.scalar(db.select(db.func.count(BrowserSession.id))) == 0
    assert logged_in.get("/account").status_code == 302


def test_the_profile_page_edits_the_claims(logged_in: Browser, user: Traveller) -> None:
    logged_in.get("/account")
    response = logged_in.submit("/account", {
        "given_name": "Umberto", "family_name": "Rossi", "nickname": "Umbe",
        "gender": "male", "birthdate": "1980-04-02", "locale": "fr-FR",
        "street_address": "1 rue du Port",
        "postal_code": "16000", "locality": "Angoulême", "country": "France"})
    assert response.status_code == 302
    db.session.refresh(user.model)
    assert user.model.nickname == "Umbe" and user.model.locality == "Angoulême"
    assert str(user.model.birthdate) == "1980-04-02"


def test_profile_errors_are_shown_not_saved(logged_in: Browser, user: Traveller) -> None:
    logged_in.get("/account")
    page = logged_in.submit("/account", {"given_name": "", "nickname": "Umbe"})
    assert page.status_code == 400
    assert 'id="given_name-error"' in page.get_data(as_text=True)
    db.session.refresh(user.model)
    assert user.model.nickname is None


def test_next_never_leaves_the_site(browser: Browser, user: Traveller) -> None:
    browser.get("/login?next=//evil.example/")
    response = browser.submit("/login?next=//evil.example/", {"email": user.email,
                                                              "password": user.password})
    assert response.location == "/account"
