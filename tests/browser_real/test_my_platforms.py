"""The traveller decides and the platform feels it, in a real browser: allow a platform
with an optional scope left unticked, and its userinfo lacks that claim; revoke it from
"My platforms", and its tokens stop working at once. Both screens are walked with the Tab
key: every control is reached in order, shows where focus is, and has an accessible name
as chromium computes it for assistive technology; axe-core finds nothing serious.

The platform's backend is played over plain HTTP with requests, as its OpenID Connect
library would: discovery, the token endpoint with PKCE and client_secret_basic, userinfo."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet
from playwright.sync_api import CDPSession, Locator, Page, expect

from tests.browser import AuthorizationRequest
from tests.browser_real.conftest import PlatformSite
from tests.browser_real.layout import scrolls_sideways, settled
from tests.browser_real.test_login_and_consent import (
    log_in,
    outline_of,
    serious_violations,
    tab_to,
)
from tests.consent.test_consent_screen import POLICY
from tests.live import LivePlatform, LiveServer, LiveTraveller

NAME = "Carpool Lyon"
CONSENT_HEADING = f"Share with {NAME}?"
# Email required, phone optional (POLICY); offline_access so that a refresh token exists.
REGISTERED = "openid email phone offline_access"
# The accessible description of each box on the consent screen: the scope's purpose, then
# the platform's own reason when it gave one. Email, required, has no box (issue 12, item 5).
PURPOSES = {
    "Your email address": "To write to you, for example to confirm a trip. "
                          f"{NAME} says: “We send your booking confirmation.”",
    "Your phone number": "To call you or send you a text, for example on the day of a trip. "
                         f"{NAME} says: “The driver can call you.”",
    "Use your information later": "The platform can read what you share here later, even "
                                  "when you are not on its site. This lasts until you "
                                  "withdraw your agreement.",
}
EMAIL, PHONE, OFFLINE = PURPOSES


@pytest.fixture
def carpool(live_server: LiveServer, callback_origin: str) -> LivePlatform:
    """Overrides conftest's platform: one that says which of its scopes are required."""
    return live_server.add_platform(name=NAME, redirect_uri=f"{callback_origin}/auth/callback",
                                    scope=REGISTERED, scope_policy=POLICY)


class PlatformBackend:
    """The platform's server, talking to the provider over HTTP with its credentials."""

    def __init__(self, provider: str, platform: LivePlatform) -> None:
        self.platform = platform
        self.http = requests.Session()
        self.config = self.http.get(f"{provider}/.well-known/openid-configuration",
                                    timeout=10).json()

    def credentials(self) -> dict[str, str]:
        """client_secret_basic: each part form-encoded, then base64 (RFC 6749 2.3.1)."""
        raw = f"{quote(self.platform.client_id, safe='')}:" \
              f"{quote(self.platform.client_secret, safe='')}"
        return {"Authorization": "Basic " + base64.b64encode(raw.encode()).decode()}

    def redeem(self, code: str, request: AuthorizationRequest) -> requests.Response:
        return self.http.post(self.config["token_endpoint"], headers=self.credentials(), data={
            "grant_type": "authorization_code", "code": code,
            "redirect_uri": self.platform.redirect_uri, "code_verifier": request.verifier,
        }, timeout=10)

    def refresh(self, refresh_token: str) -> requests.Response:
        return self.http.post(self.config["token_endpoint"], headers=self.credentials(), data={
            "grant_type": "refresh_token", "refresh_token": refresh_token}, timeout=10)

    def userinfo(self, access_token: str) -> requests.Response:
        return self.http.get(self.config["userinfo_endpoint"], timeout=10,
                             headers={"Authorization": f"Bearer {access_token}"})

    def id_token_claims(self, id_token: str) -> dict[str, Any]:
        keys = KeySet.import_key_set(self.http.get(self.config["jwks_uri"], timeout=10).json())
        return dict(jwt.decode(id_token, keys, algorithms=["RS256", "ES256"]).claims)


@pytest.fixture
def backend(live_server: LiveServer, carpool: LivePlatform) -> Iterator[PlatformBackend]:
    backend = PlatformBackend(live_server.url, carpool)
    yield backend
    backend.http.close()


def heading(page: Page) -> Locator:
    return page.get_by_role("heading", level=1)


