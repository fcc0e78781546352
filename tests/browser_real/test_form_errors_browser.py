"""Errors and passwords in a real browser (issue 12, item 3): two mistakes at once are both
listed, the focus lands on the summary without any script, each link takes the keyboard
to its field, what was typed stays but the password; the show-password box works with and
without JavaScript; axe-core finds nothing on the error states, at 320 px nothing scrolls
sideways. In French and English: French words are the ones already translated."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser_real.conftest import TIMEOUT_MS, new_context
from tests.browser_real.layout import scrolls_sideways
from tests.browser_real.test_login_and_consent import log_in, serious_violations
from tests.live import LiveServer, LiveTraveller


@dataclass(frozen=True)
class Words:
    """The words of a language the pages already speak."""

    locale: str
    email: str
    login_password: str
    signup_password: str
    create: str
    log_in: str
    problem: str


ENGLISH = Words("en-GB", "Email address", "Password", "Choose a password",
                "Create my account", "Log in", "There is a problem")
FRENCH = Words("fr-FR", "Adresse e-mail", "Mot de passe", "Choisissez un mot de passe",
               "Créer mon compte", "Se connecter", "Il y a un problème")
LANGUAGES = {"en": ENGLISH, "fr": FRENCH}


@pytest.fixture(params=list(LANGUAGES))
def words(request: pytest.FixtureRequest) -> Words:
    return LANGUAGES[request.param]


@pytest.fixture
def spoken(chromium: Browser, live_server: LiveServer, words: Words) -> Iterator[Page]:
    """A page in a browser that asks for the language under test."""
    context = chromium.new_context(base_url=live_server.url, locale=words.locale)
    context.set_default_timeout(TIMEOUT_MS)
    yield context.new_page()
    context.close()


def wait_for_focus_on_the_summary(page: Page) -> None:
    """``autofocus`` is applied once the document has loaded, a moment after the page
    answers: Playwright's assertion waits for it (an evaluated predicate would be refused
    by the page's Content-Security-Policy, which allows no eval)."""
    expect(page.locator("#error-summary")).to_be_focused()


def check_two_errors(page: Page, words: Words, password_label: str) -> None:
    """Both mistakes listed, focus on the summary, each link moves the focus to its
    field; the address typed is kept, the password emptied."""
    summary = page.get_by_role("alert")
    expect(summary.get_by_role("heading")).to_have_text(words.problem)
    links = summary.get_by_role("link")
    expect(links).to_have_count(2)
    wait_for_focus_on_the_summary(page)
    assert page.title() != "" and page.title().split()[0] in ("Error:", "Erreur")
    email = page.get_by_label(words.email, exact=True)
    password = page.get_by_label(password_label, exact=True)
    for link, field in [(links.nth(0), email), (links.nth(1), password)]:
        expect(field).to_have_attribute("aria-invalid", "true")
        link.focus()
        page.keyboard.press("Enter")
        expect(field).to_be_focused()
    expect(email).to_have_value("awa.diallo@")
    expect(password).to_have_value("")


def test_sign_up_lists_two_errors_at_once(spoken: Page, words: Words) -> None:
    page = spoken
    page.goto("/signup")
    page.locator("#given_name").fill("Awa")
    page.get_by_label(words.email, exact=True).fill("awa.diallo@")
    page.get_by_label(words.signup_password, exact=True).fill("short")
    page.get_by_role("button", name=words.create).click()
    check_two_errors(page, words, words.signup_password)


def test_login_lists_two_errors_at_once(spoken: Page, words: Words) -> None:
    page = spoken
    page.goto("/login")
    page.get_by_label(words.email, exact=True).fill("awa.diallo@")
    page.get_by_role("button", name=words.log_in, exact=True).click()
    check_two_errors(page, words, words.login_password)


def test_show_password_without_javascript(chromium: Browser, live_server: LiveServer) -> None:
    context = new_context(chromium, live_server, java_script_enabled=False)
    page = context.new_page()
    page.goto("/login")
    password = page.get_by_label("Password", exact=True)
    expect(password).to_have_attribute("type", "password")
    page.get_by_label("Show the password").check()
    page.get_by_role("button", name="Log in", exact=True).click()

    # The page comes back with the password field as text, empty, the box still ticked.
    expect(password).to_have_attribute("type", "text")
    expect(password).to_have_value("")
    expect(page.get_by_label("Show the password")).to_be_checked()
    password.fill("typed where I can see it")
    expect(password).to_have_value("typed where I can see it")
    context.close()


def test_show_password_with_javascript(page: Page, traveller: LiveTraveller) -> None:
    page.goto("/login")
    password = page.get_by_label("Password", exact=True)
    password.fill(traveller.password)
    box = page.get_by_label("Show the password")
    box.check()
    expect(password).to_have_attribute("type", "text")
    expect(password).to_have_value(traveller.password)
    box.uncheck()
    expect(password).to_have_attribute("type", "password")
    box.check()
    # Listeners run in the order they were added: this one sees what the script left.
    page.evaluate("""document.querySelector('form[novalidate]').addEventListener(
        'submit', event => { window.typeSent = document.querySelector('[data-password]').type;
                             event.preventDefault(); })""")
    page.get_by_role("button", name="Log in", exact=True).click()
    # Back to a password field before the form leaves: no form history keeps the text.
    assert page.evaluate("window.typeSent") == "password"


def test_error_states_pass_axe_and_fit_320_px(
        page: Page, traveller: LiveTraveller, tmp_path: Path) -> None:
    page.set_viewport_size({"width": 320, "height": 640})
    found = []
    states = [("/login", {"Email address": "an.address.of.forty.characters@example.org"},
               "Log in"),
              ("/signup", {"Email address": "an.address.of.forty.characters@example"},
               "Create my account")]
    for path, typed, button in states:
        page.goto(path)
        for label, value in typed.items():
            page.get_by_label(label, exact=True).fill(value)
        page.get_by_label("Show the password").check()
        page.get_by_role("button", name=button, exact=True).click()
        expect(page.get_by_role("alert")).to_be_visible()
        found += serious_violations(page, tmp_path, path.strip("/") + "-errors")
        assert not scrolls_sideways(page), path
    page.goto("/login")
    log_in(page, traveller)
    page.goto("/account/password")
    page.get_by_role("button", name="Change my password").click()
    expect(page.get_by_role("alert")).to_be_visible()
    found += serious_violations(page, tmp_path, "change-password-errors")
    assert not scrolls_sideways(page)
    assert found == []
