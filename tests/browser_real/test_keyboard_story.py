"""A traveller who uses only the keyboard, from the first visit to the deletion of the
account (issue 12, "Tests"), in French and in English: sign up from a platform's login
page, confirm the address and log in, allow the platform, find "My platforms", revoke the
platform, see and download the data, delete the account; then logging in again fails.

Only the keyboard moves: Tab, Shift+Tab, Enter, Space and typing. Nothing is clicked or
filled by selector, and the browser is sent to two addresses only, as a person would
reach them: the platform's authorization request and the link read in the mail. On
every Tab press the focused control shows a focus ring (its computed outline, at least
2 px) and focus moves on (no trap, WCAG 2.1.2, 2.4.7). Controls are found by role and
accessible name, in the page's language, as assistive technology finds them."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser_real.conftest import TIMEOUT_MS, PlatformSite
from tests.browser_real.layout import settled
from tests.browser_real.test_consent_summary import LOCALES
from tests.browser_real.test_login_and_consent import (  # noqa: F401  (a fixture)
    live_mailbox,
    mailed_link,
)
from tests.consent.test_consent_screen import POLICY
from tests.live import LivePlatform, LiveServer
from tests.mail import Mailbox, smtp_server  # noqa: F401  (a fixture)

NAME = "Covoiturage national"
SCOPE = "openid email phone"
EMAIL = "umberto.keyboard@example.org"
PASSWORD = "a bicycle under the plane trees"
# Where focus is, whether its ring shows, and a place to tell one control from another.
FOCUS = """() => {
  const e = document.activeElement;
  if (!e || e === document.body || e === document.documentElement) return null;
  const style = getComputedStyle(e);
  return {position: [...document.querySelectorAll('*')].indexOf(e), origin: location.origin,
          ring: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2,
          what: e.outerHTML.slice(0, 100)};
}"""
# The platform's page after the login: it links back to Mobility ID, as platforms do
# beside their "Log in with Mobility ID" button.
PLATFORM_PAGE = ('<!doctype html><html lang="fr"><title>{name}</title><h1>{name}</h1>'
                 '<p><a href="{provider}/">Mobility ID</a></p></html>')


@dataclass(frozen=True)
class Words:
    """What the traveller reads, in one language: the catalogue's words for each control."""

    create_account: str
    first_name: str
    email: str
    choose_password: str
    create: str
    mailbox: str
    chosen_password: str
    confirm: str
    consent: str
    phone: str
    allow: str
    my_platforms: str
    revoke: str
    revoked: str
    none_left: str
    see_data: str
    my_data: str
    download: str
    back: str
    delete: str
    delete_password: str
    delete_for_good: str
    deleted: str
    password: str
    log_in: str
    problem: str


WORDS = {
    "en": Words(
        create_account="Create your Mobility ID account",
        first_name="First name",
        email="Email address",
        choose_password="Choose a password",
        create="Create my account",
        mailbox="Check your mailbox",
        chosen_password="The password you chose",
        confirm="Confirm and log in",
        consent=f"Share with {NAME}?",
        phone="Your phone number",
        allow="Allow",
        my_platforms="My platforms",
        revoke=f"Stop sharing with {NAME}",
        revoked=f"Done. {NAME} can no longer see your information.",
        none_left="No platform can see your information.",
        see_data="Download my data",
        my_data="My data",
        download="Download my data (JSON file)",
        back="Back to my platforms",
        delete="Delete my account",
        delete_password="Your password, to confirm it is you",
        delete_for_good="Delete my account for good",
        deleted="Your account is deleted. We kept no personal data.",
        password="Password",
        log_in="Log in",
        problem="There is a problem",
    ),
    "fr": Words(
        create_account="Créez votre compte Mobility ID",
        first_name="Prénom",
        email="Adresse e-mail",
        choose_password="Choisissez un mot de passe",
        create="Créer mon compte",
        mailbox="Regardez votre messagerie",
        chosen_password="Le mot de passe que vous avez choisi",
        confirm="Confirmer et me connecter",
        consent=f"Partager avec {NAME}\u202f?",
        phone="Votre numéro de téléphone",
        allow="Autoriser",
        my_platforms="Mes plateformes",
        revoke=f"Retirer l’accès à {NAME}",
        revoked=f"C’est fait. {NAME} ne peut plus voir vos informations.",
        none_left="Aucune plateforme ne peut voir vos informations.",
        see_data="Télécharger mes données",
        my_data="Mes données",
        download="Télécharger mes données (fichier JSON)",
        back="Retour à mes plateformes",
        delete="Supprimer mon compte",
        delete_password="Votre mot de passe, pour confirmer que c’est bien vous",
        delete_for_good="Supprimer mon compte pour de bon",
        deleted="Votre compte est supprimé. Nous n’avons gardé aucune donnée personnelle.",
        password="Mot de passe",
        log_in="Se connecter",
        problem="Il y a un problème",
    ),
}


