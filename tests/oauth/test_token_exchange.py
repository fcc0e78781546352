"""Token exchange (RFC 8693) within a delegation (issue 14, parts 3 and 6): Covoiturage
régional trades the traveller's access token for a short-lived JWT meant for Covoiturage
national's API, only as far as the traveller allowed, and the API verifies it with
/jwks.json."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc.errors import JoseError

from consent.delegations import stop_delegation
from idp.extensions import db
from tests import factories
from tests.browser import Browser
from tests.delegation import (
    ACCESS_TOKEN,
    API,
    SCOPE,
    TOKEN_EXCHANGE,
    Cast,
    delegate,
    exchange,
    make_cast,
    make_regional,
    verify_at_resource,
)
from tests.tokens import basic, issue_tokens, verify_id_token


@pytest.fixture
def cast(app: Flask) -> Cast:
    return make_cast()


@pytest.fixture
def delegated(logged_in: Browser, cast: Cast, user: factories.Traveller) -> dict[str, Any]:
    """The traveller let the regional platform act on the national API, ticking that
    the national platform sees their alias (not their phone number)."""
    user.model.nickname = "Umberto A."
    user.model.phone_number = "+33612345678"
    db.session.commit()
    return delegate(logged_in, cast.regional)


def introspect(client: FlaskClient, platform: factories.Platform, token: str) -> dict[str, Any]:
    response = client.post("/introspect", data={"token": token}, headers=basic(platform))
    assert response.status_code == 200
    body: dict[str, Any] = response.get_json()
    return body


def test_the_exchanged_token_is_a_jwt_for_the_api_naming_the_actor(
        client: FlaskClient, cast: Cast, delegated: dict[str, Any]) -> None:
    response = exchange(client, cast.regional, delegated["access_token"])

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["issued_token_type"] == ACCESS_TOKEN
    assert body["token_type"] == "Bearer" and body["expires_in"] == 300
    assert "refresh_token" not in body
    claims = verify_at_resource(client, body["access_token"])
    assert claims["aud"] == API
    assert claims["act"] == {"sub": cast.regional.client_id}
    assert claims["client_id"] == cast.regional.client_id
    assert claims["scope"] == "trips:search bookings:create"
    assert claims["exp"] - claims["iat"] == 300
    # Only what the traveller ticked for the national platform, nothing of the rest.
    assert claims["nickname"] == "Umberto A."
    assert "phone_number" not in claims and "email" not in claims
    # Not an OpenID token: it opens no userinfo, only the API.
    userinfo = client.get("/userinfo",
                          headers={"Authorization": f"Bearer {body['access_token']}"})
    assert userinfo.status_code == 403


def test_the_api_refuses_the_actors_own_token(client: FlaskClient, logged_in: Browser,
                                              app: Flask) -> None:
    """The regional platform's own JWT access token is not for the API: wrong audience."""
    national = make_cast().national
    regional = make_regional(name="Covoiturage JWT", redirect_uri="https://jwt.example/cb",
                             access_token_format="jwt")
    del national
    own = delegate(logged_in, regional)["access_token"]

    with pytest.raises(JoseError):
        verify_at_resource(client, own)
    exchanged = exchange(client, regional, own).get_json()["access_token"]
    assert verify_at_resource(client, exchanged)["aud"] == API


def test_fewer_actions_may_be_asked_and_none_asked_means_all_allowed(
        client: FlaskClient, cast: Cast, delegated: dict[str, Any]) -> None:
    some = exchange(client, cast.regional, delegated["access_token"], scope="trips:search")
    every = exchange(client, cast.regional, delegated["access_token"], scope=None)

    assert some.get_json()["scope"] == "trips:search"
    assert every.get_json()["scope"] == "trips:search bookings:create"


def test_an_audience_naming_the_api_works_like_a_resource(
        client: FlaskClient, cast: Cast, delegated: dict[str, Any]) -> None:
    response = exchange(client, cast.regional, delegated["access_token"], resource=None,
                        audience=API)

    assert response.status_code == 200
    assert verify_at_resource(client, response.get_json()["access_token"])["aud"] == API


@pytest.mark.parametrize(("extra", "error"), [
    ({"resource": "https://api.unknown.example/"}, "invalid_target"),
    ({"resource": None}, "invalid_target"),
    ({"audience": "https://api.other.example/"}, "invalid_target"),
    ({"scope": "trips:cancel"}, "invalid_scope"),
    ({"subject_token_type": None}, "invalid_request"),
    ({"subject_token_type": "urn:ietf:params:oauth:token-type:id_token"}, "invalid_request"),
    ({"requested_token_type": "urn:ietf:params:oauth:token-type:refresh_token"},
     "invalid_request"),
    ({"actor_token": "x", "actor_token_type": ACCESS_TOKEN}, "invalid_request"),
    ({"subject_token": "not-a-token"}, "invalid_grant"),
    ({"subject_token": None}, "invalid_request"),
])
def test_bad_exchanges_are_refused_with_their_error(
        client: FlaskClient, cast: Cast, delegated: dict[str, Any], extra: dict[str, Any],
        error: str) -> None:
    response = exchange(client, cast.regional, delegated["access_token"], **extra)

    assert response.status_code in (400, 401), response.get_json()
    assert response.get_json()["error"] == error


