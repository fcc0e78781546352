"""Issue 14, part 5, over real HTTP: Covoiturage national's API accepts the token the
regional platform got by token exchange for Umberto, and only that one; and the regional
platform's pages list national rides and book one with Umberto's usual meeting point,
or say plainly that it may not any more."""

from __future__ import annotations

import re
from html import unescape
from typing import Any
from urllib.parse import urljoin

import pytest
import requests

from clients.demo import MEETING_POINT, NATIONAL, REGIONAL
from clients.demo_platform.serve import RunningPlatform
from clients.demo_platform.sessions import LocalSession
from clients.demo_platform.trips import Booking
from consent.delegations import stop_delegation
from idp.accounts.models import User
from idp.extensions import db
from tests.browser import CHECKBOX
from tests.clients.test_demo_platform import (  # noqa: F401  (fixtures)
    Browser,
    browser,
    is_consent_page,
    platforms,
    umberto,
)
from tests.live import LiveServer, LiveTraveller, live_server  # noqa: F401  (a fixture)

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"
ANGOULEME_CLERMONT = "ang-cfe"


def log_in_on_regional(browser: Browser, platforms: dict[str, RunningPlatform],
                       umberto: LiveTraveller) -> requests.Response:
    """Umberto logs in on the regional site and allows everything, the delegation too,
    ticking that the national platform sees his alias and phone number."""
    page = browser.get(platforms[REGIONAL.client_id].config.origin + "/login")
    page = browser.submit(page, {"email": umberto.email, "password": umberto.password})
    assert is_consent_page(page), page.text
    data: dict[str, Any] = {"decision": "allow",
                            "resource_claim": ["nickname", "phone_number"]}
    for name, value in CHECKBOX.findall(page.text):
        data.setdefault(name, []).append(unescape(value))
    page = browser.submit(page, data)
    assert page.url.endswith("/profile"), page.text
    return page


def press_book(browser: Browser, rides: requests.Response, trip_id: str) -> requests.Response:
    """The "Book" button of a ride on the regional site's rides page."""
    csrf = re.search(r'name="csrf" value="([^"]+)"', rides.text)
    assert csrf is not None, rides.text
    return browser.session.post(urljoin(rides.url, "/rides/book"), timeout=10,
                                data={"csrf": csrf.group(1), "trip_id": trip_id})


def regional_session(platforms: dict[str, RunningPlatform]) -> LocalSession:
    (local,) = platforms[REGIONAL.client_id].app.extensions["demo_platform"] \
        .sessions._sessions.values()
    return local


def bookings_at_national(platforms: dict[str, RunningPlatform], sub: str) -> list[Booking]:
    return platforms[NATIONAL.client_id].app.extensions["demo_platform"].bookings.of(sub)


@pytest.fixture
def regional_token(live_server: LiveServer, platforms: dict[str, RunningPlatform],
                   umberto: LiveTraveller, browser: Browser) -> str:
    """The access token the regional platform holds for Umberto after his login."""
    log_in_on_regional(browser, platforms, umberto)
    token = regional_session(platforms).access_token
    assert token is not None
    return token


def exchange(live_server: LiveServer, platforms: dict[str, RunningPlatform], token: str,
             scope: str) -> str:
    config = platforms[REGIONAL.client_id].config
    answer = requests.post(live_server.url + "/token", data={
        "grant_type": TOKEN_EXCHANGE, "subject_token": token,
        "subject_token_type": ACCESS_TOKEN, "resource": platforms[NATIONAL.client_id].config.api,
        "scope": scope}, auth=(config.client_id, config.client_secret), timeout=10)
    assert answer.status_code == 200, answer.text
    exchanged: str = answer.json()["access_token"]
    return exchanged


