"""The phone route in a real browser, in French and English: a traveller verifies their
mobile number with the code received by SMS, and another gets back into their account
with a code instead of a mailed link. Each page passes axe-core with no violation, holds
at 320 px without sideways scrolling."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser_real.layout import axe_results, scrolls_sideways
from tests.browser_real.test_audit import sign_in
from tests.live import LiveServer, LiveTraveller
from tests.sms import SmsOutbox, outbox_for

NUMBER = "+33612345678"
NEW_PASSWORD = "seven swans over the river bend"
LOCALES = ["en-GB", "fr-FR"]


@pytest.fixture
def outbox(live_server: LiveServer, tmp_path: Path) -> SmsOutbox:
    return outbox_for(live_server.app, tmp_path)


def open_context(chromium: Browser, live_server: LiveServer, locale: str) -> BrowserContext:
    """The traveller's browser. axe-core needs JavaScript; the pages do not (the Flask
    client's tests, which run none, go through the same forms)."""
    context = chromium.new_context(base_url=live_server.url, locale=locale)
    context.set_default_timeout(10_000)
    return context


def check_page(page: Page, found: dict[str, Any], name: str) -> None:
    """axe-core (every violation, whatever its impact) and the 320 px width."""
    results = axe_results(page)
    found[name] = [f"{v['id']} {n['target']}" for v in results["violations"]
                   for n in v["nodes"]]
    page.set_viewport_size({"width": 320, "height": 640})
    if scrolls_sideways(page):
        found[name].append("scrolls sideways at 320 px")
    page.set_viewport_size({"width": 1280, "height": 800})


def submit(page: Page) -> None:
    page.locator("main form button[type=submit]").first.click()


def wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


@pytest.mark.parametrize("locale", LOCALES)
def test_traveller_verifies_their_mobile_number_with_the_code_received(
        chromium: Browser, live_server: LiveServer, outbox: SmsOutbox, locale: str) -> None:
    traveller = live_server.add_traveller(given_name="Awa", locale=locale[:2])
    context = open_context(chromium, live_server, locale)
    page = context.new_page()
    found: dict[str, Any] = {}
    try:
        sign_in(page, traveller)
        page.goto("/account/phone")
        page.locator("#phone_number").fill("06 12 34 56 78")
        submit(page)
        expect(page.locator("main .lead")).to_contain_text("06 12 34 56 78")  # in full
        code = page.locator("#code")
        assert code.get_attribute("autocomplete") == "one-time-code"
        assert code.get_attribute("inputmode") == "numeric"
        check_page(page, found, "verify-phone")

        code.fill(wrong(outbox.code(NUMBER)))
        submit(page)
        expect(page.locator("#error-summary")).to_be_focused()
        check_page(page, found, "verify-phone-error")

        page.locator("#code").fill(outbox.code(NUMBER))
        submit(page)
        expect(page).to_have_url(f"{live_server.url}/account")
        expect(page.locator("main")).to_contain_text("06 12 34 56 78")
        expect(page.locator('main a[href="/account/phone/verify"]')).to_have_count(0)
        check_page(page, found, "details-verified")
    finally:
        context.close()
    assert found == {name: [] for name in found}


@pytest.mark.parametrize("locale", LOCALES)
def test_traveller_gets_back_in_with_a_code_by_sms(
        chromium: Browser, live_server: LiveServer, outbox: SmsOutbox, locale: str) -> None:
    traveller = live_server.add_traveller(phone_number=NUMBER, phone_number_verified=True)
    context = open_context(chromium, live_server, locale)
    page = context.new_page()
    found: dict[str, Any] = {}
    try:
        page.goto("/password/forgot")
        page.locator('main a[href="/password/forgot/sms"]').click()
        check_page(page, found, "forgot-sms")
        page.locator("#phone_number").fill("06 12 34 56 78")
        submit(page)
        expect(page.locator("main .lead")).to_contain_text("06 •• •• •• 78")  # masked
        check_page(page, found, "forgot-sms-code")

        page.locator("#code").fill(outbox.code(NUMBER))
        submit(page)
        expect(page.locator("#password")).to_be_visible()  # the mail link's page
        page.locator("#password").fill(NEW_PASSWORD)
        submit(page)
        expect(page).to_have_url(f"{live_server.url}/login")
        sign_in(page, LiveTraveller(traveller.email, NEW_PASSWORD, traveller.subject))
    finally:
        context.close()
    assert found == {name: [] for name in found}
