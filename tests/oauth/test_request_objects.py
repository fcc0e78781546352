"""Request objects (RFC 9101, OIDC Core 6): the authorization request as a JWT signed with
the platform's registered key; a request the provider cannot use is refused first, with
the error that says why."""

from __future__ import annotations

import pytest

from tests.browser import AuthorizationRequest, Browser, query_of
from tests.factories import Platform


@pytest.mark.parametrize("extra, error", [
    ({"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported"),
    ({"request_uri": "https://carpool.example/request.jwt"}, "request_uri_not_supported"),
])
def test_the_refusal_of_an_unsupported_request_comes_before_any_other_check(
        browser: Browser, platform: Platform, extra: dict[str, str], error: str) -> None:
    # No PKCE, no openid scope: a conformant client must still learn what it can fix.
    request = AuthorizationRequest(platform.client_id, platform.redirect_uri, scope="email",
                                   extra={"code_challenge": None,  # type: ignore[dict-item]
                                          "code_challenge_method": None, **extra})
    response = browser.authorize(request)
    assert response.status_code == 302
    assert query_of(response.location)["error"] == error
