"""A traveller's stories in a real browser: from a platform to the login page, through
the consent screen, and back to the platform; by keyboard alone, without JavaScript, and
with accessibility checked by axe-core.

Controls are found by their role and accessible name, as assistive technology finds
them, never by CSS id: a control without a name would not be found."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser_real.conftest import PlatformSite, new_context
from tests.browser_real.layout import axe_results, box_of, scrolls_sideways
from tests.live import LiveServer, LiveTraveller
from tests.mail import Mailbox, smtp_server  # noqa: F401  (a fixture)

SERIOUS = ("serious", "critical")
SIGN_UP_PASSWORD = "a bicycle under the plane trees"
CONSENT_HEADING = "Share with Carpool Lyon?"


def log_in(page: Page, traveller: LiveTraveller) -> None:
    """Type into the labelled fields, then press the button."""
    page.get_by_label("Email address").press_sequentially(traveller.email)
    page.get_by_label("Password", exact=True).press_sequentially(traveller.password)
    page.get_by_role("button", name="Log in").click()


def is_focused(control: Locator) -> bool:
    return bool(control.evaluate("element => element === document.activeElement"))


def tab_to(page: Page, control: Locator, limit: int = 40) -> int:
    """Press Tab from where focus is until the control has it; return how many presses."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if is_focused(control):
            return presses
    raise AssertionError(f"Tab never reached {control} in {limit} presses")


def outline_of(control: Locator) -> str:
    return str(control.evaluate("element => getComputedStyle(element).outlineStyle"))


def test_traveller_logs_in_and_allows_with_the_keyboard(
    page: Page, carpool_site: PlatformSite, traveller: LiveTraveller, live_server: LiveServer,
) -> None:
    request = carpool_site.start_login(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in to Mobility ID")
    expect(page.get_by_text("Carpool Lyon uses Mobility ID")).to_be_visible()

    log_in(page, traveller)
    expect(page.get_by_role("heading", level=1)).to_have_text(CONSENT_HEADING)

    allow = page.get_by_role("button", name="Allow")
    tab_to(page, allow)
    assert outline_of(allow) != "none", "the focused button shows no focus outline"
    page.keyboard.press("Enter")

    page.wait_for_url(f"{carpool_site.platform.redirect_uri}?**")
    expect(page.get_by_role("heading", level=1)).to_have_text("Back on Carpool Lyon")
    params = carpool_site.answer_params(page)
    assert set(params) == {"code", "state", "iss"}
    assert params["code"]
    assert params["state"] == request.state
    assert params["iss"] == live_server.url


def test_deny_is_reachable_by_keyboard_and_sends_access_denied(
    page: Page, carpool_site: PlatformSite, traveller: LiveTraveller, live_server: LiveServer,
) -> None:
    request = carpool_site.start_login(page)
    log_in(page, traveller)
    expect(page.get_by_role("heading", level=1)).to_have_text(CONSENT_HEADING)

    deny = page.get_by_role("button", name="Deny")
    tab_to(page, deny)
    assert outline_of(deny) != "none", "the focused button shows no focus outline"
    page.keyboard.press("Enter")

    page.wait_for_url(f"{carpool_site.platform.redirect_uri}?**")
    params = carpool_site.answer_params(page)
    assert params["error"] == "access_denied"
    assert params["state"] == request.state
    assert params["iss"] == live_server.url
    assert "code" not in params


def test_signup_errors_are_tied_to_their_field(page: Page, live_server: LiveServer) -> None:
    page.goto("/signup")
    page.get_by_label("Email address").fill("awa.diallo@example")
    page.get_by_label("Choose a password").fill("a bicycle under the plane trees")
    page.get_by_role("button", name="Create my account").click()

    summary = page.get_by_role("alert")
    expect(summary).to_be_visible()
    expect(summary.get_by_role("heading")).to_have_text("There is a problem")
    for label, message in [("First name", "Enter your first name."),
                           ("Email address", "Enter an email address like name@example.org.")]:
        control = page.get_by_label(label)
        expect(control).to_have_attribute("aria-invalid", "true")
        expect(control).to_have_accessible_description(re.compile(re.escape(message)))
        described = (control.get_attribute("aria-describedby") or "").split()
        errors = [page.locator(f"[id='{id_}']") for id_ in described if id_.endswith("-error")]
        assert len(errors) == 1, described
        expect(errors[0]).to_be_visible()
        expect(errors[0]).to_contain_text(message)

        # The summary's link takes the keyboard to the field to correct.
        link = summary.get_by_role("link", name=message)
        page.get_by_role("heading", level=1).click()  # a starting point above the summary
        tab_to(page, link)
        page.keyboard.press("Enter")
        expect(control).to_be_focused()
        expect(control).to_be_in_viewport()

    # What the traveller typed is kept, except the password.
    expect(page.get_by_label("Email address")).to_have_value("awa.diallo@example")
    expect(page.get_by_label("Choose a password")).to_have_value("")


@pytest.fixture
def live_mailbox(live_server: LiveServer, smtp_server: tuple[Controller, Mailbox]) -> Mailbox:
    """The live provider sends its mail to the test's SMTP server."""
    controller, box = smtp_server
    box.clear()
    settings = live_server.app.extensions["idp.settings"]
    live_server.app.extensions["idp.settings"] = replace(
        settings, smtp_url=f"smtp://{controller.hostname}:{controller.port}")
    return box


def mailed_link(mailbox: Mailbox, address: str) -> str:
    """The link of the mail the provider sends once its answer has reached the browser:
    the mail may arrive a moment after the page, so wait for it, a few seconds at most."""
    arrived = threading.Event()
    for _ in range(100):
        if mailbox.to(address):
            (link,) = mailbox.links(mailbox.last(address))
            return link
        arrived.wait(0.05)
    raise AssertionError(f"no mail to {address}")


def sign_up(page: Page, mailbox: Mailbox, email: str) -> str:
    """From the login page: fill the sign-up form; the link mailed to the address."""
    page.get_by_role("link", name="Create your Mobility ID account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Create your Mobility ID account")
    page.get_by_label("First name").fill("Awa")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Choose a password").fill(SIGN_UP_PASSWORD)
    page.get_by_role("button", name="Create my account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your mailbox")
    return mailed_link(mailbox, email)


def test_signup_login_and_consent_work_without_javascript(
    chromium: Browser, live_server: LiveServer, carpool_site: PlatformSite,
    live_mailbox: Mailbox,
) -> None:
    # Since issue 9 (item 9) the account is made once the mailed link is followed with
    # the password chosen; the platform's request then goes on in the same browser.
    context = new_context(chromium, live_server, java_script_enabled=False)
    try:
        page = context.new_page()
        request = carpool_site.start_login(page)
        link = sign_up(page, live_mailbox, "awa.diallo@example.org")

        page.goto(link)
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "Finish creating your account")
        page.get_by_label("The password you chose").fill(SIGN_UP_PASSWORD)
        page.get_by_role("button", name="Confirm and log in").click()

        expect(page.get_by_role("heading", level=1)).to_have_text(CONSENT_HEADING)
        page.get_by_role("button", name="Allow").click()
        page.wait_for_url(f"{carpool_site.platform.redirect_uri}?**")
        params = carpool_site.answer_params(page)
        assert params["state"] == request.state
        assert params["code"]
    finally:
        context.close()


