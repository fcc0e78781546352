"""The layout reads of tests/browser_real/layout.py wait for the stylesheet: a page read
before its stylesheet arrives is the unstyled page (CI measured Allow at 48×21 so)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Browser, Page

from tests.browser_real.layout import box_of, scrolls_sideways
from tests.live import HOST

STYLESHEET_DELAY = 1.5  # seconds: far longer than a layout read takes
PAGE = (b'<!doctype html><html lang="en"><head><title>Slow</title>'
        b'<link rel="stylesheet" href="/slow.css"></head>'
        b'<body><main><button>Allow</button><p class="wide">x</p></main></body></html>')
STYLES = b"button { width: 200px; } .wide { width: 5000px; }"


class SlowStylesheet(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802  (the standard library's name)
        if self.path == "/slow.css":
            time.sleep(STYLESHEET_DELAY)
            body, kind = STYLES, "text/css"
        else:
            body, kind = PAGE, "text/html"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def slow_site() -> Iterator[str]:
    server = ThreadingHTTPServer((HOST, 0), SlowStylesheet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def open_unstyled(chromium: Browser, url: str) -> Page:
    """The page as a click leaves it: its text is there, its stylesheet on its way."""
    page = chromium.new_context().new_page()
    page.goto(url, wait_until="domcontentloaded")
    return page


def test_a_box_is_measured_once_the_stylesheet_applies(chromium: Browser,
                                                       slow_site: str) -> None:
    page = open_unstyled(chromium, slow_site)
    try:
        early = page.get_by_role("button").bounding_box()
        assert early is not None and early["width"] < 200, "the hazard did not show"
        box = box_of(page.get_by_role("button"))
        assert box is not None and box["width"] == 200
    finally:
        page.context.close()


def test_sideways_scrolling_is_read_once_the_stylesheet_applies(chromium: Browser,
                                                                slow_site: str) -> None:
    page = open_unstyled(chromium, slow_site)
    try:
        assert scrolls_sideways(page)  # only the stylesheet makes the page 5,000 px wide
    finally:
        page.context.close()