class Keyboard:
    """The traveller's hands: Tab until a control has focus, checking each stop on the way."""

    def __init__(self, page: Page, provider: str) -> None:
        self.page = page
        self.provider = provider  # the platform's own page draws its own focus

    def tab_to(self, control: Locator, back: bool = False, limit: int = 80) -> None:
        settled(self.page)  # the focus ring is drawn by the stylesheet
        previous = None
        for _ in range(limit):
            self.page.keyboard.press("Shift+Tab" if back else "Tab")
            focus = self.page.evaluate(FOCUS)
            if focus is None:  # past the last control, focus leaves the page, then comes round
                previous = None
                continue
            assert focus["ring"] or focus["origin"] != self.provider, \
                f"no visible focus ring on {focus['what']}"
            assert focus["position"] != previous, f"Tab is stuck on {focus['what']}"
            previous = focus["position"]
            if control.evaluate("element => element === document.activeElement"):
                return
        raise AssertionError(f"Tab never reached {control} in {limit} presses")

    def type_into(self, field: Locator, text: str) -> None:
        self.tab_to(field)
        self.page.keyboard.type(text)

    def press(self, control: Locator, key: str = "Enter", back: bool = False) -> None:
        self.tab_to(control, back)
        self.page.keyboard.press(key)


class LinkingPlatform(PlatformSite):
    """The platform of conftest, whose page after the login links back to Mobility ID."""

    def answer(self, cdp: Any, event: dict[str, Any]) -> None:
        self.arrivals.append(event["request"]["url"])
        body = PLATFORM_PAGE.format(name=NAME, provider=self.provider).encode()
        cdp.send("Fetch.fulfillRequest", {
            "requestId": event["requestId"], "responseCode": 200,
            "body": base64.b64encode(body).decode(),
            "responseHeaders": [{"name": "Content-Type", "value": "text/html; charset=utf-8"}],
        })


@pytest.fixture
def national(live_server: LiveServer, callback_origin: str) -> LivePlatform:
    """Email required, phone optional (POLICY)."""
    return live_server.add_platform(name=NAME, scope=SCOPE, scope_policy=POLICY,
                                    redirect_uri=f"{callback_origin}/auth/callback")


