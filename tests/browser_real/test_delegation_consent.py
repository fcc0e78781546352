"""In a real browser (issue 14, part 2): Covoiturage régional asks to search rides and
book seats on Covoiturage national for Umberto. The consent screen names both platforms,
the actions in the national platform's words, what it will see (boxes not ticked), how
long, and that it can be stopped; in English and in French; no serious accessibility
violation (axe-core). The delegation is a box of its own, never ticked in advance:
Umberto ticks it and his alias only, and allows; or he leaves it empty and still logs
in, without JavaScript too."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from clients import resources
from consent.models import history
from idp.accounts.models import User
from idp.extensions import db
from idp.oauth.models import Client
from tests.browser import AuthorizationRequest
from tests.browser_real.conftest import TIMEOUT_MS, PlatformSite
from tests.browser_real.layout import box_of
from tests.browser_real.test_login_and_consent import serious_violations
from tests.delegation import ACTIONS, API, SCOPE, TOKEN_EXCHANGE
from tests.live import LivePlatform, LiveServer, LiveTraveller


@dataclass(frozen=True)
class Words:
    locale: str
    email: str
    password: str
    log_in: str
    sentence: str
    will_see: str
    alias: str
    allow: str
    stop: str
    optional: str


ENGLISH = Words("en-GB", "Email address", "Password", "Log in",
                "Covoiturage régional may search rides and book seats on Covoiturage "
                "national for you.", "What Covoiturage national will see", "Alias", "Allow",
                "You can stop it at any time in “My platforms”.",
               "You can log in without ticking it.")
FRENCH = Words("fr-FR", "Adresse e-mail", "Mot de passe", "Se connecter",
               "Covoiturage régional pourra chercher des trajets et réserver des places sur "
               "Covoiturage national pour vous.", "Ce que Covoiturage national verra", "Pseudo",
               "Autoriser", "Vous pouvez l’arrêter à tout moment dans « Mes plateformes ».",
               "Vous pouvez vous connecter sans la cocher.")


@pytest.fixture(params=[ENGLISH, FRENCH], ids=["en", "fr"])
def words(request: pytest.FixtureRequest) -> Words:
    words: Words = request.param
    return words


@pytest.fixture
def umberto(live_server: LiveServer) -> LiveTraveller:
    return live_server.add_traveller(given_name="Umberto", family_name="Rossi",
                                     nickname="Umberto A.", phone_number="+33612345678")


@pytest.fixture
def regional(live_server: LiveServer, callback_origin: str) -> LivePlatform:
    platform = live_server.add_platform(
        name="Covoiturage régional", redirect_uri=f"{callback_origin}/auth/callback",
        scope="openid profile:alias",
        grant_types=["authorization_code", "refresh_token", TOKEN_EXCHANGE])
    national = live_server.add_platform(name="Covoiturage national",
                                        redirect_uri="https://national.example/callback")
    with live_server.app.app_context():
        client = db.session.scalar(db.select(Client).where(
            Client.client_id == national.client_id))
        assert client is not None
        resources.save(client, [resources.ResourceSpec(API, "Covoiturage national API",
                                                       ACTIONS, ["nickname", "phone_number"])])
        db.session.commit()
        db.session.remove()
    return platform


def test_umberto_reads_the_delegation_and_allows_it_with_his_alias_only(
        chromium: Browser, live_server: LiveServer, regional: LivePlatform,
        umberto: LiveTraveller, words: Words, tmp_path: Path) -> None:
    page, site = consent_screen(chromium, live_server, regional, umberto, words)

    expect(page.locator("#delegation-what")).to_have_text(words.sentence)
    delegation = page.get_by_role("checkbox", name=words.sentence, exact=True)
    expect(delegation).not_to_be_checked()  # the login never comes with it by default
    expect(page.locator("#delegation-optional")).to_contain_text(words.optional)
    seen = page.get_by_role("group", name=words.will_see)
    alias = seen.get_by_role("checkbox", name=re.compile(words.alias))
    expect(alias).not_to_be_checked()  # nothing optional ticked in advance
    for box in seen.get_by_role("checkbox").all():
        expect(box).not_to_be_checked()
    page.locator(".consent-delegation summary").click()  # how long, and how to stop it
    expect(page.locator(".consent-delegation__how-long")).to_be_visible()
    expect(page.locator(".consent-delegation__how-long")).to_contain_text(words.stop)
    assert serious_violations(page, tmp_path, f"consent-delegation-{words.locale}") == []
    # Issue 12, item 5: Allow and Deny within the first screen of a 320×568 phone.
    page.locator(".consent-delegation summary").click()  # closed again
    page.set_viewport_size({"width": 320, "height": 568})
    button = box_of(page.get_by_role("button", name=words.allow, exact=True))
    assert button is not None and button["y"] + button["height"] <= 568

    page.locator("label[for=delegation]").click()
    seen.locator("label", has_text=words.alias).click()
    [entry] = allow_and_read(page, site, live_server, umberto, words)
    assert entry["claims"] == ["nickname"]


def test_umberto_leaves_the_delegation_empty_and_logs_in_without_javascript(
        chromium: Browser, live_server: LiveServer, regional: LivePlatform,
        umberto: LiveTraveller, words: Words) -> None:
    page, site = consent_screen(chromium, live_server, regional, umberto, words,
                                java_script_enabled=False)

    delegation = page.get_by_role("checkbox", name=words.sentence, exact=True)
    expect(delegation).not_to_be_checked()
    # Without JavaScript what the national platform would see stays in sight, and its
    # boxes say they count only with the delegation's own: he ticks one, not the latter.
    seen = page.get_by_role("group", name=words.will_see)
    seen.locator("label", has_text=words.alias).click()
    assert allow_and_read(page, site, live_server, umberto, words) == []


def consent_screen(chromium: Browser, live_server: LiveServer, regional: LivePlatform,
                   umberto: LiveTraveller, words: Words,
                   **options: Any) -> tuple[Page, PlatformSite]:
    """Umberto, on the regional platform, is sent to log in with the delegation asked,
    logs in and reaches the consent screen."""
    context = chromium.new_context(base_url=live_server.url, locale=words.locale, **options)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    site = PlatformSite(regional, live_server.url)
    request = AuthorizationRequest(regional.client_id, regional.redirect_uri, scope=SCOPE,
                                   extra={"resource": API})
    site.watch(page)
    page.goto(site.authorization_url(request))
    log_in(page, umberto, words)
    return page, site


def allow_and_read(page: Page, site: PlatformSite, live_server: LiveServer,
                   umberto: LiveTraveller, words: Words) -> list[dict[str, Any]]:
    """Allow: the platform gets its code; the delegations now on record."""
    page.get_by_role("button", name=words.allow, exact=True).click()
    page.wait_for_url(f"{site.platform.redirect_uri}?**")
    assert "code" in site.answer_params(page)
    page.context.close()
    with live_server.app.app_context():
        user = db.session.scalar(db.select(User).where(User.subject == umberto.subject))
        assert user is not None
        delegations = list(history(user.id, site.platform.client_id)[-1].delegations)
        db.session.remove()
    return delegations


def log_in(page: Page, traveller: LiveTraveller, words: Words) -> None:
    page.get_by_label(words.email).press_sequentially(traveller.email)
    page.get_by_label(words.password, exact=True).press_sequentially(traveller.password)
    page.get_by_role("button", name=words.log_in).click()
