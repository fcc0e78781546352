"""Every account form lists all its errors at once (issue 12, item 3): a summary at the
top, one link per wrong field, each field marked invalid and described by its error, the
title saying "Error: ". What was typed stays, except passwords and one-time codes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.browser import Browser
from tests.factories import Traveller

LONG = "x" * 300


@dataclass(frozen=True)
class Case:
    """A form sent with several mistakes, and the fields each mistake belongs to."""

    path: str
    data: dict[str, Any]
    wrong: tuple[str, ...]
    kept: dict[str, str] = field(default_factory=dict)
    emptied: tuple[str, ...] = ()
    signed_in: bool = True


CASES = {
    "signup": Case("/signup", {"given_name": "", "family_name": "Rossi",
                               "email": "umberto@", "password": "short"},
                   ("given_name", "email", "password"),
                   kept={"family_name": "Rossi", "email": "umberto@"},
                   emptied=("password",), signed_in=False),
    "login": Case("/login", {"email": "umberto@", "password": ""}, ("email", "password"),
                  kept={"email": "umberto@"}, emptied=("password",), signed_in=False),
    "forgot password": Case("/password/forgot", {"email": "umberto@"}, ("email",),
                            kept={"email": "umberto@"}, signed_in=False),
    "change password": Case("/account/password",
                            {"current_password": "not my password at all", "password": "short"},
                            ("current_password", "password"),
                            emptied=("current_password", "password")),
    "change email": Case("/account/email", {"email": "umberto@"}, ("email",),
                         kept={"email": "umberto@"}),
    "change phone": Case("/account/phone", {"phone_number": "call me"}, ("phone_number",),
                         kept={"phone_number": "call me"}),
    "confirm it is you": Case("/account/confirm", {"password": ""}, ("password",)),
    "profile": Case("/account", {"given_name": "", "nickname": LONG, "locality": "Angoulême",
                                 "birthdate": "yesterday"},
                    ("given_name", "nickname", "birthdate"),
                    kept={"locality": "Angoulême", "birthdate": "yesterday"}),
    "travel details": Case("/account/mobility/home",
                           {"commune_name": LONG, "postal_code": "16"},
                           ("commune_name", "postal_code"), kept={"postal_code": "16"}),
    "two-step set-up": Case("/account/two-step", {"code": "123"}, ("code",),
                            emptied=("code",)),
}


def input_tag(html: str, name: str) -> str:
    match = re.search(rf'<input[^>]*\bname="{name}"[^>]*>', html)
    assert match, f"no input named {name}"
    return match.group(0)


def summary_links(html: str) -> list[str]:
    summary = html.split('id="error-summary"', 1)[1].split("</ul>", 1)[0]
    return re.findall(r'<a href="#([\w-]+)"', summary)


@pytest.mark.parametrize("name", list(CASES))
def test_every_error_of_a_form_is_listed_at_once(
        name: str, browser: Browser, user: Traveller, in_english: None) -> None:
    case = CASES[name]
    if case.signed_in:
        browser.login(user.email, user.password)
    browser.get(case.path)
    page = browser.submit(case.path, case.data)
    html = page.get_data(as_text=True)

    assert page.status_code == 400
    assert "<title>Error: " in html
    assert re.search(r'id="error-summary"[^>]*autofocus', html)
    assert sorted(summary_links(html)) == sorted(case.wrong)
    for wrong in case.wrong:
        tag = input_tag(html, wrong)
        assert 'aria-invalid="true"' in tag
        assert re.search(rf'aria-describedby="[^"]*\b{wrong}-error\b', tag)
        assert f'id="{wrong}-error"' in html
    for kept, value in case.kept.items():
        assert f'value="{value}"' in input_tag(html, kept)
    for emptied in case.emptied:
        assert 'value=""' in input_tag(html, emptied)


def test_a_page_without_errors_has_a_plain_title_and_no_summary(
        browser: Browser, in_english: None) -> None:
    html = browser.get("/signup").get_data(as_text=True)
    assert "<title>Create your account – Mobility ID</title>" in html
    assert "error-summary" not in html


def test_a_wrong_login_stays_generic_and_never_echoes_the_password(
        browser: Browser, user: Traveller, in_english: None) -> None:
    browser.get("/login")
    page = browser.submit("/login", {"email": user.email, "password": "my secret sentence",
                                     "show_password": "1"})
    html = page.get_data(as_text=True)
    assert page.status_code == 400
    assert "The email address or the password is not right." in html
    assert summary_links(html) == ["email"]  # the whole form's error leads to its start
    assert "my secret sentence" not in html
    assert f'value="{user.email}"' in input_tag(html, "email")


def test_asking_to_show_the_password_brings_back_an_empty_text_field(
        browser: Browser, in_english: None) -> None:
    browser.get("/signup")
    html = browser.submit("/signup", {
        "given_name": "", "email": "awa@example.org", "password": "the tram at dawn",
        "show_password": "1"}).get_data(as_text=True)
    tag = input_tag(html, "password")
    assert 'type="text"' in tag and "the tram at dawn" not in html
    assert 'autocomplete="new-password"' in tag
    assert re.search(r'<input[^>]*name="show_password"[^>]*checked', html)


def test_without_asking_the_password_field_stays_hidden(browser: Browser) -> None:
    browser.get("/signup")
    html = browser.submit("/signup", {"given_name": "", "email": "awa@example.org",
                                      "password": "the tram at dawn"}).get_data(as_text=True)
    assert 'type="password"' in input_tag(html, "password")
    assert not re.search(r'<input[^>]*name="show_password"[^>]*checked', html)


def test_the_show_password_script_is_allowed_and_nothing_else(browser: Browser) -> None:
    page = browser.get("/login")
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in page.headers["Content-Security-Policy"]
    script = browser.get("/static/show-password.js")
    script.close()
    assert script.status_code == 200