def book(platforms: dict[str, RunningPlatform], token: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(platforms[NATIONAL.client_id].config.api + "/bookings", timeout=10,
                         json={"trip_id": ANGOULEME_CLERMONT, "meeting_point": MEETING_POINT},
                         headers=headers)


def stop(live_server: LiveServer, platforms: dict[str, RunningPlatform],
         umberto: LiveTraveller) -> None:
    """Umberto stops the delegation (what "My platforms" will call)."""
    with live_server.app.app_context():
        user = db.session.scalar(db.select(User).where(User.subject == umberto.subject))
        assert user is not None
        assert stop_delegation(user, REGIONAL.client_id,
                               str(platforms[NATIONAL.client_id].config.api)) is not None
        db.session.commit()
        db.session.remove()


def test_the_exchanged_token_books_under_the_national_platforms_own_sub(
        live_server: LiveServer, platforms: dict[str, RunningPlatform],
        umberto: LiveTraveller, regional_token: str) -> None:
    token = exchange(live_server, platforms, regional_token, "bookings:create")

    answer = book(platforms, token)

    assert answer.status_code == 201, answer.text
    assert answer.json()["meeting_point"] == MEETING_POINT
    national_sub = live_server.subject_for(umberto, NATIONAL.client_id)
    [booking] = bookings_at_national(platforms, national_sub)
    assert booking.trip.id == ANGOULEME_CLERMONT
    assert (booking.actor, booking.meeting_point) == (REGIONAL.client_id, MEETING_POINT)
    # Not the regional platform's sub for him: the two platforms cannot link him by it.
    assert national_sub != live_server.subject_for(umberto, REGIONAL.client_id)


def test_the_rides_can_be_searched_with_the_search_action(
        live_server: LiveServer, platforms: dict[str, RunningPlatform],
        regional_token: str) -> None:
    token = exchange(live_server, platforms, regional_token, "trips:search")

    answer = requests.get(platforms[NATIONAL.client_id].config.api + "/trips",
                          params={"from": "angouleme", "to": "Clermont-Ferrand"},
                          headers={"Authorization": f"Bearer {token}"}, timeout=10)

    assert answer.status_code == 200, answer.text
    assert [(t["from"], t["to"]) for t in answer.json()["trips"]] == [
        ("Angoulême", "Clermont-Ferrand")]


@pytest.mark.parametrize("which", ["original", "none", "garbage"])
def test_a_token_not_meant_for_the_api_is_refused(
        platforms: dict[str, RunningPlatform], regional_token: str, which: str) -> None:
    """The regional platform's own token names another audience: 401 invalid_token.
    No token at all: 401 with no error code (RFC 6750 3.1)."""
    token = {"original": regional_token, "none": None, "garbage": "a.b.c"}[which]

    answer = book(platforms, token)

    assert answer.status_code == 401
    challenge = answer.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer realm=")
    assert ('error="invalid_token"' in challenge) is (which != "none")
    assert ("error" in answer.json()) is (which != "none")  # nor in the body
    assert sum(len(platform.app.extensions["demo_platform"].bookings._bookings)
               for platform in platforms.values()) == 0


def test_a_token_without_the_booking_action_is_refused(
        live_server: LiveServer, platforms: dict[str, RunningPlatform],
        regional_token: str) -> None:
    token = exchange(live_server, platforms, regional_token, "trips:search")

    answer = book(platforms, token)

    assert answer.status_code == 403
    assert 'error="insufficient_scope"' in answer.headers["WWW-Authenticate"]
    assert 'scope="bookings:create"' in answer.headers["WWW-Authenticate"]


def test_once_the_delegation_is_stopped_its_token_is_refused_at_once(
        live_server: LiveServer, platforms: dict[str, RunningPlatform],
        umberto: LiveTraveller, regional_token: str) -> None:
    """The JWT has not expired: the provider's introspection says it no longer holds."""
    token = exchange(live_server, platforms, regional_token, "bookings:create")

    stop(live_server, platforms, umberto)
    answer = book(platforms, token)

    assert answer.status_code == 401
    assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]
    national_sub = live_server.subject_for(umberto, NATIONAL.client_id)
    assert bookings_at_national(platforms, national_sub) == []


