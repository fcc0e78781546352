"""The automated accessibility checks whose results the accessibility statement shows
(idp/data/accessibility_audit.json): axe-core, a keyboard walk, a 320 px width and a
200 % zoom on every page state, in French and English, signed in with a 40-character
address.

The test fails when the file no longer says what the checks find, so the statement
cannot go stale; ``IDP_UPDATE_ACCESSIBILITY_AUDIT=1`` rewrites the file instead."""

from __future__ import annotations

import json
import os
from datetime import date
from typing import Any

from playwright.sync_api import Browser, Page, expect

from idp.helpdesk import AUDIT_FILE
from tests.browser_real.layout import axe_results, scrolls_sideways
from tests.live import LiveServer, LiveTraveller

# A 40-character address: the longest the pages must hold at 320 px without scrolling.
LONG_EMAIL = "marie-christine.delaporte@mobilite.fr.eu"
ANONYMOUS = {"home": "/", "login": "/login", "signup": "/signup",
             "forgot": "/password/forgot", "help": "/help", "legal": "/legal",
             "privacy": "/privacy", "accessibility": "/accessibility",
             "forgot-sms": "/password/forgot/sms", "advisor-login": "/advisor/login",
             "error": "/authorize?client_id=nobody&response_type=code&scope=openid"}
SIGNED_IN = {"home-signed-in": "/", "details": "/account", "travel": "/account/mobility",
             "platforms": "/account/platforms", "security": "/account/security",
             "sessions": "/account/sessions", "help-signed-in": "/help",
             "travel-home": "/account/mobility/home", "travel-car": "/account/mobility/car",
             "travel-health": "/account/mobility/health", "phone": "/account/phone",
             "helpers": "/account/helpers"}
