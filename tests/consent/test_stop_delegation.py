"""Stopping a delegation (issue 14, part 4) is as easy as allowing it: on "My platforms"
the delegation shows under both platforms, each with a Stop button; one click ends it,
revokes the exchanged tokens at once, and both platforms are told by a signed Security
Event Token pushed to the endpoint they registered (RFC 8417, RFC 8935)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jws

from consent.audit import AuditEvent
from idp.extensions import db, utcnow
from idp.oauth.events import DELEGATION_CLAIM, TOKEN_CLAIMS_CHANGE
from idp.outbox import OutboxMessage, deliver_due
from tests import factories
from tests.browser import Browser
from tests.delegation import API, Cast, delegate, exchange, make_national, make_regional
from tests.events import EventReceiver, event_receiver, verify_event  # noqa: F401
from tests.oauth.test_token_exchange import introspect
from tests.tokens import verify_id_token

SENTENCE = ("Covoiturage régional can search rides and book seats on Covoiturage national "
            "for you.")
DONE = ("Done. Covoiturage régional can no longer search rides and book seats on "
        "Covoiturage national for you.")


@pytest.fixture
def cast(app: Flask) -> Cast:
    return Cast(make_national(), make_regional())


@pytest.fixture
def delegated(logged_in: Browser, cast: Cast, user: factories.Traveller,
              in_english: None) -> dict[str, Any]:
    user.model.nickname = "Umberto A."
    db.session.commit()
    return delegate(logged_in, cast.regional)


def text(html: str) -> str:
    return " ".join(html.split())


def my_platforms(browser: Browser) -> str:
    page = browser.get("/account/platforms")
    assert page.status_code == 200
    return page.get_data(as_text=True)


def stop(browser: Browser, actor: str, resource: str = API) -> Any:
    """The Stop button: a POST of the page's form (CSRF token and the resource)."""
    html = my_platforms(browser)
    return browser.submit(f"/account/platforms/{actor}/delegations/stop",
                          {"resource": resource}, html)


def test_the_delegation_shows_under_both_platforms_each_with_a_stop_button(
        logged_in: Browser, cast: Cast, delegated: dict[str, Any]) -> None:
    """The national platform has no consent of its own from the traveller: it still
    gets its section, with the same sentence."""
    html = my_platforms(logged_in)

    assert text(html).count(SENTENCE) == 2 * 2  # shown, and named by each Stop button
    regional_at = html.index("<h2 id=\"platform-1\">Covoiturage régional</h2>")
    national_at = html.index("<h2 id=\"acted-on-1\">Covoiturage national</h2>")
    assert regional_at < html.index(SENTENCE) < national_at < html.rindex(SENTENCE)
    assert "Covoiturage national sees: Alias." in text(html)
    stop_action = f'action="/account/platforms/{cast.regional.client_id}/delegations/stop"'
    assert html.count(stop_action) == 2
    assert html.count(f'name="resource" value="{API}"') == 2


def test_stop_takes_one_click_and_ends_it_everywhere_at_once(
        logged_in: Browser, client: FlaskClient, cast: Cast, delegated: dict[str, Any],
        user: factories.Traveller) -> None:
    token = exchange(client, cast.regional, delegated["access_token"]).get_json()
    assert introspect(client, cast.national, token["access_token"])["active"] is True

    response = stop(logged_in, cast.regional.client_id)

    assert response.status_code == 302
    assert response.location.endswith("/account/platforms")
    html = my_platforms(logged_in)
    assert DONE in text(html)
    assert SENTENCE not in text(html)
    assert "Covoiturage régional" in html  # the actor keeps its own login
    assert introspect(client, cast.national, token["access_token"]) == {"active": False}
    again = exchange(client, cast.regional, delegated["access_token"])
    assert again.get_json()["error"] == "access_denied"
    [stopped] = db.session.scalars(db.select(AuditEvent).where(
        AuditEvent.event_type == "delegation:stopped")).all()
    assert stopped.client_id == cast.regional.client_id
    assert stopped.data["resource"] == API and stopped.data["tokens_revoked"] == 1
    assert "You stopped a platform acting for you on another" in text(html)


def test_the_receipt_after_stop_no_longer_lists_the_delegation(
        logged_in: Browser, cast: Cast, delegated: dict[str, Any]) -> None:
    def receipt() -> dict[str, Any]:
        response = logged_in.get(f"/account/platforms/{cast.regional.client_id}/receipt")
        assert response.status_code == 200
        return dict(json.loads(jws.extract_compact(response.get_data()).payload))

    assert [d["resource"] for d in receipt()["delegations"]] == [API]
    stop(logged_in, cast.regional.client_id)

    assert receipt()["delegations"] == []


