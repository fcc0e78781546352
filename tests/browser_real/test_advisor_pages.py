"""The advisors' pages and the traveller's "People who help you" in chromium (issue 12,
assisted access): axe-core finds nothing, the keyboard reaches every control, no
sideways scroll at 320 px, in French and in English; a wrong code puts the focus on the
error summary. Each locale has its own advisor: one code per 30-second step."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pyotp
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.advisors.live import (
    PASSWORD,
    add_live_advisor,
    add_live_mandate,
    add_live_setup_link,
)
from tests.browser_real.layout import axe_results, scrolls_sideways
from tests.browser_real.test_audit import LONG_EMAIL, keyboard_reaches_everything, sign_in
from tests.live import LivePlatform, LiveServer, LiveTraveller


@pytest.fixture(params=["fr-FR", "en-GB"])
def locale(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def localized(chromium: Browser, live_server: LiveServer, locale: str) -> Iterator[BrowserContext]:
    context = chromium.new_context(base_url=live_server.url, locale=locale,
                                   viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    yield context
    context.close()


def check(page: Page, path: str | None = None, keyboard: bool = True) -> None:
    """axe-core, the keyboard walk and the 320 px width on the page (opened at ``path``).
    The walk starts from the top: not on a page whose focus is on its error summary."""
    if path is not None:
        page.goto(path)
    results = axe_results(page)
    found = [f"{v['id']} {n['target']}" for v in results["violations"] for n in v["nodes"]]
    assert found == [], (page.url, found)
    assert not keyboard or keyboard_reaches_everything(page), page.url
    page.set_viewport_size({"width": 320, "height": 640})
    wide = scrolls_sideways(page)
    page.set_viewport_size({"width": 1280, "height": 800})
    assert not wide, page.url


def advisor_sign_in(page: Page, email: str, key: str) -> None:
    page.goto("/advisor/login")
    check(page)
    page.locator("#email").fill(email)
    page.locator("#password").fill(PASSWORD)
    page.locator("main button[type=submit]").last.click()
    page.wait_for_load_state()
    assert "/advisor/login/code" in page.url, page.locator("main").inner_text()
    check(page)
    page.locator("#code").fill(pyotp.TOTP(key).now())
    page.locator("main button[type=submit]").last.click()
    expect(page.locator("nav.advisor-menu")).to_be_visible()


def test_every_advisor_page_passes_the_checks(
        localized: BrowserContext, live_server: LiveServer, carpool: LivePlatform,
        locale: str) -> None:
    email = f"nadia.{locale.lower()}@centre.example"
    key = add_live_advisor(live_server, email, operator=True)
    person = live_server.add_traveller(email=LONG_EMAIL, given_name="Marie-Christine",
                                       family_name="Delaporte", phone_number="+33612345678")
    active = add_live_mandate(live_server, email, person.subject,
                              platforms=[carpool.client_id])
    waiting = add_live_mandate(live_server, email, person.subject, confirmed=False)
    page = localized.new_page()

    advisor_sign_in(page, email, key)
    for path in ("/advisor", "/advisor/travellers/new", "/advisor/mandates/new",
                 f"/advisor/mandates/{waiting}/confirm", f"/advisor/travellers/{active}/details",
                 f"/advisor/travellers/{active}/details/carpool",
                 f"/advisor/travellers/{active}/details/health",
                 f"/advisor/travellers/{active}/history", "/operator/advisors",
                 "/advisor/travellers/00000000-0000-4000-8000-000000000000/details"):
        check(page, path)
        assert page.locator("nav.advisor-menu").count() == 1, (path, page.url)

    # A wrong code: the error summary has the focus.
    page.goto(f"/advisor/mandates/{waiting}/confirm")
    page.locator("#code").fill("000001")
    page.locator("form:has(#code) button[type=submit]").click()
    expect(page.locator("#error-summary")).to_be_focused()
    check(page, keyboard=False)

    # The paper to print, reached by the form with nothing pre-ticked.
    page.goto("/advisor/mandates/new")
    assert page.locator("main input:checked").count() == 0
    page.locator("#email").fill(LONG_EMAIL)
    page.locator("input[name=actions][value=read_history]").check()
    page.locator("input[name=months][value='3']").check()
    page.locator("input[name=method][value=assisted_in_person]").check()
    page.locator("input[name=confirmation][value=paper]").check()
    page.locator("form:has(#email) button[type=submit]").click()
    expect(page.locator(".paper-code")).to_be_visible()
    check(page)


def test_the_set_up_pages_pass_the_checks(
        localized: BrowserContext, live_server: LiveServer, locale: str) -> None:
    link = add_live_setup_link(live_server, f"paul.{locale.lower()}@centre.example")
    page = localized.new_page()
    path = urlsplit(link).path

    check(page, path)
    page.locator("#password").fill("short")
    page.locator("main button[type=submit]").last.click()
    expect(page.locator("#error-summary")).to_be_focused()
    check(page, keyboard=False)
    page.locator("#password").fill(PASSWORD)
    page.locator("main button[type=submit]").last.click()
    expect(page.locator(".qr-code svg")).to_be_visible()
    check(page)


def test_people_who_help_you_passes_the_checks_and_stops_the_help(
        localized: BrowserContext, live_server: LiveServer, locale: str) -> None:
    email = f"nadia.{locale.lower()}@centre.example"
    add_live_advisor(live_server, email)
    person: LiveTraveller = live_server.add_traveller(
        email=LONG_EMAIL, given_name="Marie-Christine", family_name="Delaporte")
    add_live_mandate(live_server, email, person.subject)
    page = localized.new_page()
    sign_in(page, person)

    page.locator("nav.site-menu a[href='/account/helpers']").click()
    check(page)
    expect(page.locator("main")).to_contain_text("Nadia Benali")
    page.locator("main form button[type=submit]").first.click()
    expect(page.locator(".notices")).to_be_visible()
    assert page.locator("main form").count() == 0
    check(page)
