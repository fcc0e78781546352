"""The provider live over real HTTP, for end-to-end tests in which independent client
libraries talk to it as they would in production.

A werkzeug server runs in a daemon thread on a loopback port the system picked. The
issuer is that loopback ``http`` address (the provider accepts http only there), and there
is no ``SERVER_NAME``: URLs are built from the Host each real request carries."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from itertools import count
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from idp import create_app
from idp.accounts.models import User
from idp.extensions import db
from idp.oauth.claims import subject_for
from idp.oauth.models import Client
from tests import factories
from tests.browser import CHECKBOX, csrf_token, form_action
from tests.conftest import _empty_tables, share_templates, test_settings

HOST = "127.0.0.1"
# Platforms' callbacks sit under this path of the server's origin, where the provider has
# no route; a browser arriving there has left the provider.
PLATFORMS_PATH = "/platforms/"


@dataclass(frozen=True)
class LiveTraveller:
    """What the test knows of a traveller once the server owns the database."""

    email: str
    password: str
    subject: str


@dataclass(frozen=True)
class LivePlatform:
    """A confidential platform's registration, as its operator would configure a library."""

    client_id: str
    client_secret: str
    redirect_uri: str
    name: str


class QuietRequestHandler(WSGIRequestHandler):
    """Access lines would show codes and states from redirect URLs: leave them out.
    Errors are still logged, with their traceback."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None

    def setup(self) -> None:
        super().setup()
        self.rfile = ResetTolerantReader(self.rfile)  # type: ignore[assignment]


class ResetTolerantReader:
    """After the response, werkzeug's server drains the socket before it closes the
    response; a browser that reset the connection (chromium does after a redirect) makes
    that read raise, and the response's close callbacks never run: a mail or SMS sent
    after the response (send_mail_later) was lost. gunicorn, the production server,
    closes the response in any case; so does this test server now."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def read(self, size: int = -1) -> bytes:
        try:
            return bytes(self.raw.read(size))
        except ConnectionError:
            return b""

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


class LiveServer:
    """The running provider, its URL, and a way to register travellers and platforms in
    its database, each in its own application context as an operator's command would."""

    def __init__(self, app: Flask, url: str) -> None:
        self.app = app
        self.url = url
        self._platforms = count(1)

    def add_traveller(self, **overrides: Any) -> LiveTraveller:
        with self.app.app_context():
            traveller = factories.make_user(**overrides)
            live = LiveTraveller(traveller.email, traveller.password, traveller.model.subject)
            db.session.remove()
        return live

    def subject_for(self, traveller: LiveTraveller, client_id: str) -> str:
        """The `sub` this platform receives for this traveller (pairwise by default)."""
        with self.app.app_context():
            user = db.session.scalar(db.select(User).where(User.subject == traveller.subject))
            client = db.session.scalar(db.select(Client).where(Client.client_id == client_id))
            assert user is not None and client is not None
            sub = subject_for(user, client)
            db.session.remove()
        return sub

    def add_platform(self, **overrides: Any) -> LivePlatform:
        # Never fetched: the test reads the Location header that points to it.
        overrides.setdefault("redirect_uri",
                             f"{self.url}{PLATFORMS_PATH}{next(self._platforms)}/cb")
        with self.app.app_context():
            platform = factories.make_platform(**overrides)
            assert platform.secret is not None, "live platforms are confidential"
            live = LivePlatform(platform.client_id, platform.secret, platform.redirect_uri,
                                platform.model.client_name)
            db.session.remove()
        return live


class HttpBrowser:
    """A traveller's browser over real HTTP. It keeps cookies, fills forms with the CSRF
    token the page gave it and a same-origin Referer, follows the provider's redirects,
    and stops at the first one that leads to a platform."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.session = requests.Session()
        self.page: requests.Response | None = None

    def get(self, url: str) -> requests.Response:
        self.page = self.follow(self.session.get(url, allow_redirects=False, timeout=10))
        return self.page

    def submit(self, data: dict[str, Any]) -> requests.Response:
        """Post the form of the current page to its action, as the page's button would."""
        assert self.page is not None, "no page is open"
        html = self.page.text
        action = urljoin(self.page.url, form_action(html, self.page.url))
        response = self.session.post(
            action, data={"csrf_token": csrf_token(html), **data},
            headers={"Referer": self.page.url}, allow_redirects=False, timeout=10,
        )
        self.page = self.follow(response)
        return self.page

    def allow_all(self) -> requests.Response:
        """Allow on the consent screen, ticking every box it offers."""
        assert self.page is not None, "no page is open"
        data: dict[str, Any] = {"decision": "allow"}
        for name, value in CHECKBOX.findall(self.page.text):
            data.setdefault(name, []).append(unescape(value))
        return self.submit(data)

    def follow(self, response: requests.Response) -> requests.Response:
        while response.is_redirect and self.is_provider(response.headers["Location"]):
            location = urljoin(response.url, response.headers["Location"])
            response = self.session.get(location, allow_redirects=False, timeout=10)
        return response

    def is_provider(self, location: str) -> bool:
        url = urlsplit(urljoin(self.provider + "/", location))
        origin = f"{url.scheme}://{url.netloc}"
        return origin == self.provider and not url.path.startswith(PLATFORMS_PATH)

    def close(self) -> None:
        self.session.close()


def serve(app: Flask, sock: socket.socket) -> tuple[BaseWSGIServer, threading.Thread]:
    server = make_server(HOST, sock.getsockname()[1], app, threaded=True,
                         request_handler=QuietRequestHandler, fd=sock.fileno())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="live-idp", daemon=True)
    thread.start()
    return server, thread


@pytest.fixture
def live_server(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """A provider per test, on each database backend; its tables are emptied afterwards."""
    # The listening socket is bound before the app is built, so the issuer names a port
    # that is already ours: no window in which another process could take it.
    with socket.create_server((HOST, 0)) as sock:
        url = f"http://{HOST}:{sock.getsockname()[1]}"
        app = share_templates(create_app(settings=test_settings(database_url, issuer=url)))
        app.instance_path = str(tmp_path)
        server, thread = serve(app, sock)  # the server keeps its own copy of the socket
    try:
        yield LiveServer(app, url)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        with app.app_context():
            db.session.remove()
            _empty_tables()
            db.engine.dispose()
