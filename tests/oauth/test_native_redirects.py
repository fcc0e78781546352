"""Redirect URIs of native apps (RFC 8252 7): a loopback IP literal accepts any port, and
only the port; private-use schemes and claimed https URIs match exactly, and `localhost`
is not treated as loopback (RFC 8252 8.3)."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlencode, urlsplit

import pytest
from werkzeug.test import TestResponse

from idp.extensions import db
from tests.browser import ISSUER, AuthorizationRequest, Browser, query_of
from tests.factories import Platform, make_platform
from tests.tokens import redeem

LOOPBACK_V4 = "http://127.0.0.1/oauth2/callback"
LOOPBACK_V6 = "http://[::1]/oauth2/callback"
LOCALHOST = "http://localhost/oauth2/callback"
PRIVATE_USE = "org.example.carpool:/oauth2redirect"
CLAIMED = "https://app.carpool.example/oauth2/callback"


def make_native_app(*redirect_uris: str) -> Platform:
    """A public client with PKCE. Registration accepts http(s) URIs only for now (clients/,
    issue 10 item 1): the private-use ones are written on the row, as the operator would."""
    app = make_platform(public=True, redirect_uri=CLAIMED)
    app.model.redirect_uris = list(redirect_uris)
    db.session.commit()
    return replace(app, redirect_uri=redirect_uris[0])


def is_provider(location: str) -> bool:
    parts = urlsplit(location)
    return location.startswith("/") or f"{parts.scheme}://{parts.netloc}" == ISSUER


def authorize(browser: Browser, request: AuthorizationRequest) -> TestResponse:
    """The traveller's browser, which follows the provider's own redirects, allows on the
    consent screen, and stops where the provider sends it back to the app."""
    response = browser.get("/authorize?" + urlencode(request.params()))
    while response.status_code in (302, 303) and is_provider(response.location):
        response = browser.get(response.location)
    if response.status_code == 200 and "/consent/" in response.get_data(as_text=True):
        response = browser.consent("allow")
    return response


def sign_in(browser: Browser, app: Platform, redirect_uri: str) -> tuple[str, str]:
    """Returns the code, and the verifier, of an authorization sent back to redirect_uri."""
    request = AuthorizationRequest(app.client_id, redirect_uri, scope="openid email")
    response = authorize(browser, request)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.location.startswith(redirect_uri + ("&" if "?" in redirect_uri else "?"))
    return query_of(response.location)["code"], request.verifier


def assert_refused(browser: Browser, app: Platform, redirect_uri: str) -> None:
    request = AuthorizationRequest(app.client_id, redirect_uri)
    response = authorize(browser, request)
    assert response.status_code == 400, response.location
    assert "Location" not in response.headers
    assert "invalid_request" in response.get_data(as_text=True)


@pytest.mark.parametrize("registered, used", [
    (LOOPBACK_V4, "http://127.0.0.1:51234/oauth2/callback"),
    (LOOPBACK_V4, "http://127.0.0.1:8080/oauth2/callback"),
    (LOOPBACK_V4, LOOPBACK_V4),
    ("http://127.0.0.1:9000/oauth2/callback", "http://127.0.0.1:61000/oauth2/callback"),
    (LOOPBACK_V6, "http://[::1]:51234/oauth2/callback"),
    ("http://127.0.0.1/cb?app=carpool", "http://127.0.0.1:4000/cb?app=carpool"),
])
def test_a_loopback_redirect_uri_works_on_any_port(logged_in: Browser, registered: str,
                                                   used: str) -> None:
    app = make_native_app(registered)
    code, verifier = sign_in(logged_in, app, used)
    # RFC 6749 4.1.3: the token request names the same URI, port included.
    response = redeem(logged_in.client, app, code, verifier, redirect_uri=used)
    assert response.status_code == 200, response.get_json()


def test_the_token_request_must_name_the_port_the_code_went_to(logged_in: Browser) -> None:
    app = make_native_app(LOOPBACK_V4)
    code, verifier = sign_in(logged_in, app, "http://127.0.0.1:51234/oauth2/callback")
    response = redeem(logged_in.client, app, code, verifier,
                      redirect_uri="http://127.0.0.1:51235/oauth2/callback")
    assert response.get_json()["error"] == "invalid_grant"


@pytest.mark.parametrize("used", [
    "http://127.0.0.1:51234/oauth2/other",  # only the port may differ
    "http://127.0.0.1:51234/oauth2/callback/",
    "http://127.0.0.1:51234/oauth2/callback?x=1",
    "http://127.0.0.1:51234/OAUTH2/callback",
    "https://127.0.0.1:51234/oauth2/callback",
    "http://127.0.0.2:51234/oauth2/callback",
    "http://[::1]:51234/oauth2/callback",  # another address than the one registered
    "http://localhost:51234/oauth2/callback",
    "http://127.0.0.1:51234@evil.example/oauth2/callback",
    "http://evil.example:80@127.0.0.1:51234/oauth2/callback",
    "http://127.0.0.1:0/oauth2/callback",
    "http://127.0.0.1:65536/oauth2/callback",
    "http://127.0.0.1:/oauth2/callback",
    "http://127.0.0.1:+80/oauth2/callback",
    "http://127.0.0.1:51234/oauth2/callback#x",
    "http://127.0.0.1:51234",
])
def test_anything_but_the_port_must_match_on_loopback(browser: Browser, used: str) -> None:
    assert_refused(browser, make_native_app(LOOPBACK_V4), used)


def test_localhost_is_matched_exactly(logged_in: Browser) -> None:
    # RFC 8252 8.3: a name may resolve elsewhere; only IP literals get any port.
    app = make_native_app(LOCALHOST)
    sign_in(logged_in, app, LOCALHOST)
    assert_refused(logged_in, app, "http://localhost:51234/oauth2/callback")


def test_a_private_use_scheme_is_matched_exactly_and_given_back_as_is(
        logged_in: Browser) -> None:
    app = make_native_app(PRIVATE_USE)
    code, verifier = sign_in(logged_in, app, PRIVATE_USE)
    response = redeem(logged_in.client, app, code, verifier, redirect_uri=PRIVATE_USE)
    assert response.status_code == 200, response.get_json()
    for other in ("org.example.carpool:/oauth2redirect/", "org.example.carpool://oauth2redirect",
                  "org.example.carpool:/other", "org.example.evil:/oauth2redirect"):
        assert_refused(logged_in, app, other)


def test_a_claimed_https_uri_is_matched_exactly(logged_in: Browser) -> None:
    app = make_native_app(CLAIMED)
    sign_in(logged_in, app, CLAIMED)
    assert_refused(logged_in, app, "https://app.carpool.example:8443/oauth2/callback")
    assert_refused(logged_in, app, "http://app.carpool.example/oauth2/callback")
