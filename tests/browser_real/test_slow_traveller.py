"""A slow traveller in a real browser (issue 12, item 2; WCAG 2.2.1): the login page
names the platform and says how long its request waits; a login finished after that
says the request took too long, and one button goes back to the platform, which gets
its answer with its own state. French and English, axe-core, 320 px wide.

The clock is moved with time-machine (the provider runs in a thread of this process),
never slept through. French words are read only where the catalogue already has them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser_real.conftest import TIMEOUT_MS, PlatformSite
from tests.browser_real.layout import axe_results, scrolls_sideways
from tests.live import LiveServer, LiveTraveller

WORDS = {  # existing catalogue entries only
    "en-GB": {"email": "Email address", "password": "Password", "log_in": "Log in",
              "back": "Go back to Carpool Lyon", "allow": "Allow"},
    "fr-FR": {"email": "Adresse e-mail", "password": "Mot de passe", "log_in": "Se connecter",
              "back": "Revenir sur Carpool Lyon", "allow": "Autoriser"},
}


@pytest.fixture(params=["en-GB", "fr-FR"])
def language(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def narrow(chromium: Browser, live_server: LiveServer, language: str
           ) -> Iterator[BrowserContext]:
    """A phone-sized browser (320 px) in the traveller's language."""
    context = chromium.new_context(base_url=live_server.url, locale=language,
                                   viewport={"width": 320, "height": 640})
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()


def later(time_machine: Any, minutes: int) -> None:
    time_machine.move_to(datetime.now(UTC) + timedelta(minutes=minutes), tick=False)


def log_in(page: Page, traveller: LiveTraveller, words: dict[str, str]) -> None:
    page.get_by_label(words["email"]).fill(traveller.email)
    page.get_by_label(words["password"], exact=True).fill(traveller.password)
    page.get_by_role("button", name=words["log_in"], exact=True).click()


def check_page(page: Page, language: str) -> None:
    """axe-core finds nothing, whatever the impact; the page never scrolls sideways."""
    assert page.evaluate("document.documentElement.lang") == language[:2]
    results = axe_results(page)
    assert [v["id"] for v in results["violations"]] == []
    assert not scrolls_sideways(page), "the page scrolls sideways at 320 px"


def test_the_login_page_says_who_sent_the_traveller_and_how_long_they_have(
        narrow: BrowserContext, carpool_site: PlatformSite, language: str) -> None:
    page = narrow.new_page()
    carpool_site.start_login(page)
    line = page.locator("main .sent-by")
    expect(line).to_contain_text("Carpool Lyon")
    expect(line).to_contain_text("60")
    if language == "en-GB":
        expect(line).to_contain_text(
            "Carpool Lyon uses Mobility ID, your one mobility account, to sign you in.")
        expect(line).to_contain_text("You have 60 minutes to log in.")
    check_page(page, language)


def test_a_login_16_minutes_later_goes_on_to_the_platform(
        narrow: BrowserContext, carpool_site: PlatformSite, traveller: LiveTraveller,
        language: str, time_machine: Any) -> None:
    page = narrow.new_page()
    request = carpool_site.start_login(page)
    later(time_machine, 16)
    log_in(page, traveller, WORDS[language])
    page.get_by_role("button", name=WORDS[language]["allow"], exact=True).click()
    page.wait_for_url(f"{carpool_site.platform.redirect_uri}?**")
    assert carpool_site.answer_params(page)["state"] == request.state


def test_a_login_61_minutes_later_says_so_and_one_button_goes_back(
        narrow: BrowserContext, carpool_site: PlatformSite, traveller: LiveTraveller,
        language: str, time_machine: Any) -> None:
    words = WORDS[language]
    page = narrow.new_page()
    request = carpool_site.start_login(page)
    later(time_machine, 61)
    log_in(page, traveller, words)

    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.locator("main .lead")).to_contain_text("Carpool Lyon")
    if language == "en-GB":
        expect(page.get_by_role("heading", level=1)).to_have_text("Your request took too long")
        expect(page.locator("main .lead")).to_contain_text(
            "Your request from Carpool Lyon took too long.")
    assert "/account" not in page.url  # not "My details" without a word
    check_page(page, language)

    page.get_by_role("button", name=words["back"], exact=True).click()
    page.get_by_role("button", name=words["allow"], exact=True).click()
    page.wait_for_url(f"{carpool_site.platform.redirect_uri}?**")
    params = carpool_site.answer_params(page)
    assert params["state"] == request.state
    assert params["code"]
