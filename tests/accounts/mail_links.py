"""Reading the links the provider mails, and following them as a traveller would."""

from __future__ import annotations

from flask import Flask
from werkzeug.test import TestResponse

from tests.browser import ISSUER, Browser
from tests.mail import Mailbox


def link_to(mailbox: Mailbox, address: str) -> str:
    """The path of the one link in the last message to ``address``."""
    (link,) = mailbox.links(mailbox.last(address))
    assert link.startswith(ISSUER + "/")
    return link.removeprefix(ISSUER)


def follow(browser: Browser, path: str, data: dict[str, str] | None = None) -> TestResponse:
    """Open the link; when it offers a form, send it (with ``data``)."""
    page = browser.get(path)
    if page.status_code != 200:
        return page
    return browser.submit(path, data or {})


def another_browser(app: Flask) -> Browser:
    """A second device: its own cookies (the ``client`` fixture set the client class)."""
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"  # pages and mail whose words tests read
    return Browser(client)


def tampered(token: str) -> str:
    """The token with the first character of its signature changed (the last one may
    carry only padding bits, so changing it may change nothing)."""
    payload, _, signature = token.rpartition(".")
    changed = ("A" if signature[0] != "A" else "B") + signature[1:]
    return f"{payload}.{changed}"
