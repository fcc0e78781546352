"""The consent screen's items at 320 px (issue 12, "Tests"; a flaw seen by hand after
stop 16): a long title such as "Votre pseudo et votre photo" ran under its "Détails"
toggle. For every scope of the catalogue, asked as optional and, where the catalogue
allows it, as required, in French and English, no line of an item's text may touch the
box of its toggle, and nothing scrolls sideways.

Lines are measured one by one (a Range over each text node): the box of a wrapped title
spans the whole width, its lines do not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from consent.scopes import CATALOGUE
from tests.browser_real.conftest import TIMEOUT_MS, PlatformSite
from tests.browser_real.layout import settled
from tests.browser_real.test_consent_summary import LOCALES, check_no_sideways_scroll
from tests.live import LivePlatform, LiveServer, LiveTraveller

EVERY_SCOPE = " ".join(CATALOGUE)
# A platform's reason for every scope, as long as a real one: it shows under a required
# item's title, and in every item's details.
REASON = {"en": "We need it to find you a trip with a driver who suits you.",
          "fr": "Nous en avons besoin pour vous trouver un trajet avec un conducteur."}
# For each item outside its details: the rectangles of its text's lines, and its toggle's.
OVERLAPS = """() => [...document.querySelectorAll('.consent-item')].flatMap(item => {
  const toggle = item.querySelector(':scope > details > summary').getBoundingClientRect();
  const walker = document.createTreeWalker(item, NodeFilter.SHOW_TEXT, {acceptNode: node =>
    node.textContent.trim() && !node.parentElement.closest('details, .visually-hidden')
      ? NodeFilter.FILTER_ACCEPT : NodeFilter.FILTER_REJECT});
  const hits = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const range = document.createRange();
    range.selectNodeContents(node);
    for (const line of range.getClientRects()) {
      if (line.width && line.left < toggle.right && line.right > toggle.left
          && line.top < toggle.bottom && line.bottom > toggle.top)
        hits.push(node.textContent.trim() + ' under ' + item.querySelector('summary').innerText);
    }
  }
  return hits;
})"""


def policy(required: bool) -> dict[str, Any]:
    """Every scope declared with a purpose; required where the catalogue permits it."""
    return {name: {"required": required and not scope.sensitive, "purpose": REASON}
            for name, scope in CATALOGUE.items() if name != "openid"}


@pytest.fixture(params=[False, True], ids=["optional", "required"])
def everything(request: pytest.FixtureRequest, live_server: LiveServer,
               callback_origin: str) -> LivePlatform:
    """A platform that asks for the whole catalogue."""
    return live_server.add_platform(
        name="Covoiturage solidaire du Grand Angoulême",
        redirect_uri=f"{callback_origin}/auth/callback", scope=EVERY_SCOPE,
        scope_policy=policy(request.param))


@pytest.fixture(params=["fr", "en"])
def narrow(request: pytest.FixtureRequest, chromium: Browser,
           live_server: LiveServer) -> Iterator[Page]:
    context = chromium.new_context(base_url=live_server.url, locale=LOCALES[request.param],
                                   viewport={"width": 320, "height": 568})
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_item_titles_never_run_under_their_details_toggle(
    narrow: Page, live_server: LiveServer, everything: LivePlatform, traveller: LiveTraveller,
    tmp_path: Path,
) -> None:
    PlatformSite(everything, live_server.url).start_login(narrow, scope=EVERY_SCOPE)
    narrow.locator("input[type=email]").fill(traveller.email)
    narrow.locator("input[type=password]").fill(traveller.password)
    narrow.locator("form button[type=submit]").first.click()
    expect(narrow.locator(".consent-item")).to_have_count(len(CATALOGUE) - 1)
    narrow.screenshot(path=tmp_path / "consent-every-scope.png", full_page=True)

    assert settled(narrow).evaluate(OVERLAPS) == []
    check_no_sideways_scroll(narrow)