def test_the_regional_site_books_a_national_ride_with_the_usual_meeting_point(
        live_server: LiveServer, platforms: dict[str, RunningPlatform],
        umberto: LiveTraveller, browser: Browser) -> None:
    profile = log_in_on_regional(browser, platforms, umberto)
    assert "Voir les trajets sur Covoiturage national" in profile.text

    page = browser.get(platforms[REGIONAL.client_id].config.origin + "/rides")
    assert page.status_code == 200, page.text
    assert "<h1>Trajets sur Covoiturage national</h1>" in page.text
    assert "Angoulême → Clermont-Ferrand" in page.text
    page = press_book(browser, page, ANGOULEME_CLERMONT)

    assert page.url.endswith("/rides/booked"), page.text
    assert "Votre place est réservée" in page.text
    assert MEETING_POINT in unescape(page.text)
    national_sub = live_server.subject_for(umberto, NATIONAL.client_id)
    assert [b.trip.id for b in bookings_at_national(platforms, national_sub)] == [
        ANGOULEME_CLERMONT]


def test_a_booking_without_the_forms_token_is_refused(
        platforms: dict[str, RunningPlatform], umberto: LiveTraveller,
        browser: Browser) -> None:
    log_in_on_regional(browser, platforms, umberto)

    answer = browser.session.post(platforms[REGIONAL.client_id].config.origin + "/rides/book",
                                  data={"trip_id": ANGOULEME_CLERMONT}, timeout=10)

    assert answer.status_code == 400


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_stopped_delegation_gives_a_plain_message_and_a_way_back(
        live_server: LiveServer, platforms: dict[str, RunningPlatform],
        umberto: LiveTraveller, browser: Browser, method: str) -> None:
    log_in_on_regional(browser, platforms, umberto)
    regional = platforms[REGIONAL.client_id].config.origin
    rides = browser.get(regional + "/rides")

    stop(live_server, platforms, umberto)
    if method == "GET":
        page = browser.get(regional + "/rides")
    else:
        page = press_book(browser, rides, ANGOULEME_CLERMONT)

    assert page.status_code == 403
    assert ("Covoiturage national n’accepte plus nos réservations pour vous. Vous pouvez "
            "l’autoriser\nà nouveau.") in page.text
    assert 'href="/login"' in page.text
    # Logging in again asks him to allow it again.
    assert is_consent_page(browser.get(regional + "/login"))


def test_an_unknown_ride_is_refused_by_the_api_and_said_plainly_by_the_regional_site(
        live_server: LiveServer, platforms: dict[str, RunningPlatform],
        umberto: LiveTraveller, browser: Browser, regional_token: str) -> None:
    token = exchange(live_server, platforms, regional_token, "bookings:create")
    answer = requests.post(platforms[NATIONAL.client_id].config.api + "/bookings",
                           json={"trip_id": "nowhere"}, timeout=10,
                           headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"

    rides = browser.get(platforms[REGIONAL.client_id].config.origin + "/rides")
    page = press_book(browser, rides, "nowhere")

    assert page.status_code == 409
    assert "Ce trajet n’est plus proposé." in page.text


@pytest.mark.parametrize(("what", "status", "words"), [
    ("national stopped", 502, "Covoiturage national ne répond pas. Réessayez plus tard."),
    ("own token revoked", 401, "Votre session a pris fin. Connectez-vous à nouveau."),
], ids=["national-down", "own-token-revoked"])
def test_the_regional_site_says_plainly_when_it_cannot_reach_the_rides(
        live_server: LiveServer, platforms: dict[str, RunningPlatform],
        regional_token: str, browser: Browser, what: str, status: int, words: str) -> None:
    regional = platforms[REGIONAL.client_id].config
    if what == "national stopped":
        platforms[NATIONAL.client_id].stop()
    else:
        revoked = requests.post(live_server.url + "/revoke", data={"token": regional_token},
                                auth=(regional.client_id, regional.client_secret), timeout=10)
        assert revoked.status_code == 200

    page = browser.get(regional.origin + "/rides")

    assert page.status_code == status
    assert words in page.text
    assert "Traceback" not in page.text
