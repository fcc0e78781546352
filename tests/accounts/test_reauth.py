"""Confirming it is you before a sensitive change (ASVS 7.5.1): a password typed recently."""

from __future__ import annotations

from datetime import timedelta

import time_machine

from idp.accounts.models import BrowserSession
from idp.extensions import db, utcnow
from tests.browser import Browser
from tests.factories import Traveller


def auth_time() -> float:
    login = db.session.scalar(db.select(BrowserSession))
    assert login is not None
    db.session.refresh(login)
    return login.auth_time.timestamp()


def test_confirming_with_the_password_moves_the_authentication_time(
    logged_in: Browser, user: Traveller
) -> None:
    logged_in.get("/account/confirm?next=/account/mobility")
    before = auth_time()
    with time_machine.travel(utcnow() + timedelta(minutes=20), tick=False):
        response = logged_in.submit("/account/confirm?next=/account/mobility",
                                    {"password": user.password})
        assert response.status_code == 302
        assert response.location == "/account/mobility"
        assert auth_time() - before >= 20 * 60 - 1


def test_a_wrong_password_is_refused_next_to_the_field(logged_in: Browser) -> None:
    logged_in.get("/account/confirm")
    before = auth_time()
    response = logged_in.submit("/account/confirm", {"password": "not my password at all"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'id="password-error"' in html and 'aria-invalid="true"' in html
    assert auth_time() == before


def test_the_confirmation_page_never_sends_elsewhere(logged_in: Browser, user: Traveller) -> None:
    logged_in.get("/account/confirm?next=//evil.example/")
    response = logged_in.submit("/account/confirm?next=//evil.example/",
                                {"password": user.password})
    assert response.status_code == 302
    assert response.location == "/account"


def test_an_anonymous_visitor_is_sent_to_login_first(browser: Browser) -> None:
    response = browser.get("/account/confirm?next=/account/mobility")
    assert response.status_code == 302
    assert response.location.startswith("/login?next=")


def test_the_confirmation_page_speaks_french(logged_in: Browser) -> None:
    response = logged_in.get("/account/confirm", headers={"Accept-Language": "fr"})
    assert response.status_code == 200
    assert '<html lang="fr"' in response.get_data(as_text=True)
