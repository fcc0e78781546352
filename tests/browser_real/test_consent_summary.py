"""The consent screen on a small phone (issue 12, item 5), in a real browser, in French and
English: a platform asks for six scopes, one of them required. The traveller sees who asks
and one line per item, with Allow and Deny on the first screen (320×568 px); the details of
an item open with the keyboard and show the traveller's own values in full; a required item
has no box to untick by mistake; nothing optional is ticked in advance (GDPR Recital 32).

Assertions rest on structure, roles and English words: the French catalogue is updated by
the lead after this change, so no French wording of the new texts is relied on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from tests.browser_real.conftest import TIMEOUT_MS, PlatformSite
from tests.browser_real.layout import box_of, scrolls_sideways
from tests.browser_real.test_login_and_consent import serious_violations, tab_to
from tests.live import LivePlatform, LiveServer, LiveTraveller

# The six scopes a platform registered by default asks for (tests/factories.py), profile
# split into its five claims: the longest summary a common platform gives.
SIX_SCOPES = "openid profile email phone address offline_access"
POLICY = {"email": {"required": True,
                    "purpose": {"en": "We send your booking confirmation.",
                                "fr": "Nous envoyons la confirmation de réservation."}}}
# 40 characters: the longest address the layout is checked with (issue 12, "Tests").
LONG_EMAIL = "awa.diallo-traore.covoiturage@example.org"
PHONE = "+33 6 12 34 56 78"
LOCALES = {"fr": "fr-FR", "en": "en-GB"}
PHONE_SIZE = ViewportSize(width=320, height=568)


@pytest.fixture
def national(live_server: LiveServer, callback_origin: str) -> LivePlatform:
    return live_server.add_platform(
        name="Covoiturage national", redirect_uri=f"{callback_origin}/auth/callback",
        scope=SIX_SCOPES, scope_policy=POLICY, contacts=["dpo@covoiturage.example"])


@pytest.fixture
def awa(live_server: LiveServer) -> LiveTraveller:
    return live_server.add_traveller(email=LONG_EMAIL, given_name="Awa",
                                     family_name="Diallo", phone_number=PHONE)


@pytest.fixture(params=["fr", "en"])
def language(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def phone(chromium: Browser, live_server: LiveServer, language: str) -> Iterator[Page]:
    """A 320×568 phone (an iPhone SE's screen) whose browser speaks this language."""
    context = chromium.new_context(base_url=live_server.url, locale=LOCALES[language],
                                   viewport=PHONE_SIZE)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def open_consent(page: Page, live_server: LiveServer, platform: LivePlatform,
                 traveller: LiveTraveller) -> None:
    PlatformSite(platform, live_server.url).start_login(page, scope=SIX_SCOPES)
    log_in_any_language(page, traveller)
    expect(page.locator("form[action^='/consent/']")).to_be_attached()


def log_in_any_language(page: Page, traveller: LiveTraveller) -> None:
    """The login form by its fields' types: its labels are French or English."""
    page.locator("input[type=email]").fill(traveller.email)
    page.locator("input[type=password]").fill(traveller.password)
    page.locator("form button[type=submit]").first.click()


def check_in_first_screen(page: Page, name: str) -> None:
    box = box_of(page.locator(f"button[name=decision][value={name}]"))
    assert box is not None, f"no {name} button"
    assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE_SIZE["height"], (name, box)


def check_no_sideways_scroll(page: Page) -> None:
    assert not scrolls_sideways(page), "the page scrolls sideways"


def test_allow_and_deny_are_on_the_first_screen_of_a_small_phone(
    phone: Page, live_server: LiveServer, national: LivePlatform, awa: LiveTraveller,
    language: str, tmp_path: Path,
) -> None:
    open_consent(phone, live_server, national, awa)
    assert phone.evaluate("window.scrollY") == 0
    expect(phone.get_by_role("heading", level=1)).to_contain_text("Covoiturage national")
    assert phone.locator(".consent-item").count() == 5  # one line per scope asked, openid aside
    phone.screenshot(path=tmp_path / f"consent-320-{language}.png", full_page=True)
    check_in_first_screen(phone, "allow")
    check_in_first_screen(phone, "deny")
    check_no_sideways_scroll(phone)

    # Every item opened: the long address wraps, it never pushes the page sideways.
    for summary in phone.locator(".consent-item summary").all():
        summary.click()
    check_no_sideways_scroll(phone)
    phone.screenshot(path=tmp_path / f"consent-320-{language}-open.png", full_page=True)
    assert serious_violations(phone, tmp_path, f"consent-summary-{language}") == []


def test_required_items_have_no_box_and_optional_ones_are_unticked(
    phone: Page, live_server: LiveServer, national: LivePlatform, awa: LiveTraveller,
) -> None:
    open_consent(phone, live_server, national, awa)
    email_item = phone.locator(".consent-item").filter(
        has=phone.locator("input[type=hidden][name=scope][value=email]"))
    expect(email_item).to_have_count(1)
    expect(email_item.get_by_role("checkbox")).to_have_count(0)
    expect(phone.get_by_role("checkbox")).not_to_have_count(0)
    for box in phone.get_by_role("checkbox").all():
        expect(box).not_to_be_checked()
        expect(box).not_to_have_attribute("required", "")


def test_required_item_says_it_is_always_shared_and_why(
    page: Page, live_server: LiveServer, national: LivePlatform, awa: LiveTraveller,
) -> None:
    open_consent(page, live_server, national, awa)  # the `page` fixture speaks English
    item = page.locator(".consent-item").filter(has_text="Your email address")
    expect(item).to_contain_text(
        "Always shared, because: We send your booking confirmation.")


def test_details_open_with_the_keyboard_and_show_own_values_in_full(
    phone: Page, live_server: LiveServer, national: LivePlatform, awa: LiveTraveller,
) -> None:
    open_consent(phone, live_server, national, awa)
    for item_scope, value in [("email", LONG_EMAIL), ("phone", PHONE)]:
        item = phone.locator(".consent-item").filter(
            has=phone.locator(f"input[name=scope][value={item_scope}]"))
        details = item.locator("details")
        expect(details).not_to_have_attribute("open", "")
        value_shown = details.get_by_text(value, exact=True)
        expect(value_shown).to_be_hidden()

        tab_to(phone, item.locator("summary"))
        phone.keyboard.press("Enter")
        expect(details).to_have_attribute("open", "")
        expect(value_shown).to_be_visible()  # unmasked: the traveller's own data

    # The profile's values too, each beside its own label.
    profile = phone.locator(".consent-item").filter(
        has=phone.locator("input[name=claim][value=given_name]"))
    profile.locator("summary").click()
    expect(profile.locator("details")).to_contain_text("Awa")
    expect(profile.locator("details")).to_contain_text("Diallo")


def test_no_sideways_scroll_at_200_percent_zoom(
    chromium: Browser, live_server: LiveServer, national: LivePlatform, awa: LiveTraveller,
    language: str,
) -> None:
    # A 1280×800 window at 200 %: 640×400 CSS pixels, each drawn with 2 device pixels.
    context = chromium.new_context(base_url=live_server.url, locale=LOCALES[language],
                                   viewport={"width": 640, "height": 400},
                                   device_scale_factor=2)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        open_consent(page, live_server, national, awa)
        check_no_sideways_scroll(page)
        for summary in page.locator(".consent-item summary").all():
            summary.click()
        check_no_sideways_scroll(page)
    finally:
        context.close()