@pytest.fixture(params=["fr", "en"])
def language(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def page(chromium: Browser, live_server: LiveServer, language: str) -> Iterator[Page]:
    context = chromium.new_context(base_url=live_server.url, locale=LOCALES[language],
                                   viewport={"width": 1280, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def heading(page: Page) -> Locator:
    return page.get_by_role("heading", level=1)


def sign_up_from_the_platform(keys: Keyboard, words: Words, site: LinkingPlatform,
                              mailbox: Mailbox) -> str:
    page = keys.page
    site.start_login(page, scope=SCOPE)
    expect(page.get_by_text(NAME).first).to_be_visible()
    keys.press(page.get_by_role("link", name=words.create_account))
    expect(heading(page)).to_have_text(words.create_account)
    keys.type_into(page.get_by_label(words.first_name), "Umberto")
    keys.type_into(page.get_by_label(words.email), EMAIL)
    keys.type_into(page.get_by_label(words.choose_password), PASSWORD)
    keys.press(page.get_by_role("button", name=words.create))
    expect(heading(page)).to_have_text(words.mailbox)
    return mailed_link(mailbox, EMAIL)


def confirm_and_allow(keys: Keyboard, words: Words, site: LinkingPlatform) -> None:
    """The mailed link, the password typed again: logged in, the platform's request goes
    on to the consent screen. Phone, optional, is ticked with Space after reading its
    details; Allow with Enter."""
    page = keys.page
    keys.type_into(page.get_by_label(words.chosen_password), PASSWORD)
    keys.press(page.get_by_role("button", name=words.confirm))
    expect(heading(page)).to_have_text(words.consent)
    phone = page.get_by_role("checkbox", name=re.compile("^" + re.escape(words.phone)))
    item = page.locator(".consent-item").filter(has=phone)
    keys.press(item.locator("summary"))
    expect(item.locator("details")).to_have_attribute("open", "")
    keys.press(phone, "Space", back=True)  # the box comes before its details
    expect(phone).to_be_checked()
    keys.press(page.get_by_role("button", name=words.allow, exact=True))
    page.wait_for_url(f"{site.platform.redirect_uri}?**")
    assert "code" in site.answer_params(page)


def revoke_from_my_platforms(keys: Keyboard, words: Words) -> None:
    page = keys.page
    keys.press(page.get_by_role("link", name="Mobility ID", exact=True))
    expect(page.locator("nav.site-menu")).to_be_visible()  # signed in, on the home page
    keys.press(page.get_by_role("navigation").get_by_role("link", name=words.my_platforms))
    expect(heading(page)).to_have_text(words.my_platforms)
    keys.press(page.get_by_role("button", name=words.revoke, exact=True))
    expect(page.get_by_role("status")).to_contain_text(words.revoked)
    expect(page.get_by_text(words.none_left)).to_be_visible()


def see_and_download_my_data(keys: Keyboard, words: Words) -> None:
    page = keys.page
    keys.press(page.get_by_role("link", name=words.see_data, exact=True))
    expect(heading(page)).to_have_text(words.my_data)
    expect(page.locator("main")).to_contain_text(EMAIL)
    keys.tab_to(page.get_by_role("link", name=words.download))
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    data = json.loads(download.value.path().read_text(encoding="utf-8"))
    assert data["profile"]["email"] == EMAIL
    assert [c["event_type"] for c in data["consents"]] == ["given", "withdrawn"]
    keys.press(page.get_by_role("link", name=words.back))
    expect(heading(page)).to_have_text(words.my_platforms)


def delete_my_account(keys: Keyboard, words: Words) -> None:
    page = keys.page
    keys.press(page.get_by_role("link", name=words.delete, exact=True))
    expect(heading(page)).to_have_text(words.delete)
    keys.type_into(page.get_by_label(words.delete_password), PASSWORD)
    keys.press(page.get_by_role("button", name=words.delete_for_good))
    expect(page.get_by_role("status")).to_contain_text(words.deleted)
    expect(page.locator("nav.site-menu")).to_have_count(0)


def log_in_fails(keys: Keyboard, words: Words, site: LinkingPlatform) -> None:
    """The platform's login again: the account is gone, and the error summary takes the
    focus, its ring showing."""
    page = keys.page
    site.start_login(page, scope=SCOPE)
    keys.type_into(page.get_by_label(words.email), EMAIL)
    keys.type_into(page.get_by_label(words.password, exact=True), PASSWORD)
    keys.press(page.get_by_role("button", name=words.log_in, exact=True))
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("heading")).to_have_text(words.problem)
    focus = page.evaluate(FOCUS)
    assert focus is not None and focus["ring"]


def test_a_traveller_does_everything_with_the_keyboard(
    page: Page, language: str, live_server: LiveServer, national: LivePlatform,
    live_mailbox: Mailbox,  # noqa: F811
) -> None:
    words = WORDS[language]
    site = LinkingPlatform(national, live_server.url)
    keys = Keyboard(page, live_server.url)
    link = sign_up_from_the_platform(keys, words, site, live_mailbox)
    page.goto(link)
    confirm_and_allow(keys, words, site)
    revoke_from_my_platforms(keys, words)
    see_and_download_my_data(keys, words)
    delete_my_account(keys, words)
    log_in_fails(keys, words, site)
