"""In a real browser without JavaScript (issue 14, part 4): Umberto let Covoiturage
régional act on Covoiturage national for him. "My platforms" shows it under both
platforms, in English and in French, and one click on Stop ends it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask_babel import force_locale
from flask_babel import gettext as _
from playwright.sync_api import Browser, expect

from tests.browser import AuthorizationRequest
from tests.browser_real.conftest import TIMEOUT_MS, PlatformSite
from tests.browser_real.test_delegation_consent import (  # noqa: F401  (fixtures)
    ENGLISH,
    FRENCH,
    Words,
    log_in,
    regional,
    umberto,
)
from tests.delegation import API, SCOPE
from tests.live import LivePlatform, LiveServer, LiveTraveller


@dataclass(frozen=True)
class Said:
    """The page's words in the browser's language, as the app translates them."""

    sentence: str
    stop: str
    done: str


def said(live_server: LiveServer, words: Words) -> Said:
    language = words.locale.split("-")[0]
    actions = {"en": "search rides and book seats",
               "fr": "chercher des trajets et réserver des places"}[language]
    names = {"actor": "Covoiturage régional", "platform": "Covoiturage national"}
    with live_server.app.test_request_context(), force_locale(language):
        return Said(_("%(actor)s can %(actions)s on %(platform)s for you.", actions=actions,
                      **names),
                    _("Stop"),
                    _("Done. %(actor)s can no longer %(actions)s on %(platform)s for you.",
                      actions=actions, **names))


@pytest.mark.parametrize("words", [ENGLISH, FRENCH], ids=["en", "fr"])
def test_umberto_sees_the_delegation_under_both_platforms_and_stops_it_in_one_click(
        chromium: Browser, live_server: LiveServer, regional: LivePlatform,  # noqa: F811
        umberto: LiveTraveller, words: Words) -> None:  # noqa: F811
    context = chromium.new_context(base_url=live_server.url, locale=words.locale,
                                   java_script_enabled=False)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    site = PlatformSite(regional, live_server.url)
    site.watch(page)
    page.goto(site.authorization_url(AuthorizationRequest(
        regional.client_id, regional.redirect_uri, scope=SCOPE, extra={"resource": API})))
    log_in(page, umberto, words)
    page.locator("label[for=delegation]").click()  # the delegation: a box of its own
    page.get_by_role("group", name=words.will_see).locator("label", has_text=words.alias).click()
    page.get_by_role("button", name=words.allow, exact=True).click()
    page.wait_for_url(f"{regional.redirect_uri}?**")
    text = said(live_server, words)

    page.goto("/account/platforms")
    actor = page.get_by_role("region", name="Covoiturage régional")
    resource = page.get_by_role("region", name="Covoiturage national")
    # Its name says which delegation, for those who hear the page.
    stop = f"{text.stop} ({text.sentence})"
    for section in (actor, resource):
        expect(section.get_by_text(text.sentence, exact=True)).to_be_visible()
        expect(section.get_by_role("button", name=stop, exact=True)).to_be_visible()
    resource.get_by_role("button", name=stop, exact=True).click()  # either side: one click

    expect(page).to_have_url(f"{live_server.url}/account/platforms")
    expect(page.get_by_text(text.done)).to_be_visible()
    expect(page.get_by_text(text.sentence, exact=True)).to_have_count(0)
    expect(page.get_by_role("region", name="Covoiturage national")).to_have_count(0)
    expect(actor).to_be_visible()  # the regional platform keeps its own login
    context.close()