@pytest.mark.parametrize("what", ["resource", "actor", "stopped"])
def test_an_unknown_or_stopped_delegation_gets_a_friendly_404(
        logged_in: Browser, cast: Cast, delegated: dict[str, Any], what: str) -> None:
    actor, resource = cast.regional.client_id, API
    if what == "resource":
        resource = "https://api.unknown.example/"
    elif what == "actor":
        actor = cast.national.client_id
    else:
        assert stop(logged_in, actor).status_code == 302

    response = stop(logged_in, actor, resource)

    assert response.status_code == 404
    assert "<h1>" in response.get_data(as_text=True)


def test_stop_without_the_forms_token_is_refused(
        logged_in: Browser, cast: Cast, delegated: dict[str, Any]) -> None:
    response = logged_in.client.post(
        f"/account/platforms/{cast.regional.client_id}/delegations/stop",
        data={"resource": API})

    assert response.status_code == 400
    assert SENTENCE in text(my_platforms(logged_in))


def test_both_platforms_receive_a_signed_event_with_their_own_sub(
        app: Flask, logged_in: Browser, client: FlaskClient, user: factories.Traveller,
        event_receiver: Callable[[], EventReceiver], in_english: None) -> None:
    regional_events, national_events = event_receiver(), event_receiver()
    cast = Cast(make_national(events_uri=national_events.uri),
                make_regional(events_uri=regional_events.uri))
    tokens = delegate(logged_in, cast.regional)

    stop(logged_in, cast.regional.client_id)
    assert deliver_due(now=utcnow()) == {"delivered": 2}

    jwks = client.get("/jwks.json").get_json()
    subs = []
    for platform, receiver in ((cast.regional, regional_events),
                               (cast.national, national_events)):
        [pushed] = receiver.received
        assert pushed.content_type == "application/secevent+jwt"
        claims = verify_event(jwks, pushed.token, "https://idp.test", platform.client_id)
        event = claims["events"][TOKEN_CLAIMS_CHANGE]
        assert event["claims"][DELEGATION_CLAIM] == {
            "actor": cast.regional.client_id, "resource": API,
            "actions": ["trips:search", "bookings:create"], "status": "stopped"}
        assert event["event_timestamp"] <= claims["iat"] + 1
        assert claims["sub_id"]["format"] == "iss_sub"
        assert claims["sub_id"]["iss"] == "https://idp.test"
        subs.append(claims["sub_id"]["sub"])
    # Each platform's own pairwise sub: the regional one's from its ID token.
    assert subs[0] == verify_id_token(client, tokens["id_token"])["sub"]
    assert subs[1] != subs[0]
    attempts = db.session.scalars(db.select(AuditEvent).where(
        AuditEvent.event_type == "security_event:attempt")).all()
    assert sorted(a.client_id for a in attempts) == sorted(
        [cast.regional.client_id, cast.national.client_id])
    assert {a.data["reason"] for a in attempts} == {"delegation_stopped"}


def stopped_while_national_answers(browser: Browser, receiver: EventReceiver,
                                   status: int) -> Cast:
    """The national platform registered ``receiver`` and first answers ``status``;
    the traveller allowed the delegation, then stopped it."""
    receiver.statuses = [status]
    cast = Cast(make_national(events_uri=receiver.uri), make_regional())
    delegate(browser, cast.regional)
    stop(browser, cast.regional.client_id)
    return cast


def test_only_202_accepted_counts_as_received(
        logged_in: Browser, user: factories.Traveller,
        event_receiver: Callable[[], EventReceiver], in_english: None) -> None:
    """RFC 8935 2.2: a 200 is not the answer asked for; the event is sent again later."""
    national_events = event_receiver()
    stopped_while_national_answers(logged_in, national_events, 200)
    start = utcnow()

    assert deliver_due(now=start) == {"retrying": 1}
    assert deliver_due(now=start + timedelta(seconds=30)) == {"delivered": 1}
    first, second = national_events.received
    assert first.token == second.token  # the same event: same jti


def test_a_platform_without_an_events_uri_is_not_told(
        logged_in: Browser, cast: Cast, delegated: dict[str, Any]) -> None:
    stop(logged_in, cast.regional.client_id)

    assert db.session.scalars(db.select(OutboxMessage)).all() == []


def test_a_retry_after_the_keys_may_have_turned_is_signed_afresh_with_the_same_jti(
        logged_in: Browser, client: FlaskClient, user: factories.Traveller,
        event_receiver: Callable[[], EventReceiver], in_english: None) -> None:
    national_events = event_receiver()
    cast = stopped_while_national_answers(logged_in, national_events, 503)
    start = utcnow()
    later = start + timedelta(minutes=10)
    deliver_due(now=start)
    deliver_due(now=later)

    jwks = client.get("/jwks.json").get_json()
    first, second = (verify_event(jwks, p.token, "https://idp.test", cast.national.client_id,
                                  now=int(later.timestamp()))
                     for p in national_events.received)
    assert first["jti"] == second["jti"]
    assert second["iat"] - first["iat"] >= 600
