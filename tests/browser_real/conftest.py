"""A traveller's real browser: Debian's chromium driven by Playwright, against the live
provider of tests/live.py, on each database backend.

One chromium per test session (starting it is the slow part), a fresh context per test,
so no cookie or storage leaks from one story to the next. Every test in this folder is
marked ``browser``. The platform's callback sits on a loopback port where nothing listens:
the browser never reaches it, chromium itself answers it (see ``PlatformSite.watch``)."""

from __future__ import annotations

import base64
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, BrowserContext, CDPSession, Page, sync_playwright

from tests.browser import AuthorizationRequest, query_of
from tests.live import (
    HOST,
    LivePlatform,
    LiveServer,
    LiveTraveller,
    live_server,  # noqa: F401  (a fixture)
)

HERE = Path(__file__).parent
# Debian's build, installed by `make browser`: Playwright never downloads a browser here.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where chromium's sandbox refuses to start
    "--disable-gpu",
    # No network but loopback: without these chromium keeps dialling Google's services.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 5_000  # a local page answers in milliseconds; fail fast, not after 30 s


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        reason = f"no chromium at {CHROMIUM}: run `make browser` as root"
        if os.environ.get("CI"):
            pytest.fail(reason)  # CI is root on Debian: a skip there would hide a break
        pytest.skip(reason)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def new_context(chromium: Browser, live_server: LiveServer,
                java_script_enabled: bool = True) -> BrowserContext:
    """A browser profile of its own: no cookies, English pages, short timeouts."""
    context = chromium.new_context(base_url=live_server.url, locale="en-GB",
                                   java_script_enabled=java_script_enabled)
    context.set_default_timeout(TIMEOUT_MS)
    return context


@pytest.fixture
def context(chromium: Browser, live_server: LiveServer) -> Iterator[BrowserContext]:
    context = new_context(chromium, live_server)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def traveller(live_server: LiveServer) -> LiveTraveller:
    return live_server.add_traveller(given_name="Awa", family_name="Diallo",
                                     phone_number="+33 6 12 34 56 78")


@pytest.fixture
def callback_origin() -> Iterator[str]:
    """A loopback origin where nothing listens: the port is bound, never listened on, so
    no other process can take it while the test runs."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        yield f"http://{HOST}:{sock.getsockname()[1]}"


@pytest.fixture
def carpool(live_server: LiveServer, callback_origin: str) -> LivePlatform:
    return live_server.add_platform(name="Carpool Lyon",
                                    redirect_uri=f"{callback_origin}/auth/callback")


CALLBACK_PAGE = base64.b64encode(
    b'<!doctype html><html lang="en"><title>Carpool Lyon</title>'
    b"<h1>Back on Carpool Lyon</h1></html>").decode()


@dataclass
class PlatformSite:
    """The platform as the browser sees it: a callback page that answers whatever comes
    back, and remembers the URLs it was sent to."""

    platform: LivePlatform
    provider: str
    arrivals: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        """Answer the callback inside chromium. ``page.route`` cannot: Playwright routes
        only the first request of a redirect chain, and the provider's answer is a 302.
        Chromium's Fetch domain pauses every request to the pattern, redirected or not."""
        cdp = page.context.new_cdp_session(page)
        cdp.on("Fetch.requestPaused", lambda event: self.answer(cdp, event))
        cdp.send("Fetch.enable", {"patterns": [{"urlPattern": f"{self.platform.redirect_uri}*"}]})

    def answer(self, cdp: CDPSession, event: dict[str, Any]) -> None:
        self.arrivals.append(event["request"]["url"])
        cdp.send("Fetch.fulfillRequest", {
            "requestId": event["requestId"], "responseCode": 200, "body": CALLBACK_PAGE,
            "responseHeaders": [{"name": "Content-Type", "value": "text/html; charset=utf-8"}],
        })

    def authorization_url(self, request: AuthorizationRequest) -> str:
        return f"{self.provider}/authorize?{urlencode(request.params())}"

    def start_login(self, page: Page, scope: str = "openid profile email") -> AuthorizationRequest:
        """The traveller clicks "Log in with Mobility ID" on the platform."""
        request = AuthorizationRequest(self.platform.client_id, self.platform.redirect_uri,
                                       scope=scope)
        self.watch(page)
        page.goto(self.authorization_url(request))
        return request

    def answer_params(self, page: Page) -> dict[str, str]:
        """The parameters the provider sent back, read from the URL the browser is on."""
        assert page.url.startswith(self.platform.redirect_uri + "?"), page.url
        assert self.arrivals == [page.url]
        return query_of(page.url)


@pytest.fixture
def carpool_site(carpool: LivePlatform, live_server: LiveServer) -> PlatformSite:
    return PlatformSite(carpool, live_server.url)
