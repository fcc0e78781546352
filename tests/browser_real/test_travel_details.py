"""The travel details in chromium (issue 12, item 7): each topic page and the overview
pass axe-core and fit 320 px in French and English; the town is chosen without
JavaScript; no page asks for more than a few keystrokes (the single form took 52)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from idp.accounts.mobility_pages import TOPICS
from idp.accounts.models import User
from idp.extensions import db
from tests.browser_real.layout import axe_results, scrolls_sideways
from tests.browser_real.test_audit import LONG_EMAIL, sign_in
from tests.live import LiveServer, LiveTraveller

PAGES = ["/account/mobility", *(f"/account/mobility/{slug}" for slug in TOPICS)]
# The Tab stops of a page's form (a radio group is one stop, as in HTML's navigation).
FORM_STOPS = """() => {
  const groups = new Set();
  return [...document.querySelectorAll('main form input:not([type=hidden]), main form select,'
                                        + ' main form button')]
    .filter(e => e.type !== 'radio' || (!groups.has(e.name) && groups.add(e.name)))
    .length;
}"""
MOST_STOPS = 15


@pytest.fixture(params=["fr-FR", "en-GB"])
def signed_in(request: pytest.FixtureRequest, chromium: Browser,
              live_server: LiveServer) -> Iterator[Page]:
    traveller = live_server.add_traveller(email=LONG_EMAIL, given_name="Marie-Christine",
                                          family_name="Delaporte")
    context = chromium.new_context(base_url=live_server.url, locale=request.param,
                                   viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    page = context.new_page()
    sign_in(page, traveller)
    yield page
    context.close()


def serious_problems(page: Page) -> list[str]:
    results = axe_results(page)
    return [f"{v['id']} {n['target']}" for v in results["violations"] for n in v["nodes"]]


def check(page: Page) -> list[str]:
    """axe-core's findings, and a sideways scroll at 320 px, on the page as it is."""
    found = serious_problems(page)
    page.set_viewport_size({"width": 320, "height": 640})
    if scrolls_sideways(page):
        found.append(f"{page.url} scrolls sideways at 320 px")
    page.set_viewport_size({"width": 1280, "height": 800})
    return found


def test_every_travel_page_passes_axe_and_fits_a_phone(signed_in: Page) -> None:
    found = []
    for path in PAGES:
        signed_in.goto(path)
        found += check(signed_in)
    # The choice between towns of one name, and an error, are page states of their own.
    signed_in.goto("/account/mobility/home")
    signed_in.locator("#commune_name").fill("Saint-Denis")
    signed_in.locator("main button[type=submit]").click()
    expect(signed_in.locator("#commune input[type=radio]")).to_have_count(4)
    found += check(signed_in)
    signed_in.locator("#commune_name").fill("Nowhereville")
    signed_in.locator("main button[type=submit]").click()
    expect(signed_in.locator("#error-summary")).to_be_focused()
    found += check(signed_in)
    assert found == []


def test_no_travel_page_asks_many_keystrokes(signed_in: Page) -> None:
    stops = {}
    for slug in TOPICS:
        signed_in.goto(f"/account/mobility/{slug}")
        stops[slug] = signed_in.evaluate(FORM_STOPS)
    assert max(stops.values()) <= MOST_STOPS, stops


@pytest.fixture
def without_javascript(chromium: Browser, live_server: LiveServer) -> Iterator[BrowserContext]:
    context = chromium.new_context(base_url=live_server.url, locale="fr-FR",
                                   viewport={"width": 320, "height": 640},
                                   java_script_enabled=False)
    context.set_default_timeout(10_000)
    yield context
    context.close()


def saved_claims(live_server: LiveServer, traveller: LiveTraveller) -> dict[str, Any]:
    with live_server.app.app_context():
        user = db.session.scalar(db.select(User).where(User.subject == traveller.subject))
        assert user is not None
        claims = dict(user.mobility)
        db.session.remove()
    return claims


def test_a_traveller_picks_their_town_among_several_without_javascript(
        without_javascript: BrowserContext, live_server: LiveServer,
        traveller: LiveTraveller) -> None:
    page = without_javascript.new_page()
    sign_in(page, traveller)
    page.goto("/account/mobility")
    page.get_by_role("link", name="Modifier : Où vous habitez").click()
    page.get_by_label("Nom de votre commune").fill("saint denis")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.locator("#error-summary")).to_contain_text("Choisissez la vôtre")
    page.get_by_label("Saint-Denis (974)").check()
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_role("region", name="Où vous habitez")).to_contain_text(
        "Saint-Denis (974)")
    assert saved_claims(live_server, traveller)["mob_home_commune"] == {"name": "Saint-Denis",
                                                      "insee_code": "97411"}
