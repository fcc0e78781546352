"""Two-step verification in a real browser: the traveller reads the key from the page as
a person would type it into an authenticator app, turns it on, and later logs in with a
code. pyotp plays the app. The clock is the real one: the code of the second login is
the next step's (one step of drift is accepted), since the replay guard refuses the step
already used to turn it on."""

from __future__ import annotations

import time
from pathlib import Path

import pyotp
from playwright.sync_api import Page, expect

from tests.browser_real.test_login_and_consent import log_in, serious_violations
from tests.live import LiveTraveller

CODE_LABEL = "6-digit code from your authenticator app"


def test_traveller_turns_on_two_step_verification_and_logs_in_with_a_code(
        page: Page, traveller: LiveTraveller, tmp_path: Path) -> None:
    page.goto("/login")
    log_in(page, traveller)
    page.goto("/account")
    page.get_by_role("link", name="Two-step verification").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up two-step verification")
    expect(page.get_by_role("img", name="QR code to scan with your authenticator app")
           ).to_be_visible()
    assert serious_violations(page, tmp_path, "enrolment") == []

    key = page.locator("#totp-key").inner_text().replace(" ", "")
    app = pyotp.TOTP(key)
    page.get_by_label(CODE_LABEL).press_sequentially(app.now())
    page.get_by_role("button", name="Turn on two-step verification").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Save your recovery codes")
    expect(page.locator("#recovery-codes li")).to_have_count(10)

    page.goto("/logout")
    page.get_by_role("button", name="Log out").click()
    page.goto("/login")
    log_in(page, traveller)
    expect(page.get_by_role("heading", level=1)).to_have_text("Type the code from your app")
    assert serious_violations(page, tmp_path, "code") == []
    page.get_by_label(CODE_LABEL).press_sequentially(app.at(time.time() + 30))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My details")
