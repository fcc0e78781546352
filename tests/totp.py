"""A traveller's authenticator app in tests: read the key from the enrolment page, as a
person types it into an app, and compute codes with pyotp at the (frozen) time."""

from __future__ import annotations

import re
import time
from html import unescape

import pyotp
from time_machine import TimeMachineFixture

from tests.browser import Browser

KEY = re.compile(r'<code class="key" id="totp-key">([A-Z2-7 ]+)</code>')
RECOVERY_CODE = re.compile(r"<li><code>([a-z2-7]{4}(?:-[a-z2-7]{4}){3})</code></li>")
STEP = 30


def freeze_at_step_start(time_machine: TimeMachineFixture) -> None:
    """Stop the clock a few seconds into a 30-second step, so a test knows which step
    each code belongs to."""
    time_machine.move_to((int(time.time()) // STEP + 1) * STEP + 5, tick=False)


def read_key(html: str) -> str:
    match = KEY.search(html)
    assert match, "the page shows no key"
    return unescape(match.group(1)).replace(" ", "")


def code_at(key: str, offset: float = 0) -> str:
    """The app's code ``offset`` seconds from now."""
    return pyotp.TOTP(key).at(time.time() + offset)


def enrol(browser: Browser) -> tuple[str, list[str]]:
    """Turn two-step verification on from the enrolment page; the key and the recovery
    codes shown. The code typed uses up the current step."""
    page = browser.get("/account/two-step")
    assert page.status_code == 200, page.location
    key = read_key(page.get_data(as_text=True))
    page = browser.submit("/account/two-step", {"code": code_at(key)})
    assert page.status_code == 200
    codes = RECOVERY_CODE.findall(page.get_data(as_text=True))
    assert len(codes) == 10
    return key, codes


def start_login(browser: Browser, email: str, password: str, url: str = "/login") -> str:
    """Type the password; the code page it leads to."""
    browser.get(url)
    response = browser.submit(url, {"email": email, "password": password})
    assert response.status_code == 302
    assert response.location.startswith("/login/code"), response.location
    browser.get(response.location)
    return response.location