def consent_box(page: Page, title: str) -> Locator:
    """A box on the consent screen, by the start of its label (the rest previews values)."""
    return page.get_by_role("checkbox", name=re.compile("^" + re.escape(title)))


def allow_without_phone(page: Page, site: PlatformSite,
                        traveller: LiveTraveller) -> tuple[AuthorizationRequest, str]:
    """From the platform's login button to its callback: phone left unticked, staying
    connected ticked, Allow pressed, all with the keyboard. Returns the request and code."""
    request = site.start_login(page, scope=REGISTERED)
    log_in(page, traveller)
    expect(heading(page)).to_have_text(CONSENT_HEADING)

    # Email is required: no box to untick by mistake, it says it is always shared.
    expect(consent_box(page, EMAIL)).to_have_count(0)
    expect(page.get_by_text("Always shared, because: We send your booking confirmation.")) \
        .to_be_visible()
    phone, offline = (consent_box(page, title) for title in (PHONE, OFFLINE))
    # The details show the traveller's own number, in full.
    phone_item = page.locator(".consent-item").filter(has=phone)
    tab_to(page, phone_item.locator("summary"))
    page.keyboard.press("Enter")
    expect(phone_item.locator("details")).to_contain_text("+33 6 12 34 56 78")
    expect(phone).not_to_be_checked()  # optional, so never ticked in advance
    expect(offline).not_to_be_checked()

    tab_to(page, offline)
    page.keyboard.press("Space")
    expect(offline).to_be_checked()
    allow = page.get_by_role("button", name="Allow")
    tab_to(page, allow)
    assert outline_of(allow) != "none", "the focused Allow shows no focus outline"
    expect(phone).not_to_be_checked()  # walked past, not ticked
    page.keyboard.press("Enter")

    page.wait_for_url(f"{site.platform.redirect_uri}?**")
    params = site.answer_params(page)
    assert params["state"] == request.state
    assert params["iss"] == site.provider
    return request, params["code"]


def test_an_unticked_optional_scope_never_reaches_the_platform(
    page: Page, carpool_site: PlatformSite, traveller: LiveTraveller, backend: PlatformBackend,
    live_server: LiveServer,
) -> None:
    request, code = allow_without_phone(page, carpool_site, traveller)

    response = backend.redeem(code, request)
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["token_type"].lower() == "bearer"
    assert set(tokens["scope"].split()) == {"openid", "email", "offline_access"}
    assert tokens["access_token"] and tokens["refresh_token"]

    id_token = backend.id_token_claims(tokens["id_token"])
    assert id_token["sub"] == live_server.subject_for(
        traveller, carpool_site.platform.client_id) and id_token["nonce"] == request.nonce
    assert "phone_number" not in id_token

    claims = backend.userinfo(tokens["access_token"])
    assert claims.status_code == 200, claims.text
    info = claims.json()
    assert info["sub"] == id_token["sub"]
    assert info["email"] == traveller.email
    assert "phone_number" not in info and "phone_number_verified" not in info


def open_my_platforms(page: Page) -> None:
    """From the home page, by its link, as a traveller follows it (the menu has one too)."""
    page.goto("/")
    page.get_by_role("main").get_by_role("link", name="My platforms").click()
    expect(heading(page)).to_have_text("My platforms")


def test_revoking_from_my_platforms_ends_the_platform_s_access_at_once(
    page: Page, carpool_site: PlatformSite, traveller: LiveTraveller, backend: PlatformBackend,
) -> None:
    request, code = allow_without_phone(page, carpool_site, traveller)
    tokens = backend.redeem(code, request).json()
    assert backend.userinfo(tokens["access_token"]).status_code == 200

    open_my_platforms(page)
    card = page.get_by_role("region", name=NAME)
    expect(card.get_by_role("heading", level=3)).to_have_text("What it can see")
    expect(card.get_by_role("listitem")).to_have_text([
        "That it is you (a number, not your name)", EMAIL, re.compile("^" + OFFLINE)])
    expect(card).not_to_contain_text(PHONE)
    # Only the optional scope can be stopped alone; the required one goes with the platform.
    expect(card.get_by_role("button", name=re.compile("^Stop sharing this"))).to_have_count(1)
    expect(card.get_by_role("button", name=f"Stop sharing this ({OFFLINE}, {NAME})")) \
        .to_be_visible()

    revoke = card.get_by_role("button", name=f"Stop sharing with {NAME}")
    tab_to(page, revoke)
    assert outline_of(revoke) != "none", "the focused Revoke shows no focus outline"
    page.keyboard.press("Enter")

    expect(page.get_by_role("status")).to_have_text(
        f"Done. {NAME} can no longer see your information.")
    expect(page.get_by_role("region", name=NAME)).to_have_count(0)
    expect(page.get_by_text("No platform can see your information.")).to_be_visible()
    expect(page.get_by_role("listitem").filter(
        has_text=f"You stopped sharing with a platform ({NAME})")).to_have_count(1)

    refreshed = backend.refresh(tokens["refresh_token"])
    assert refreshed.status_code == 400, refreshed.text
    assert refreshed.json()["error"] == "invalid_grant"
    assert backend.userinfo(tokens["access_token"]).status_code == 401