def test_an_action_the_traveller_did_not_allow_is_refused(
        client: FlaskClient, logged_in: Browser, cast: Cast) -> None:
    tokens = delegate(logged_in, cast.regional, scope="openid profile:alias trips:search")

    refused = exchange(client, cast.regional, tokens["access_token"], scope="bookings:create")
    allowed = exchange(client, cast.regional, tokens["access_token"], scope="trips:search")

    assert refused.get_json()["error"] == "invalid_scope"
    assert allowed.status_code == 200


def test_without_a_delegation_the_exchange_is_denied(
        client: FlaskClient, logged_in: Browser, cast: Cast) -> None:
    tokens = issue_tokens(logged_in, cast.regional, scope="openid profile:alias")

    response = exchange(client, cast.regional, tokens["access_token"])

    assert response.status_code in (400, 403)
    assert response.get_json()["error"] == "access_denied"


def test_a_platform_not_registered_for_the_grant_is_unauthorized(
        client: FlaskClient, logged_in: Browser, cast: Cast) -> None:
    other = make_regional(name="Covoiturage local", redirect_uri="https://local.example/cb",
                          grant_types=["authorization_code", "refresh_token"])
    tokens = delegate(logged_in, other)

    response = exchange(client, other, tokens["access_token"])

    assert response.get_json()["error"] == "unauthorized_client"


def test_another_platforms_token_is_not_a_subject_token(
        client: FlaskClient, logged_in: Browser, cast: Cast,
        delegated: dict[str, Any]) -> None:
    other = make_regional(name="Covoiturage voisin", redirect_uri="https://voisin.example/cb")

    response = exchange(client, other, delegated["access_token"])

    assert response.get_json()["error"] == "invalid_grant"


def test_an_exchanged_token_cannot_be_exchanged_again(
        client: FlaskClient, cast: Cast, delegated: dict[str, Any]) -> None:
    first = exchange(client, cast.regional, delegated["access_token"]).get_json()

    again = exchange(client, cast.regional, first["access_token"])

    assert again.get_json()["error"] == "invalid_grant"


def test_a_revoked_subject_token_is_refused(
        client: FlaskClient, cast: Cast, delegated: dict[str, Any]) -> None:
    revoked = client.post("/revoke", data={"token": delegated["access_token"]},
                          headers=basic(cast.regional))
    assert revoked.status_code == 200

    response = exchange(client, cast.regional, delegated["access_token"])

    assert response.get_json()["error"] == "invalid_grant"


def test_an_expired_subject_token_is_refused(
        client: FlaskClient, cast: Cast, delegated: dict[str, Any], time_machine: Any,
        app: Flask) -> None:
    lifetime = app.extensions["idp.settings"].access_token_lifetime
    time_machine.move_to(_later(lifetime + 5))

    response = exchange(client, cast.regional, delegated["access_token"])

    assert response.get_json()["error"] == "invalid_grant"


def _later(seconds: int) -> Any:
    from datetime import UTC, datetime, timedelta

    return datetime.now(UTC) + timedelta(seconds=seconds)


def test_the_api_sees_its_own_sub_for_the_traveller(
        client: FlaskClient, logged_in: Browser, cast: Cast,
        delegated: dict[str, Any]) -> None:
    """Part 6: the exchanged token's `sub` is the national platform's pairwise one, the
    same it gets when the traveller logs in to it directly, never the regional one's."""
    exchanged = exchange(client, cast.regional, delegated["access_token"]).get_json()
    at_api = verify_at_resource(client, exchanged["access_token"])["sub"]
    regional_sub = verify_id_token(client, delegated["id_token"])["sub"]

    direct = issue_tokens(logged_in, cast.national, scope="openid")
    national_sub = verify_id_token(client, direct["id_token"])["sub"]

    assert at_api == national_sub
    assert at_api != regional_sub


def test_introspection_tells_the_api_the_audience_actor_and_its_sub(
        client: FlaskClient, logged_in: Browser, cast: Cast,
        delegated: dict[str, Any]) -> None:
    token = exchange(client, cast.regional, delegated["access_token"]).get_json()
    claims = verify_at_resource(client, token["access_token"])

    answer = introspect(client, cast.national, token["access_token"])

    assert answer["active"] is True
    assert answer["aud"] == API
    assert answer["act"] == {"sub": cast.regional.client_id}
    assert answer["client_id"] == cast.regional.client_id
    assert answer["sub"] == claims["sub"]
    assert answer["scope"] == "trips:search bookings:create"
    # The actor's own token is none of the national platform's business.
    assert introspect(client, cast.national, delegated["access_token"]) == {"active": False}


