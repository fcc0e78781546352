"""A name a traveller recognises for the browser of a session ("Firefox on Windows"),
made from its User-Agent with ua-parser. Computed when shown, never stored: the raw
User-Agent stays the only record."""

from __future__ import annotations

from functools import lru_cache

from flask_babel import gettext as _
from ua_parser import parse

# ua-parser's families, shortened to the names people use.
BROWSERS = {
    "Chrome Mobile": "Chrome",
    "Chrome Mobile iOS": "Chrome",
    "Chrome Mobile WebView": "Chrome",
    "Firefox Mobile": "Firefox",
    "Firefox iOS": "Firefox",
    "Mobile Safari": "Safari",
    "Mobile Safari UI/WKWebView": "Safari",
    "Edge Mobile": "Edge",
    "Samsung Internet": "Samsung Internet",
}
SYSTEMS = {"Mac OS X": "macOS", "Other": ""}


@lru_cache(maxsize=256)
def parse_families(user_agent: str) -> tuple[str, str]:
    """The browser and system families, "" when unknown; cached, as parsing is slow."""
    result = parse(user_agent[:512])
    browser = result.user_agent.family if result.user_agent else ""
    system = result.os.family if result.os else ""
    browser = "" if browser == "Other" else BROWSERS.get(browser, browser)
    return browser, SYSTEMS.get(system, system)


def device_name(user_agent: str | None) -> str:
    """"Firefox on Windows", "Chrome", "A browser on Android" or "Unknown device"."""
    browser, system = parse_families(user_agent or "")
    if browser and system:
        return _("%(browser)s on %(system)s", browser=browser, system=system)
    if browser:
        return browser
    if system:
        return _("A browser on %(system)s", system=system)
    return _("Unknown device")