def serious_violations(page: Page, tmp_path: Path, name: str) -> list[str]:
    """Run axe-core (bundled, nothing fetched) on the page; keep the full results beside
    the test, and return the serious and critical violations, one line per element."""
    results = axe_results(page)
    (tmp_path / f"axe-{name}.json").write_text(json.dumps(results["violations"], indent=2))
    return [describe_violation(name, violation, node)
            for violation in results["violations"] if violation["impact"] in SERIOUS
            for node in violation["nodes"]]


def describe_violation(page_name: str, violation: dict[str, Any], node: dict[str, Any]) -> str:
    return f"{page_name}: {violation['id']} ({violation['impact']}) {node['target']}: " \
           f"{violation['help']}"


def test_pages_have_no_serious_accessibility_violations(
    page: Page, carpool_site: PlatformSite, traveller: LiveTraveller, tmp_path: Path,
    live_mailbox: Mailbox,
) -> None:
    found: list[str] = []
    carpool_site.start_login(page)
    found += serious_violations(page, tmp_path, "login")

    page.get_by_role("link", name="Create your Mobility ID account").click()
    found += serious_violations(page, tmp_path, "signup")
    page.get_by_role("button", name="Create my account").click()
    expect(page.get_by_role("alert")).to_be_visible()
    found += serious_violations(page, tmp_path, "signup-with-errors")

    page.go_back()
    page.go_back()
    link = sign_up(page, live_mailbox, "awa.diallo@example.org")
    found += serious_violations(page, tmp_path, "signup-sent")
    page.goto(link)
    found += serious_violations(page, tmp_path, "confirm-signup")

    carpool_site.start_login(page)
    log_in(page, traveller)
    expect(page.get_by_role("heading", level=1)).to_have_text(CONSENT_HEADING)
    found += serious_violations(page, tmp_path, "consent")

    page.goto("/account")
    expect(page.get_by_role("heading", level=1)).to_have_text("My details")
    found += serious_violations(page, tmp_path, "profile")
    assert found == []


@pytest.mark.parametrize("width", [1280, 360])
def test_consent_page_shows_allow_and_deny_alike(
    page: Page, carpool_site: PlatformSite, traveller: LiveTraveller, tmp_path: Path,
    width: int,
) -> None:
    page.set_viewport_size({"width": width, "height": 800})
    carpool_site.start_login(page, scope="openid profile email phone")
    log_in(page, traveller)
    expect(page.get_by_role("heading", level=1)).to_have_text(CONSENT_HEADING)

    allow = box_of(page.get_by_role("button", name="Allow"))
    deny = box_of(page.get_by_role("button", name="Deny"))
    assert allow and deny
    assert (allow["width"], allow["height"]) == (deny["width"], deny["height"])
    assert not scrolls_sideways(page), "the page scrolls sideways"

    shot = tmp_path / f"consent-{width}.png"
    page.screenshot(path=shot, full_page=True)
    assert shot.stat().st_size > 10_000
