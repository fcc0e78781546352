"""Logging in without the delegation (issue 14, part 2): on the consent screen the
delegation is a choice of its own, a box never ticked in advance. Allow with the box
empty logs the traveller in with what they chose, and records no delegation; the
platform's later token exchange is refused. A forged answer never gives a delegation."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from consent import audit
from consent.models import history
from tests import factories
from tests.browser import Browser, query_of
from tests.consent.test_delegation_consent import cast, events, text_of, umberto  # noqa: F401
from tests.delegation import API, SCOPE, Cast, allow, delegate, delegation_request, exchange


def decline(browser: Browser, platform: factories.Platform, asked: str = SCOPE,
            resource_claims: tuple[str, ...] = (), **answer: Any) -> dict[str, Any]:
    """The traveller, on the screen, ticks their alias (or what ``answer`` says), leaves
    the delegation's own box empty and allows; the platform redeems the code."""
    return delegate(browser, platform, asked, resource_claims, delegation=None, **answer)


def test_the_delegation_is_a_box_of_its_own_never_ticked(
        logged_in: Browser, cast: Cast, umberto: factories.Traveller,
        in_english: None) -> None:
    page = logged_in.authorize(delegation_request(cast.regional))

    html = page.get_data(as_text=True)
    box = html.split('name="delegation"', 1)[1].split(">", 1)[0]
    assert f'value="{API}"' in box and "checked" not in box
    label = html.split('for="delegation"', 1)[1].split("</label>", 1)[0]
    assert ("Covoiturage régional may search rides and book seats on Covoiturage national "
            "for you.") in label
    text = text_of(logged_in)
    # Without JavaScript the other boxes stay in sight; words say when they count.
    assert "You can log in without ticking it." in text
    assert "The boxes below count only if you tick it." in text


def test_allow_with_the_box_empty_logs_in_without_the_delegation(
        client: FlaskClient, logged_in: Browser, cast: Cast,
        umberto: factories.Traveller) -> None:
    tokens = decline(logged_in, cast.regional, resource_claims=("nickname",))

    [record] = history(umberto.model.id, cast.regional.client_id)
    assert record.delegations == []
    assert "profile:alias" in record.scopes_granted
    assert events(umberto, audit.DELEGATION_GRANTED) == []
    # The login and the traveller's own choices, none of the API's actions.
    assert tokens["scope"].split() == ["openid", "profile:alias"]
    refused = exchange(client, cast.regional, tokens["access_token"])
    assert refused.get_json()["error"] == "access_denied"


def test_with_the_box_ticked_the_delegation_is_granted_as_before(
        client: FlaskClient, logged_in: Browser, cast: Cast,
        umberto: factories.Traveller) -> None:
    tokens = delegate(logged_in, cast.regional)

    [record] = history(umberto.model.id, cast.regional.client_id)
    assert [e["resource"] for e in record.delegations] == [API]
    assert len(events(umberto, audit.DELEGATION_GRANTED)) == 1
    # The actions go in the exchanged token, never in the platform's own.
    assert tokens["scope"].split() == ["openid", "profile:alias"]
    assert exchange(client, cast.regional, tokens["access_token"]).status_code == 200


def test_after_declining_the_same_ask_shows_the_screen_again_and_declining_logs_in(
        logged_in: Browser, cast: Cast, umberto: factories.Traveller) -> None:
    decline(logged_in, cast.regional)

    again = logged_in.authorize(delegation_request(cast.regional))
    assert again.status_code == 200
    html = again.get_data(as_text=True)
    assert 'name="delegation"' in html
    assert 'name="scope"' not in html  # the alias is answered: only the delegation is asked
    page = allow(logged_in, delegation=None, scopes=())
    assert page.status_code in (302, 303) and "code=" in page.location
    assert all(r.delegations == [] for r in history(umberto.model.id,
                                                     cast.regional.client_id))
    # Without the resource, the login needs no screen at all.
    plain = logged_in.authorize(delegation_request(cast.regional, "openid profile:alias",
                                                   resource=None))
    assert plain.status_code in (302, 303) and "code=" in plain.location


def test_after_declining_a_silent_ask_with_the_resource_is_told_consent_is_required(
        logged_in: Browser, cast: Cast, umberto: factories.Traveller) -> None:
    decline(logged_in, cast.regional)
    request = delegation_request(cast.regional)
    request.extra["prompt"] = "none"

    page = logged_in.authorize(request)

    # OIDC Core 3.1.2.6: the platform learns it must ask; it may log in without the API.
    assert query_of(page.location)["error"] == "consent_required"


def test_declining_more_actions_keeps_the_delegation_in_force(
        client: FlaskClient, logged_in: Browser, cast: Cast,
        umberto: factories.Traveller) -> None:
    delegate(logged_in, cast.regional, scope="openid profile:alias trips:search")

    tokens = decline(logged_in, cast.regional, scopes=())  # the alias is answered

    [entry] = history(umberto.model.id, cast.regional.client_id)[-1].delegations
    assert entry["actions"] == ["trips:search"]
    assert exchange(client, cast.regional, tokens["access_token"],
                    scope="trips:search").status_code == 200
    assert exchange(client, cast.regional, tokens["access_token"],
                    scope="bookings:create").get_json()["error"] == "invalid_scope"


def test_boxes_of_the_delegation_count_only_with_its_own(
        logged_in: Browser, cast: Cast, umberto: factories.Traveller) -> None:
    decline(logged_in, cast.regional, "openid profile:alias offline_access trips:search",
            ("nickname", "phone_number"), delegation_offline="yes")

    [record] = history(umberto.model.id, cast.regional.client_id)
    assert record.delegations == []
    assert events(umberto, audit.DELEGATION_GRANTED) == []


@pytest.mark.parametrize(("scope", "resource", "forged"), [
    # A box for a delegation other than the one shown.
    (SCOPE, API, "https://api.elsewhere.example/"),
    # A box for a delegation when none was shown.
    ("openid profile:alias", None, API),
])
def test_a_forged_delegation_box_is_refused(
        logged_in: Browser, cast: Cast, umberto: factories.Traveller,
        scope: str, resource: str | None, forged: str) -> None:
    logged_in.authorize(delegation_request(cast.regional, scope, resource))

    page = allow(logged_in, ("nickname",) if resource else (), delegation=forged)

    assert page.status_code == 400
    assert history(umberto.model.id, cast.regional.client_id) == []
