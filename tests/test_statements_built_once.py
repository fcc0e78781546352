"""The hot requests' statements are built once, with their values as parameters (issue
13, part 5). SQLAlchemy finds a statement's compiled form by its cache key, which it
computes by walking the statement (its joins, its loader options) and remembers on the
statement object: a statement built anew at every request costs that walk every time
(100 to 500 us each; userinfo's was a third of its CPU). Counted here on the real
requests, warm: the second userinfo, introspection, refresh, signed-in authorization and
code redemption compute no statement's cache key."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.sql import cache_key
from sqlalchemy.sql.base import Executable

from tests.browser import AuthorizationRequest, Browser, query_of
from tests.factories import Platform
from tests.tokens import basic, issue_tokens, redeem


@contextmanager
def keys_computed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The statements whose cache key SQLAlchemy computes meanwhile (a statement object
    seen before answers from its memo and never gets here)."""
    computed: list[str] = []
    original = cache_key.HasCacheKey._generate_cache_key

    def counting(self: Any) -> Any:
        if isinstance(self, Executable):
            computed.append(str(self).split("\n", 1)[0][:120])
        return original(self)

    with monkeypatch.context() as patch:
        patch.setattr(cache_key.HasCacheKey, "_generate_cache_key", counting)
        yield computed


def api_requests(browser: Browser, platform: Platform,
                 tokens: dict[str, Any]) -> dict[str, Any]:
    """Userinfo, introspection and a refresh; the renewed tokens."""
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert browser.client.get("/userinfo", headers=bearer).status_code == 200
    answer = browser.client.post("/introspect", data={"token": tokens["access_token"]},
                                 headers=basic(platform))
    assert answer.get_json()["active"] is True
    renewed = browser.client.post("/token", headers=basic(platform), data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert renewed.status_code == 200, renewed.get_json()
    renewed_tokens: dict[str, Any] = renewed.get_json()
    return renewed_tokens


def signed_in_flow(browser: Browser, platform: Platform) -> None:
    request = AuthorizationRequest(platform.client_id, platform.redirect_uri,
                                   scope="openid email offline_access")
    page = browser.authorize(request)
    assert page.status_code == 302, page.get_data(as_text=True)
    answer = redeem(browser.client, platform, query_of(page.location)["code"],
                    request.verifier)
    assert answer.status_code == 200, answer.get_json()


def test_warm_platform_requests_compute_no_cache_key(
        app: Flask, logged_in: Browser, platform: Platform,
        monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = issue_tokens(logged_in, platform)
    tokens = api_requests(logged_in, platform, tokens)  # warm
    with keys_computed(monkeypatch) as computed:
        api_requests(logged_in, platform, tokens)
    assert computed == []


def test_a_warm_signed_in_flow_computes_no_cache_key(
        app: Flask, logged_in: Browser, platform: Platform,
        monkeypatch: pytest.MonkeyPatch) -> None:
    issue_tokens(logged_in, platform)  # the consent, given once
    signed_in_flow(logged_in, platform)  # warm
    with keys_computed(monkeypatch) as computed:
        signed_in_flow(logged_in, platform)
    assert computed == []