# Every control Tab should stop on; a radio group is one stop (HTML's focus navigation).
TABBABLE = """() => {
  const groups = new Set();
  window.__tabbable = [...document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]')]
    .filter(e => e.tabIndex >= 0 && !e.disabled && e.checkVisibility({visibilityProperty: true}))
    .filter(e => {
      if (e.type !== 'radio') return true;
      if (groups.has(e.name)) return false;
      groups.add(e.name);
      return true;
    });
  return window.__tabbable.length;
}"""
# Where focus is: the index of its control (a radio counts as its group's first), -1 off it.
ACTIVE = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const target = e.type === 'radio' ? window.__tabbable.find(
    c => c.type === 'radio' && c.name === e.name) : e;
  return window.__tabbable.indexOf(target);
}"""

# A 1280×800 window zoomed to 200 %: 640×400 CSS pixels, each drawn with two device pixels
# (WCAG 1.4.4 and 1.4.10).
ZOOMED: dict[str, Any] = {"viewport": {"width": 640, "height": 400}, "device_scale_factor": 2}
# Text cut off: an element with text whose overflow is hidden and whose content is wider
# or taller than its box. Visually hidden text (1 px, clipped on purpose) is left aside.
CLIPPED = """() => [...document.body.querySelectorAll('*')].filter(e => {
  const style = getComputedStyle(e);
  if (!e.innerText || !e.innerText.trim() || e.clientWidth <= 1 || style.clip !== 'auto')
    return false;
  const hides = v => v === 'hidden' || v === 'clip';
  return (hides(style.overflowX) && e.scrollWidth > e.clientWidth)
    || (hides(style.overflowY) && e.scrollHeight > e.clientHeight);
}).map(e => 'cut off: ' + e.innerText.trim().slice(0, 40))"""
# The page's buttons drawn on top of one another.
OVERLAPPING = """() => {
  const boxes = [...document.querySelectorAll('main button, main .button')]
    .filter(e => e.checkVisibility()).map(e => [e, e.getBoundingClientRect()]);
  const found = [];
  boxes.forEach(([a, r], i) => boxes.slice(i + 1).forEach(([b, s]) => {
    if (r.left < s.right && s.left < r.right && r.top < s.bottom && s.top < r.bottom)
      found.push('overlap: ' + a.innerText.trim() + ' / ' + b.innerText.trim());
  }));
  return found;
}"""


def sign_in(page: Page, traveller: LiveTraveller) -> None:
    """By the fields' ids, which do not depend on the page's language."""
    page.goto("/login")
    page.locator("#email").fill(traveller.email)
    page.locator("#password").fill(traveller.password)
    page.locator("main button[type=submit]").last.click()
    expect(page.locator("nav.site-menu")).to_be_visible()


def keyboard_reaches_everything(page: Page) -> bool:
    """Tab from the top reaches every control and then leaves the page or comes round
    to the first: no trap (WCAG 2.1.2), nothing out of reach. A date field takes a stop
    per part (day, month, year), hence the presses to spare."""
    count = page.evaluate(TABBABLE)
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    seen: set[int] = set()
    for _ in range(3 * count + 5):
        page.keyboard.press("Tab")
        active = page.evaluate(ACTIVE)
        if active is None or (active == 0 and len(seen) > 1):
            return seen == set(range(count))
        seen.add(active)
    return False


def zoom_problems(page: Page, path: str) -> list[str]:
    """What goes wrong at 200 %: sideways scroll, text cut off, buttons overlapping."""
    page.goto(path)
    problems = ["scrolls sideways"] if scrolls_sideways(page) else []
    return problems + page.evaluate(CLIPPED) + page.evaluate(OVERLAPPING)


def check_state(page: Page, zoomed: Page, name: str, path: str,
                locale: str) -> dict[str, Any]:
    page.goto(path)
    results = axe_results(page)
    state = {"page": name, "path": path, "locale": locale,
             "violations": sum(len(v["nodes"]) for v in results["violations"]),
             "serious": [f"{v['id']} {n['target']}" for v in results["violations"]
                         if v["impact"] in ("serious", "critical") for n in v["nodes"]],
             "keyboard": keyboard_reaches_everything(page),
             "engine": results["testEngine"]["version"]}
    page.set_viewport_size({"width": 320, "height": 640})
    state["narrow"] = not scrolls_sideways(page)
    page.set_viewport_size({"width": 1280, "height": 800})
    state["zoom"] = zoom_problems(zoomed, path)
    return state


def walk(chromium: Browser, live_server: LiveServer, traveller: LiveTraveller,
         locale: str) -> list[dict[str, Any]]:
    contexts = [chromium.new_context(base_url=live_server.url, locale=locale, **options)
                for options in ({"viewport": {"width": 1280, "height": 800}}, ZOOMED)]
    page, zoomed = (context.new_page() for context in contexts)
    for context in contexts:
        context.set_default_timeout(10_000)
    try:
        states = [check_state(page, zoomed, name, path, locale[:2])
                  for name, path in ANONYMOUS.items()]
        sign_in(page, traveller)
        sign_in(zoomed, traveller)
        states += [check_state(page, zoomed, name, path, locale[:2])
                   for name, path in SIGNED_IN.items()]
    finally:
        for context in contexts:
            context.close()
    return states


def summary(states: list[dict[str, Any]]) -> dict[str, Any]:
    """What the statement shows: no dates or versions that change without the pages."""
    return {
        "tool": "axe-core", "tool_version": states[0]["engine"], "browser": "Chromium",
        "page_states": [{key: s[key] for key in ("page", "path", "locale", "violations")}
                        for s in states],
        "keyboard": {"pages": len(states), "traps": sum(not s["keyboard"] for s in states)},
        "narrow": {"scrolls_sideways": sum(not s["narrow"] for s in states)},
        "zoom": {"percent": 200, "pages_with_problems": sum(bool(s["zoom"]) for s in states)},
    }


def test_the_accessibility_statement_tells_what_the_checks_find(
        chromium: Browser, live_server: LiveServer) -> None:
    traveller = live_server.add_traveller(email=LONG_EMAIL, given_name="Marie-Christine",
                                          family_name="Delaporte")
    states = walk(chromium, live_server, traveller, "fr-FR")
    states += walk(chromium, live_server, traveller, "en-GB")
    found = summary(states)
    if os.environ.get("IDP_UPDATE_ACCESSIBILITY_AUDIT") == "1":
        found["checked_on"] = date.today().isoformat()
        AUDIT_FILE.write_text(json.dumps(found, indent=1, ensure_ascii=False) + "\n",
                              encoding="utf-8")
    written = json.loads(AUDIT_FILE.read_text(encoding="utf-8"))
    written.pop("checked_on", None)
    found.pop("checked_on", None)
    assert written == found, "the accessibility statement's figures are stale: run this " \
        "test with IDP_UPDATE_ACCESSIBILITY_AUDIT=1 and commit idp/data/accessibility_audit.json"
    # The project's own bar, beyond what the statement reports.
    assert [s["serious"] for s in states if s["serious"]] == []
    assert [s["page"] for s in states if not s["keyboard"]] == []
    assert [s["page"] for s in states if not s["narrow"]] == []
    assert [(s["page"], s["locale"], s["zoom"]) for s in states if s["zoom"]] == []
