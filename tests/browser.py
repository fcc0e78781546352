"""A traveller's browser on the Flask test client: it fills forms as a person would,
with the CSRF token the page gave it, and follows the provider's own redirects."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

# A box the traveller may tick (a scope, a claim, a delegation's own box: issue 14), or
# the answer a required item always carries (a hidden field: issue 12, item 5).
CHECKBOX = re.compile(
    r'<input type="(?:checkbox|hidden)" name="(scope|claim|delegation)" value="([^"]+)"')
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
ISSUER = "https://idp.test"


def csrf_token(html: str) -> str:
    match = CSRF.search(html)
    assert match, "the page has no CSRF token"
    return unescape(match.group(1))


def form_action(html: str, default: str) -> str:
    match = re.search(r'<form method="post" action="([^"]+)"', html)
    return unescape(match.group(1)) if match else default


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.decode().rstrip("=")


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@dataclass
class AuthorizationRequest:
    client_id: str
    redirect_uri: str
    scope: str = "openid profile email"
    state: str = field(default_factory=lambda: secrets.token_urlsafe(8))
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(8))
    verifier: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def params(self) -> dict[str, str]:
        verifier, challenge = pkce_pair()
        self.verifier = verifier
        params = {
            "response_type": "code", "client_id": self.client_id,
            "redirect_uri": self.redirect_uri, "scope": self.scope, "state": self.state,
            "nonce": self.nonce, "code_challenge": challenge, "code_challenge_method": "S256",
        }
        params.update(self.extra)
        return {k: v for k, v in params.items() if v is not None}


class Browser:
    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.page: TestResponse | None = None

    def get(self, url: str, **kwargs: Any) -> TestResponse:
        self.page = self.client.get(url, **kwargs)
        return self.page

    def submit(self, url: str, data: dict[str, Any], html: str | None = None) -> TestResponse:
        """Post a form of the current page, with its CSRF token."""
        html = html if html is not None else self.page.get_data(as_text=True)  # type: ignore[union-attr]
        referer = ISSUER + (self.page.request.full_path if self.page and self.page.request else "/")
        self.page = self.client.post(url, data={"csrf_token": csrf_token(html), **data},
                                     headers={"Referer": referer})
        return self.page

    def follow_local(self, response: TestResponse) -> TestResponse:
        """Follow redirects inside the provider; stop at the first one leaving it."""
        while response.status_code in (302, 303) and is_local(response.location):
            response = self.get(response.location)
        return response

    def login(self, email: str, password: str) -> TestResponse:
        self.get("/login")
        return self.submit("/login", {"email": email, "password": password})

    def authorize(self, request: AuthorizationRequest, method: str = "GET") -> TestResponse:
        if method == "POST":
            response = self.client.post("/authorize", data=request.params())
        else:
            response = self.get("/authorize?" + urlencode(request.params()))
        return self.follow_local(response)

    def consent(self, decision: str = "allow") -> TestResponse:
        """Answer the consent screen, ticking every box it offers (with the required
        items, which have none)."""
        html = self.page.get_data(as_text=True)  # type: ignore[union-attr]
        action = form_action(html, "")
        assert action.startswith("/consent/"), "this page is not the consent screen"
        data: dict[str, Any] = {"decision": decision}
        for name, value in CHECKBOX.findall(html):
            data.setdefault(name, []).append(unescape(value))
        return self.submit(action, data, html)

    def login_form(self, email: str, password: str) -> TestResponse:
        """Fill the login form of the current page (reached through /authorize)."""
        assert self.page is not None
        url = self.page.request.full_path if self.page.request else "/login"
        return self.follow_local(self.submit(url, {"email": email, "password": password}))


def is_local(location: str | None) -> bool:
    if not location:
        return False
    parts = urlsplit(location)
    if not parts.netloc:
        # A native app's private-use scheme (org.example.app:/cb) leaves the provider too.
        return not parts.scheme
    return f"{parts.scheme}://{parts.netloc}" == ISSUER


def english_browser(app: Flask) -> Browser:
    """Another browser that reads English, like a test's own under ``in_english``."""
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return Browser(client)
