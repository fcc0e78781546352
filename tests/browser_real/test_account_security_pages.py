"""The account's security pages in a real browser: "Where you are signed in" ends another
device by keyboard, and every new page passes axe-core without a serious finding."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.browser_real.conftest import new_context
from tests.browser_real.test_login_and_consent import log_in, serious_violations
from tests.live import LiveServer, LiveTraveller

PAGES = {
    "sessions": "/account/sessions",
    "change-password": "/account/password",
    "change-email": "/account/email",
    "change-phone": "/account/phone",
    "confirm": "/account/confirm",
}


def test_traveller_ends_a_forgotten_device_by_keyboard(
        page: Page, chromium: Browser, live_server: LiveServer, traveller: LiveTraveller,
        tmp_path: Path) -> None:
    library = new_context(chromium, live_server)  # a computer left signed in elsewhere
    other = library.new_page()
    other.goto("/login")
    log_in(other, traveller)
    page.goto("/login")
    log_in(page, traveller)

    page.get_by_role("link", name="Where you are signed in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Where you are signed in")
    expect(page.get_by_text("This device")).to_be_visible()
    assert serious_violations(page, tmp_path, "sessions") == []
    end = page.get_by_role("button", name="End this session").first
    end.focus()
    page.keyboard.press("Enter")

    expect(page.get_by_role("button", name="End this session")).to_have_count(0)
    other.goto("/account")
    expect(other.get_by_role("heading", level=1)).to_have_text("Log in to Mobility ID")
    library.close()


def test_the_security_pages_pass_axe(page: Page, traveller: LiveTraveller,
                                     tmp_path: Path) -> None:
    page.goto("/password/forgot")
    assert serious_violations(page, tmp_path, "forgot") == []
    page.goto("/login")
    log_in(page, traveller)
    found = []
    for name, path in PAGES.items():
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        found += serious_violations(page, tmp_path, name)
    assert found == []
