"""Issue 14's cast: Covoiturage national serves an API; Covoiturage régional asks the
traveller to let it search rides and book seats there, then exchanges the traveller's
token for one meant for that API (RFC 8693)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from werkzeug.test import TestResponse

from clients import resources
from idp.extensions import db
from tests import factories
from tests.browser import AuthorizationRequest, Browser, query_of
from tests.tokens import basic, redeem

API = "https://api.national.example/"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"
ACTIONS = {
    "trips:search": {"en": "search rides", "fr": "chercher des trajets"},
    "bookings:create": {"en": "book seats", "fr": "réserver des places"},
}
SCOPE = "openid profile:alias trips:search bookings:create"


@dataclass
class Cast:
    national: factories.Platform
    regional: factories.Platform


def make_national(**overrides: Any) -> factories.Platform:
    overrides.setdefault("name", "Covoiturage national")
    overrides.setdefault("redirect_uri", "https://national.example/callback")
    overrides.setdefault("scope", "openid profile:alias phone")
    national = factories.make_platform(**overrides)
    resources.save(national.model, [resources.ResourceSpec(
        API, "Covoiturage national API", ACTIONS, ["nickname", "phone_number"])])
    db.session.commit()
    return national


def make_regional(**overrides: Any) -> factories.Platform:
    overrides.setdefault("name", "Covoiturage régional")
    overrides.setdefault("redirect_uri", "https://regional.example/callback")
    overrides.setdefault("scope", "openid profile:alias offline_access")
    overrides.setdefault("grant_types", ["authorization_code", "refresh_token", TOKEN_EXCHANGE])
    return factories.make_platform(**overrides)


def make_cast() -> Cast:
    return Cast(make_national(), make_regional())


def delegation_request(platform: factories.Platform, scope: str = SCOPE,
                       resource: str | None = API) -> AuthorizationRequest:
    extra = {"resource": resource} if resource else {}
    return AuthorizationRequest(platform.client_id, platform.redirect_uri, scope=scope,
                                extra=extra)


def allow(browser: Browser, resource_claims: tuple[str, ...] = (),
          delegation: str | None = API, scopes: tuple[str, ...] = ("profile:alias",),
          **answer: Any) -> TestResponse:
    """Allow on the consent screen, ticking the boxes of ``scopes``, the box of the
    delegation itself (its value, the resource; None: left empty, the delegation
    declined), the given boxes of what the resource's platform will see, and any other
    field of ``answer``."""
    html = browser.page.get_data(as_text=True)  # type: ignore[union-attr]
    action = html.split('action="', 1)[1].split('"', 1)[0]
    data: dict[str, Any] = {"decision": "allow", "scope": list(scopes),
                            "resource_claim": list(resource_claims), **answer}
    if delegation is not None:
        data["delegation"] = delegation
    return browser.follow_local(browser.submit(action, data, html))


def delegate(browser: Browser, platform: factories.Platform, scope: str = SCOPE,
             resource_claims: tuple[str, ...] = ("nickname",),
             **answer: Any) -> dict[str, Any]:
    """The traveller (logged in) lets the platform act on the API (with ``answer``, as
    :func:`allow` takes it: ``delegation=None`` declines); it redeems the code."""
    request = delegation_request(platform, scope)
    page = browser.authorize(request)
    if page.status_code == 200:
        page = allow(browser, resource_claims, **answer)
    assert page.status_code in (302, 303), page.get_data(as_text=True)[:500]
    response = redeem(browser.client, platform, query_of(page.location)["code"],
                      request.verifier)
    assert response.status_code == 200, response.get_json()
    tokens: dict[str, Any] = response.get_json()
    return tokens


def exchange(client: FlaskClient, actor: factories.Platform, token: str, /,
             **extra: str | None) -> TestResponse:
    data = {"grant_type": TOKEN_EXCHANGE, "subject_token": token,
            "subject_token_type": ACCESS_TOKEN, "resource": API,
            "scope": "trips:search bookings:create"}
    data.update(extra)
    return client.post("/token", data={k: v for k, v in data.items() if v is not None},
                       headers=basic(actor))


def verify_at_resource(client: FlaskClient, token: str, audience: str = API) -> dict[str, Any]:
    """What the national API does with a token: verify the signature with /jwks.json,
    the type (RFC 9068 2.1), the issuer, the audience and the expiry. Raises JoseError."""
    keys = KeySet.import_key_set(client.get("/jwks.json").get_json())
    decoded = jwt.decode(token, keys, algorithms=["RS256", "ES256"])
    if decoded.header.get("typ") != "at+jwt":
        raise JoseError("not an access token")
    jwt.JWTClaimsRegistry(iss={"essential": True, "value": "https://idp.test"},
                          aud={"essential": True, "value": audience},
                          exp={"essential": True}).validate(decoded.claims)
    return dict(decoded.claims)
