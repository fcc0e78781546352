"""Umberto's story in a real browser, with the two demo platforms of ``idp demo``: from
the regional carpool site to the national one without a password, then cutting the
national one off from "My platforms"; the demo platform's pages checked by axe-core."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from clients.demo import NATIONAL, REGIONAL
from clients.demo_platform.serve import RunningPlatform
from tests.browser_real.conftest import new_context
from tests.browser_real.layout import axe_results
from tests.clients.test_demo_platform import (  # noqa: F401  (platforms is a fixture)
    LOGIN_BUTTON,
    deliver_outbox,
    platforms,
)
from tests.live import LiveServer, LiveTraveller

SERIOUS = ("serious", "critical")


def consent_heading(name: str) -> str:
    return f"Share with {name}?"


def serious_violations(page: Page, tmp_path: Path, name: str) -> list[str]:
    results = axe_results(page)
    return [f"{name}: {violation['id']} {node['target']}"
            for violation in results["violations"] if violation["impact"] in SERIOUS
            for node in violation["nodes"]]


def test_umberto_goes_national_without_a_password_then_cuts_it_off(
    chromium: Browser, live_server: LiveServer, platforms: dict[str, RunningPlatform],
    traveller: LiveTraveller, tmp_path: Path,
) -> None:
    regional = platforms[REGIONAL.client_id].config.origin
    national = platforms[NATIONAL.client_id].config.origin
    context = new_context(chromium, live_server)
    try:
        violations = walk_through(context.new_page(), live_server, traveller, regional,
                                  national, tmp_path)
    finally:
        context.close()
    assert violations == []


def walk_through(page: Page, live_server: LiveServer, traveller: LiveTraveller,
                 regional: str, national: str, tmp_path: Path) -> list[str]:
    violations: list[str] = []

    page.goto(regional + "/")
    violations += serious_violations(page, tmp_path, "home")
    page.get_by_role("link", name=LOGIN_BUTTON).click()
    page.get_by_label("Email address").fill(traveller.email)
    page.get_by_label("Password", exact=True).fill(traveller.password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        consent_heading("Covoiturage régional"))
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(regional + "/profile")
    expect(page.get_by_text(traveller.email)).to_be_visible()
    violations += serious_violations(page, tmp_path, "profile")

    # The national site: straight to its consent screen, no password asked.
    page.goto(national + "/")
    page.get_by_role("link", name=LOGIN_BUTTON).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        consent_heading("Covoiturage national"))
    expect(page.get_by_label("Password", exact=True)).to_have_count(0)
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(national + "/profile")

    page.goto(live_server.url + "/account/platforms")
    expect(page.get_by_role("heading", name="Covoiturage régional")).to_be_visible()
    page.get_by_role("button", name="Stop sharing with Covoiturage national").click()
    # Its own access is gone; it stays listed only for the delegation it serves (issue 14).
    expect(page.get_by_role("button", name="Stop sharing with Covoiturage national")
           ).to_have_count(0)

    assert deliver_outbox(live_server) == {"delivered": 1}
    page.goto(national + "/profile")
    page.wait_for_url(national + "/")
    expect(page.get_by_role("link", name=LOGIN_BUTTON)).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Votre session a pris fin")
    page.goto(regional + "/profile")
    expect(page.get_by_text(traveller.email)).to_be_visible()
    return violations
