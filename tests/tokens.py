"""Calls a platform makes to the token and userinfo endpoints, and ID token checks."""

from __future__ import annotations

import base64
from typing import Any

from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import KeySet
from werkzeug.test import TestResponse

from tests.browser import AuthorizationRequest, Browser, query_of
from tests.factories import Platform


def basic(platform: Platform, secret: str | None = None) -> dict[str, str]:
    raw = f"{platform.client_id}:{secret if secret is not None else platform.secret}"
    return {"Authorization": "Basic " + base64.b64encode(raw.encode()).decode()}


def redeem(client: FlaskClient, platform: Platform, code: str, verifier: str | None,
           **extra: str) -> TestResponse:
    data = {"grant_type": "authorization_code", "code": code,
            "redirect_uri": platform.redirect_uri}
    if verifier is not None:
        data["code_verifier"] = verifier
    data.update(extra)
    headers = {}
    if platform.secret:
        headers = basic(platform)
    else:
        data["client_id"] = platform.client_id
    return client.post("/token", data=data, headers=headers)


def refresh(client: FlaskClient, platform: Platform, refresh_token: str) -> TestResponse:
    return client.post("/token", data={"grant_type": "refresh_token",
                                       "refresh_token": refresh_token}, headers=basic(platform))


def userinfo(client: FlaskClient, access_token: str) -> TestResponse:
    return client.get("/userinfo", headers={"Authorization": f"Bearer {access_token}"})


def verify_id_token(client: FlaskClient, id_token: str) -> dict[str, Any]:
    keys = KeySet.import_key_set(client.get("/jwks.json").get_json())
    token = jwt.decode(id_token, keys, algorithms=["RS256", "ES256"])
    return dict(token.claims) | {"_header": dict(token.header)}


def issue_tokens(browser: Browser, platform: Platform,
                 scope: str = "openid email offline_access") -> dict[str, Any]:
    """A traveller signs in to the platform; the platform redeems the code."""
    request = AuthorizationRequest(platform.client_id, platform.redirect_uri, scope=scope)
    page = browser.authorize(request)
    if page.status_code == 200:
        page = browser.follow_local(browser.consent("allow"))
    response = redeem(browser.client, platform, query_of(page.location)["code"],
                      request.verifier)
    assert response.status_code == 200, response.get_json()
    tokens: dict[str, Any] = response.get_json()
    return tokens