# --- Keyboard and accessible names -------------------------------------------------------

FOCUSABLE = """() => {
  const selector = 'a[href], button, input:not([type=hidden]), select, textarea, summary, '
                 + 'iframe, [contenteditable], [tabindex]';
  window.__focusable = [...document.querySelectorAll(selector)].filter(element =>
    element.tabIndex >= 0 && !element.disabled
    && element.checkVisibility({visibilityProperty: true}));
  return window.__focusable.length;
}"""
FOCUSED = """() => {
  const element = document.activeElement;
  if (!element || element === document.body) return null;
  const box = element.getBoundingClientRect();
  return {
    index: window.__focusable.indexOf(element),
    html: element.outerHTML.slice(0, 120),
    shown: box.width >= 1 && box.height >= 1 && box.bottom > 0 && box.right > 0
           && box.top < innerHeight && box.left < innerWidth,
    outline: getComputedStyle(element).outlineStyle,
    described: (element.getAttribute('aria-describedby') || '').split(/\\s+/).filter(Boolean)
      .map(id => document.getElementById(id)?.textContent.trim() || ''),
  };
}"""
NAMELESS_ROLES = {"", "generic", "none", "presentation", "StaticText"}


@dataclass
class Stop:
    """Where one press of Tab put the focus, and what assistive technology is told."""

    index: int
    html: str
    shown: bool
    outline: str
    described: list[str]  # the text of each element aria-describedby points to
    role: str
    name: str
    description: str

    def __str__(self) -> str:
        return f"#{self.index} {self.role} {self.name!r} ({self.html})"


def accessible_node(cdp: CDPSession) -> dict[str, Any]:
    """Chromium's accessibility node for the focused element: the role, name and
    description a screen reader would announce."""
    element = cdp.send("Runtime.evaluate", {"expression": "document.activeElement"})["result"]
    try:
        nodes = cdp.send("Accessibility.getPartialAXTree",
                         {"objectId": element["objectId"], "fetchRelatives": False})["nodes"]
    finally:
        cdp.send("Runtime.releaseObject", {"objectId": element["objectId"]})
    return next(n for n in nodes if not n.get("ignored"))


def value_of(node: dict[str, Any], key: str) -> str:
    return str(node.get(key, {}).get("value", "")).strip()


def walk_with_tab(page: Page) -> list[Stop]:
    """Press Tab from the top of the page until focus leaves its last control; every
    stop with chromium's computed role, name and description."""
    count = settled(page).evaluate(FOCUSABLE)  # outlines come from the stylesheet
    assert count, "nothing on the page can take the focus"
    cdp = page.context.new_cdp_session(page)
    stops: list[Stop] = []
    try:
        for _ in range(count + 2):
            page.keyboard.press("Tab")
            focused = page.evaluate(FOCUSED)
            if focused is None or (stops and focused["index"] == stops[0].index):
                break  # back to the document, or round to the first control again
            node = accessible_node(cdp)
            stops.append(Stop(role=value_of(node, "role"), name=value_of(node, "name"),
                              description=value_of(node, "description"), **focused))
    finally:
        cdp.detach()
    assert [s.index for s in stops] == list(range(count)), \
        "Tab does not reach every control once, in reading order:\n" + \
        "\n".join(map(str, stops))
    return stops


def keyboard_problems(page_name: str, stops: list[Stop]) -> list[str]:
    problems = []
    for stop in stops:
        if not stop.name:
            problems.append(f"{page_name}: no accessible name: {stop}")
        if stop.role in NAMELESS_ROLES:
            problems.append(f"{page_name}: focusable without a role: {stop}")
        if not stop.shown:
            problems.append(f"{page_name}: focused but not on screen: {stop}")
        if stop.outline == "none":
            problems.append(f"{page_name}: no focus outline: {stop}")
    return problems


