"""Browsers on other devices for the session tests: each its own test client, with its
own User-Agent and address, and the rows and messages the provider keeps about them."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask
from joserfc import jws

from idp.accounts.models import BrowserSession
from idp.extensions import db
from idp.outbox import OutboxMessage
from tests.browser import Browser

FIREFOX_WINDOWS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) "
                   "Gecko/20100101 Firefox/128.0")
CHROME_ANDROID = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
                  "(KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36")
SAFARI_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
                 "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")
BACKCHANNEL = "https://carpool.example/backchannel"


def open_browser(app: Flask, address: str, user_agent: str) -> Browser:
    """A browser on another device (the ``client`` fixture must have set the client class)."""
    client = app.test_client()
    client.environ_base.update(REMOTE_ADDR=address, HTTP_USER_AGENT=user_agent)
    return Browser(client)


def sessions() -> list[BrowserSession]:
    db.session.expire_all()
    return list(db.session.scalars(db.select(BrowserSession).order_by(BrowserSession.id)))


def session_of(user_agent: str) -> BrowserSession:
    (login,) = [s for s in sessions() if s.user_agent == user_agent]
    return login


def messages() -> list[OutboxMessage]:
    db.session.expire_all()
    return list(db.session.scalars(db.select(OutboxMessage).order_by(OutboxMessage.id)))


def logout_claims(message: OutboxMessage) -> dict[str, Any]:
    """The claims of a queued logout token (our own token, read back from our table)."""
    assert message.payload is not None
    claims: dict[str, Any] = json.loads(jws.extract_compact(message.payload.encode()).payload)
    return claims


def is_logged_in(browser: Browser) -> bool:
    response = browser.get("/account")
    if response.status_code == 200:
        return True
    assert response.status_code == 302 and response.location.startswith("/login")
    return False