def test_stopping_the_delegation_ends_the_exchanged_tokens_at_once(
        client: FlaskClient, cast: Cast, delegated: dict[str, Any],
        user: factories.Traveller) -> None:
    token = exchange(client, cast.regional, delegated["access_token"]).get_json()
    assert introspect(client, cast.national, token["access_token"])["active"] is True

    assert stop_delegation(user.model, cast.regional.client_id, API) is not None
    db.session.commit()

    assert introspect(client, cast.national, token["access_token"]) == {"active": False}
    again = exchange(client, cast.regional, delegated["access_token"])
    assert again.get_json()["error"] == "access_denied"
    # The regional platform keeps its own login: only the delegation ended.
    own = client.get("/userinfo",
                     headers={"Authorization": f"Bearer {delegated['access_token']}"})
    assert own.status_code == 200


def test_withdrawing_the_actors_consent_ends_the_delegation_too(
        client: FlaskClient, cast: Cast, delegated: dict[str, Any],
        user: factories.Traveller) -> None:
    from consent import records

    token = exchange(client, cast.regional, delegated["access_token"]).get_json()
    records.withdraw(user.model, cast.regional.client_id)
    db.session.commit()

    assert introspect(client, cast.national, token["access_token"]) == {"active": False}
    again = exchange(client, cast.regional, delegated["access_token"])
    assert again.get_json()["error"] == "invalid_grant"


def test_discovery_lists_the_token_exchange_grant(client: FlaskClient) -> None:
    document = client.get("/.well-known/openid-configuration").get_json()

    assert TOKEN_EXCHANGE in document["grant_types_supported"]


@pytest.mark.parametrize(("scope", "resource"), [
    (SCOPE, "https://api.unknown.example/"),
    ("openid trips:search trips:cancel", API),
    ("openid profile:alias", API),
])
def test_authorize_refuses_an_unknown_resource_or_action_with_invalid_target(
        logged_in: Browser, cast: Cast, scope: str, resource: str) -> None:
    from tests.browser import query_of
    from tests.delegation import delegation_request

    page = logged_in.authorize(delegation_request(cast.regional, scope, resource))

    assert page.status_code in (302, 303)
    assert page.location.startswith(cast.regional.redirect_uri)
    assert query_of(page.location)["error"] == "invalid_target"


@pytest.mark.parametrize("grant", ["authorization_code", "refresh_token"])
def test_the_code_and_refresh_grants_refuse_a_resource(
        client: FlaskClient, logged_in: Browser, cast: Cast, grant: str) -> None:
    """RFC 8707 2.2: only the token exchange issues tokens for another's API; the other
    grants refuse ``resource`` rather than answer a token the API would not accept."""
    from tests.browser import query_of
    from tests.delegation import delegation_request
    from tests.tokens import redeem

    request = delegation_request(cast.regional, "openid offline_access trips:search")
    logged_in.authorize(request)
    html = logged_in.page.get_data(as_text=True)  # type: ignore[union-attr]
    action = html.split('action="', 1)[1].split('"', 1)[0]
    page = logged_in.follow_local(logged_in.submit(
        action, {"decision": "allow", "scope": ["offline_access"]}, html))
    code = query_of(page.location)["code"]
    if grant == "refresh_token":
        tokens = redeem(client, cast.regional, code, request.verifier).get_json()
        response = client.post("/token", data={"grant_type": "refresh_token",
                                               "refresh_token": tokens["refresh_token"],
                                               "resource": API},
                               headers=basic(cast.regional))
    else:
        response = redeem(client, cast.regional, code, request.verifier, resource=API)

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_target"


@pytest.mark.parametrize("what", ["delegation", "consent"])
def test_an_expired_delegation_allows_no_exchange(
        client: FlaskClient, cast: Cast, delegated: dict[str, Any],
        user: factories.Traveller, what: str) -> None:
    """The delegation's own expiry, or its consent's, as consent tests make it: the row's
    date moved to the past."""
    from datetime import timedelta

    from consent.models import history
    from idp.extensions import utcnow

    record = history(user.model.id, cast.regional.client_id)[-1]
    past = utcnow() - timedelta(seconds=1)
    if what == "delegation":
        record.delegations = [{**record.delegations[0], "valid_until": past.isoformat()}]
    else:
        record.valid_until = past
    db.session.commit()

    response = exchange(client, cast.regional, delegated["access_token"])

    assert response.get_json()["error"] == "access_denied"