def description_problems(boxes: list[Stop]) -> list[str]:
    """Every box on the consent screen says what it is for: its purpose, as the
    accessible description, through aria-describedby."""
    problems = []
    for box in boxes:
        if not box.described:
            problems.append(f"consent: checkbox without aria-describedby: {box}")
        elif not all(box.described):
            problems.append(f"consent: aria-describedby points to nothing: {box}")
        if not box.description:
            problems.append(f"consent: checkbox without a description: {box}")
    return problems


def test_consent_screen_and_my_platforms_work_by_keyboard_with_named_controls(
    page: Page, live_server: LiveServer, callback_origin: str, traveller: LiveTraveller,
    tmp_path: Path,
) -> None:
    # This platform also asks for profile, whose claims are ticked one by one: the screen
    # then has both kinds of box.
    wide = live_server.add_platform(
        name=NAME, redirect_uri=f"{callback_origin}/auth/callback",
        scope=f"{REGISTERED} profile", scope_policy=POLICY)
    site = PlatformSite(wide, live_server.url)
    site.start_login(page, scope=f"{REGISTERED} profile")
    log_in(page, traveller)
    expect(heading(page)).to_have_text(CONSENT_HEADING)

    stops = walk_with_tab(page)
    names = [s.name for s in stops]
    for control in ("Allow", "Deny", f"{NAME}'s privacy policy"):
        assert control in names, names
    boxes = [s for s in stops if s.role == "checkbox"]
    # Two optional scopes and five profile claims; the required email has no box.
    assert len(boxes) == 7, [s.name for s in boxes]
    problems = keyboard_problems("consent", stops) + description_problems(boxes)
    problems += serious_violations(page, tmp_path, "consent-wide")
    assert problems == [], "\n".join(problems)
    # Each box is described by the purpose shown beside it, the platform's reason included.
    for title in (PHONE, OFFLINE):
        expect(consent_box(page, title)).to_have_accessible_description(PURPOSES[title])

    # Allow with one claim and one scope ticked, so My platforms has each kind of button.
    for box in (page.get_by_role("checkbox", name="First name"), consent_box(page, OFFLINE)):
        tab_to(page, box)
        page.keyboard.press("Space")
    tab_to(page, page.get_by_role("button", name="Allow"))
    page.keyboard.press("Enter")
    page.wait_for_url(f"{wide.redirect_uri}?**")

    open_my_platforms(page)
    stops = walk_with_tab(page)
    names = [s.name for s in stops]
    assert f"Stop sharing with {NAME}" in names, names
    assert f"Stop sharing this ({OFFLINE}, {NAME})" in names, names
    problems = keyboard_problems("my platforms", stops)
    problems += serious_violations(page, tmp_path, "my-platforms")
    assert problems == [], "\n".join(problems)


# --- What a traveller sees ------------------------------------------------------------------

@pytest.mark.parametrize("width", [1280, 360])
def test_screenshots_of_the_consent_screen_and_my_platforms(
    page: Page, carpool_site: PlatformSite, traveller: LiveTraveller, tmp_path: Path,
    width: int,
) -> None:
    """Full-page pictures for a person to look at: the consent screen asking for two
    scopes, then My platforms once both are shared."""
    page.set_viewport_size({"width": width, "height": 800})
    carpool_site.start_login(page, scope="openid email phone")
    log_in(page, traveller)
    expect(heading(page)).to_have_text(CONSENT_HEADING)
    expect(page.get_by_role("checkbox")).to_have_count(1)  # phone; email is required
    consent = tmp_path / f"consent-two-scopes-{width}.png"
    page.screenshot(path=consent, full_page=True)

    consent_box(page, PHONE).check()
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{carpool_site.platform.redirect_uri}?**")
    open_my_platforms(page)
    expect(page.get_by_role("region", name=NAME)).to_be_visible()
    platforms = tmp_path / f"my-platforms-{width}.png"
    page.screenshot(path=platforms, full_page=True)

    for shot in (consent, platforms):
        assert shot.stat().st_size > 10_000, f"{shot.name} looks empty"
    assert not scrolls_sideways(page), "My platforms scrolls sideways"
