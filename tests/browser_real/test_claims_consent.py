"""In a real browser: a platform asks for the traveller's email with the claims parameter
alone (OIDC Core 5.5, ``scope=openid``). The consent screen shows it as a box of its own,
marked essential and not ticked; the traveller ticks it by its label and allows; the page
has no serious accessibility violation (axe-core)."""

from __future__ import annotations

import json
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser import AuthorizationRequest
from tests.browser_real.conftest import PlatformSite
from tests.browser_real.test_login_and_consent import (
    CONSENT_HEADING,
    log_in,
    serious_violations,
)
from tests.live import LiveTraveller

CLAIMS = json.dumps({"userinfo": {"email": {"essential": True}}})


def test_an_essential_claim_is_shown_unticked_and_allowed_by_its_label(
    page: Page, carpool_site: PlatformSite, traveller: LiveTraveller, tmp_path: Path,
) -> None:
    platform = carpool_site.platform
    request = AuthorizationRequest(platform.client_id, platform.redirect_uri, scope="openid",
                                   extra={"claims": CLAIMS})
    carpool_site.watch(page)
    page.goto(carpool_site.authorization_url(request))
    log_in(page, traveller)
    expect(page.get_by_role("heading", level=1)).to_have_text(CONSENT_HEADING)

    email = page.get_by_role("checkbox", name="Email address")
    expect(email).to_be_visible()
    expect(email).not_to_be_checked()  # essential is a wish: nothing ticked in advance
    expect(page.get_by_role("group", name="Your email address")).to_contain_text("essential")
    expect(page.get_by_text("You still choose")).to_be_visible()
    assert serious_violations(page, tmp_path, "consent-claims") == []

    page.locator("label", has_text="Email address").click()  # the label ticks its box
    expect(email).to_be_checked()
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{platform.redirect_uri}?**")
    params = carpool_site.answer_params(page)
    assert params["code"] and params["state"] == request.state
