"""The menu, the help block and the controls as a traveller meets them in chromium
(issue 12, items 1, 6, 8 and 10): the menu a few Tab presses in, a plain list at 320 px
without JavaScript, a focus ring that stands out (3:1), targets of 44 by 44 px, and a
confirmation at the top of the page, announced."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser_real.layout import box_of, scrolls_sideways
from tests.browser_real.test_audit import LONG_EMAIL, sign_in
from tests.browser_real.test_login_and_consent import is_focused
from tests.live import LiveServer, LiveTraveller

MENU = ["My platforms", "My details", "My travel details", "Security", "People who help you",
        "Help", "Log out"]
SIGNED_IN_PAGES = ["/", "/account", "/account/platforms", "/account/security",
                   "/account/sessions", "/account/mobility", "/account/helpers", "/help",
                   "/accessibility"]
# Controls that act on the account, and the ways around: each a 44 by 44 px target.
TARGETS = ("main button, main .button, main .link-button, main .actions a, main .links a, "
           "nav.site-menu a, .need-help a, .footer-links a")
RGB = re.compile(r"rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)")
# The focused element's outline, and the first opaque background behind the outline
# (the outline sits outside the element, on its parent's background).
RING = """element => {
  const style = getComputedStyle(element);
  let node = element.parentElement;
  let background = 'rgb(255, 255, 255)';
  while (node) {
    const colour = getComputedStyle(node).backgroundColor;
    if (colour !== 'rgba(0, 0, 0, 0)' && colour !== 'transparent') { background = colour; break; }
    node = node.parentElement;
  }
  return {outline: style.outlineColor, width: parseFloat(style.outlineWidth),
          style: style.outlineStyle, background, html: element.outerHTML.slice(0, 80)};
}"""


@pytest.fixture
def long_named(live_server: LiveServer) -> LiveTraveller:
    """A 40-character address: it must fit at 320 px."""
    return live_server.add_traveller(email=LONG_EMAIL, given_name="Marie-Christine",
                                     family_name="Delaporte")


@pytest.fixture(params=["fr-FR", "en-GB"])
def narrow(request: pytest.FixtureRequest, chromium: Browser,
           live_server: LiveServer) -> Iterator[BrowserContext]:
    """A phone 320 px wide, without JavaScript, in each language."""
    context = chromium.new_context(base_url=live_server.url, locale=request.param,
                                   viewport={"width": 320, "height": 640},
                                   java_script_enabled=False)
    context.set_default_timeout(10_000)
    yield context
    context.close()


@pytest.fixture
def zoomed(chromium: Browser, live_server: LiveServer) -> Iterator[BrowserContext]:
    """A 1280 by 800 window at 200 % zoom: chromium lays the page out in 640 by 400
    CSS pixels, each drawn with 2 device pixels."""
    context = chromium.new_context(base_url=live_server.url, locale="en-GB",
                                   viewport={"width": 640, "height": 400},
                                   device_scale_factor=2)
    context.set_default_timeout(10_000)
    yield context
    context.close()


def luminance(colour: str) -> float:
    """WCAG 2.2 relative luminance of an sRGB colour."""
    match = RGB.fullmatch(colour.strip())
    assert match, f"not an rgb() colour: {colour}"
    assert match.group(4) in (None, "1"), f"a see-through ring: {colour}"
    channels = [float(match.group(i)) / 255 for i in (1, 2, 3)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(first: str, second: str) -> float:
    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_the_menu_is_a_few_tab_presses_in_and_marks_the_page(
        page: Page, traveller: LiveTraveller) -> None:
    sign_in(page, traveller)
    page.goto("/account")
    menu = page.get_by_role("navigation", name="My account")
    expect(menu.get_by_role("link")).to_have_text(MENU)
    expect(menu.get_by_role("link", name="My details")).to_have_attribute(
        "aria-current", "page")

    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    platforms = menu.get_by_role("link", name="My platforms")
    presses = 0
    while not is_focused(platforms):
        page.keyboard.press("Tab")
        presses += 1
        assert presses <= 3, "My platforms is more than 3 presses after the skip link"
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("My platforms")
    expect(menu.get_by_role("link", name="My platforms")).to_have_attribute(
        "aria-current", "page")
    expect(page.locator("nav.site-menu [aria-current]")).to_have_count(1)


def test_the_menu_is_a_plain_list_at_320_px_without_javascript(
        narrow: BrowserContext, long_named: LiveTraveller) -> None:
    page = narrow.new_page()
    sign_in(page, long_named)
    for path in SIGNED_IN_PAGES:
        page.goto(path)
        links = page.locator("nav.site-menu > ul > li > a")
        expect(links).to_have_count(len(MENU))
        for index in range(len(MENU)):
            expect(links.nth(index)).to_be_in_viewport()
        assert not scrolls_sideways(page), f"{path} scrolls sideways at 320 px"
    expect(page.locator(".need-help")).to_be_visible()


def test_signed_in_pages_hold_at_200_percent_zoom(
        zoomed: BrowserContext, long_named: LiveTraveller) -> None:
    page = zoomed.new_page()
    sign_in(page, long_named)
    for path in SIGNED_IN_PAGES:
        page.goto(path)
        assert not scrolls_sideways(page), f"{path} scrolls sideways at 200 % zoom"
    page.goto("/")
    expect(page.get_by_text(LONG_EMAIL)).to_be_visible()


def test_the_focus_ring_stands_out_at_3_to_1(page: Page, traveller: LiveTraveller) -> None:
    sign_in(page, traveller)
    weak = []
    for path in ("/", "/account", "/account/security", "/account/sessions", "/help"):
        page.goto(path)  # goto waits for "load": the stylesheet is in
        controls = page.locator("a[href], button, input:not([type=hidden]), select, summary")
        for index in range(controls.count()):
            control = controls.nth(index)
            if not control.is_visible():
                continue
            control.focus()
            ring = control.evaluate(RING)
            ratio = contrast(ring["outline"], ring["background"])
            if ring["style"] == "none" or ring["width"] < 2 or ratio < 3:
                weak.append(f"{path}: {ring['html']} {ring['style']} {ring['width']}px "
                            f"{ratio:.2f}:1")
    assert weak == []


def test_controls_on_the_account_are_44_px_targets(
        page: Page, chromium: Browser, live_server: LiveServer,
        traveller: LiveTraveller) -> None:
    other = chromium.new_context(base_url=live_server.url)
    sign_in(other.new_page(), traveller)  # so that "End this session" shows
    sign_in(page, traveller)
    small = []
    for path in ("/", "/account", "/account/security", "/account/sessions",
                 "/account/platforms", "/help"):
        page.goto(path)
        targets = page.locator(TARGETS)
        assert targets.count() > 6, path
        for index in range(targets.count()):
            box = box_of(targets.nth(index))
            if box and (box["width"] < 44 or box["height"] < 44):
                html = targets.nth(index).evaluate("e => e.outerHTML.slice(0, 80)")
                small.append(f"{path}: {html} {box['width']:.0f}x{box['height']:.0f}")
    other.close()
    assert small == []


def test_a_confirmation_shows_at_the_top_and_is_announced(
        narrow: BrowserContext, long_named: LiveTraveller) -> None:
    page = narrow.new_page()
    sign_in(page, long_named)
    page.goto("/account")
    page.locator("#given_name").fill("Marie")
    page.locator("main form button[type=submit]").last.click()
    status = page.get_by_role("status")
    expect(status).to_have_count(1)
    expect(status).to_be_in_viewport()
    box = box_of(status)
    assert box and box["y"] + box["height"] <= 640, "the confirmation is below the fold"
    assert status.evaluate("e => e.closest('main') !== null")


def test_the_help_block_calls_the_operator(page: Page) -> None:
    page.goto("/help")
    block = page.get_by_role("complementary", name="Need help?")
    expect(block).to_be_visible()
    expect(page.get_by_role("contentinfo").get_by_role("link")).to_have_text(
        ["Help", "Legal notice", "Privacy notice", "Accessibility: partially conformant"])
