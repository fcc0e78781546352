"""Controls that act on the account are big enough to hit on a phone (issue 12, item 10;
WCAG 2.5.5 asks 44 by 44 CSS pixels, 2.5.8 at least 24): at 320 px, in French and
English, every button, every link of the menu and every link to an account page is at
least 44 px tall and 44 px wide, on the consent screen and on every signed-in page. The
traveller has allowed a platform (so "Revoke" and "Stop sharing this" show) and is signed
in on two devices (so "End this session" shows)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser_real.conftest import TIMEOUT_MS, PlatformSite
from tests.browser_real.layout import settled
from tests.browser_real.test_consent_summary import LOCALES, log_in_any_language
from tests.consent.test_consent_screen import POLICY
from tests.live import LivePlatform, LiveServer, LiveTraveller

SCOPE = "openid email phone offline_access"
SIGNED_IN = ["/", "/account", "/account/platforms", "/account/platforms/{client_id}/proof",
             "/account/data", "/account/delete", "/account/security", "/account/sessions",
             "/account/email", "/account/password", "/account/phone", "/account/two-step",
             "/account/mobility", "/help", "/logout"]
# Buttons, the menu's links, and the links in the page to an account page or to signing
# out; a link to a part of the same page (#...) moves nothing and is left aside. A link
# that wraps is measured line by line: each line is a target of its own.
SMALL = """() => [...document.querySelectorAll(
    'main button, main input[type=submit], nav.site-menu a, main a[href^="/account"],'
    + ' main a[href^="/logout"]')]
  .filter(e => e.checkVisibility())
  .map(e => [e, e.getBoundingClientRect(),
             Math.min(...[...e.getClientRects()].map(line => line.height))])
  .filter(([e, r, lowest]) => lowest < 44 || r.width < 44)
  .map(([e, r, lowest]) => `${location.pathname}: "${e.innerText.trim()}" `
                           + `${Math.round(r.width)}×${Math.round(lowest)}`)"""


@pytest.fixture
def carpool(live_server: LiveServer, callback_origin: str) -> LivePlatform:
    """Email required, phone optional: both kinds of line on "My platforms"."""
    return live_server.add_platform(name="Covoiturage national", scope=SCOPE,
                                    redirect_uri=f"{callback_origin}/auth/callback",
                                    scope_policy=POLICY)


def phone_context(chromium: Browser, live_server: LiveServer, language: str) -> BrowserContext:
    context = chromium.new_context(base_url=live_server.url, locale=LOCALES[language],
                                   viewport={"width": 320, "height": 640})
    context.set_default_timeout(TIMEOUT_MS)
    return context


@pytest.fixture(params=["fr", "en"])
def phone(request: pytest.FixtureRequest, chromium: Browser, live_server: LiveServer,
          carpool_site: PlatformSite, traveller: LiveTraveller) -> Iterator[Page]:
    """At 320 px, on the consent screen of the platform; signed in elsewhere too."""
    other = phone_context(chromium, live_server, request.param)
    context = phone_context(chromium, live_server, request.param)
    try:
        other_page = other.new_page()
        other_page.goto("/login")
        log_in_any_language(other_page, traveller)
        page = context.new_page()
        carpool_site.start_login(page, scope=SCOPE)
        log_in_any_language(page, traveller)
        expect(page.locator("button[name=decision][value=allow]")).to_be_visible()
        settled(page)
        yield page
    finally:
        context.close()
        other.close()


def test_every_control_acting_on_the_account_is_44_px_at_320_px(
        phone: Page, carpool: LivePlatform, carpool_site: PlatformSite) -> None:
    small: list[str] = phone.evaluate(SMALL)  # Allow and Deny
    for box in phone.get_by_role("checkbox").all():
        box.check()
    phone.locator("button[name=decision][value=allow]").click()
    phone.wait_for_url(f"{carpool_site.platform.redirect_uri}?**")
    for path in SIGNED_IN:
        phone.goto(path.format(client_id=carpool.client_id))
        expect(phone.locator("nav.site-menu")).to_be_visible()
        small += phone.evaluate(SMALL)
    assert small == [], "\n".join(small)
