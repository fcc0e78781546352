"""An advisor's browser in tests: the set-up link followed as the advisor would, sign-in
with a code from their app (computed with pyotp at the frozen time), and the forms of the
advisor's pages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from flask.testing import FlaskClient
from time_machine import TimeMachineFixture
from werkzeug.test import TestResponse

from idp.advisors.service import add_advisor
from tests.browser import Browser
from tests.conftest import IsolatedClient
from tests.totp import code_at, read_key

PASSWORD = "the bus to the job centre leaves at nine"


@dataclass
class AdvisorAccount:
    email: str
    password: str
    key: str  # the authenticator app's secret
    public_id: str


def new_browser(app: Flask) -> Browser:
    """A browser of its own (its own cookies), reading English pages."""
    app.test_client_class = IsolatedClient
    client: FlaskClient = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return Browser(client)


def setup_path(link: str) -> str:
    return urlsplit(link).path


def set_up(browser: Browser, link: str, password: str = PASSWORD) -> str:
    """Follow the set-up link: choose the password, add the app; the app's key."""
    path = setup_path(link)
    browser.get(path)
    chosen = browser.submit(path, {"password": password})
    assert chosen.status_code == 302, chosen.get_data(as_text=True)
    page = browser.get(path)
    key = read_key(page.get_data(as_text=True))
    done = browser.submit(path, {"code": code_at(key)})
    assert done.status_code == 302 and done.location.endswith("/advisor/login"), done.location
    return key


def make_ready(app: Flask, frozen: TimeMachineFixture, operator: bool = False,
               email: str | None = None, name: str = "Nadia Benali",
               centre: str = "Mobilité solidaire Lyon") -> AdvisorAccount:
    """An advisor added and set up, as the operator and then the advisor would; the clock
    then moves to the next step, so that their first sign-in code is not a replay."""
    email = email or f"nadia{next(_numbers)}@centre.example"
    advisor, link = add_advisor(email, name, centre, "operator" if operator else "advisor")
    key = set_up(new_browser(app), link)
    frozen.shift(30)
    return AdvisorAccount(email, PASSWORD, key, advisor.public_id)


_numbers = iter(range(1, 10**6))


def sign_in(browser: Browser, account: AdvisorAccount, code: str | None = None) -> TestResponse:
    """Email and password, then the app's code: the answer to the code."""
    browser.get("/advisor/login")
    first = browser.submit("/advisor/login", {"email": account.email,
                                              "password": account.password})
    assert first.status_code == 302, first.get_data(as_text=True)
    browser.get(first.location)
    return browser.submit(first.location, {"code": code or code_at(account.key)})


MANDATE = {"actions": ["update_details", "read_history"], "months": "12",
           "method": "assisted_in_person", "confirmation": "sms"}


def new_traveller(browser: Browser, **fields: Any) -> TestResponse:
    data: dict[str, Any] = {"given_name": "Umberto", "family_name": "Rossi",
                            "email": "umberto@example.org", "phone_number": "06 12 34 56 78",
                            **MANDATE}
    data.update(fields)
    browser.get("/advisor/travellers/new")
    return browser.submit("/advisor/travellers/new", data)


def new_mandate(browser: Browser, email: str, **fields: Any) -> TestResponse:
    data: dict[str, Any] = {"email": email, **MANDATE}
    data.update(fields)
    browser.get("/advisor/mandates/new")
    return browser.submit("/advisor/mandates/new", data)


def mandate_id_of(location: str) -> str:
    """The mandate in a /advisor/mandates/<id>/confirm address."""
    parts = location.split("/")
    return parts[parts.index("mandates") + 1]


def confirm(browser: Browser, mandate_id: str, code: str) -> TestResponse:
    path = f"/advisor/mandates/{mandate_id}/confirm"
    browser.get(path)
    return browser.submit(path, {"code": code})
