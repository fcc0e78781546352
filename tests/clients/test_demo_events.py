"""Issue 14, parts 4 and 5, over real HTTP: the demo platforms are told when Umberto stops
the delegation. Each receives the provider's Security Event Token at /events (RFC 8935),
checks it, and says so on its pages for him; a token that is not the provider's, not
for it, or not a SET is refused and changes nothing."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from clients.demo import NATIONAL, REGIONAL
from clients.demo_platform.events import MEDIA_TYPE, StoppedDelegation
from clients.demo_platform.serve import RunningPlatform, start
from idp.accounts.models import User
from idp.extensions import db, utcnow
from idp.oauth.backchannel import create_logout_token, sign
from idp.oauth.events import StoppedDelegation as Stopped
from idp.oauth.events import create_event_token, event_claims
from idp.oauth.models import Client
from tests.clients.test_demo_api import log_in_on_regional, stop
from tests.clients.test_demo_platform import (  # noqa: F401  (fixtures)
    Browser,
    browser,
    deliver_outbox,
    is_consent_page,
    platforms,
    umberto,
)
from tests.live import HOST, LiveServer, LiveTraveller, live_server  # noqa: F401

REGIONAL_NOTICE = "Vous avez arrêté nos réservations sur Covoiturage national le {day}."
NATIONAL_NOTICE = "Covoiturage régional ne réserve plus pour vous (arrêté le {day})."


def today() -> str:
    return StoppedDelegation("", "", "", datetime.now(UTC)).day


def signed(live_server: LiveServer, platforms: dict[str, RunningPlatform],
           umberto: LiveTraveller, client_id: str,
           how: Callable[[User, Client, Stopped], str] | None = None) -> str:
    """The event the provider pushes to ``client_id`` when Umberto stops the delegation,
    or another token ``how`` makes from the same parts."""
    stopped = Stopped(REGIONAL.client_id, str(platforms[NATIONAL.client_id].config.api),
                      NATIONAL.client_id, ["trips:search", "bookings:create"])
    with live_server.app.app_context():
        user = db.session.scalar(db.select(User).where(User.subject == umberto.subject))
        client = db.session.scalar(db.select(Client).where(Client.client_id == client_id))
        assert user is not None and client is not None
        token = (how or (lambda u, c, s: create_event_token(u, c, s, utcnow())))(
            user, client, stopped)
        db.session.remove()
    return token


def push(platform: RunningPlatform, token: str,
         content_type: str = MEDIA_TYPE) -> requests.Response:
    return requests.post(platform.config.origin + "/events", data=token.encode(),
                         headers={"Content-Type": content_type}, timeout=10)


def recorded(platforms: dict[str, RunningPlatform], live_server: LiveServer,
             umberto: LiveTraveller, client_id: str) -> StoppedDelegation | None:
    sub = live_server.subject_for(umberto, client_id)
    found: StoppedDelegation | None = \
        platforms[client_id].app.extensions["demo_platform"].stopped.of(sub)
    return found


@pytest.mark.parametrize("client_id", [REGIONAL.client_id, NATIONAL.client_id])
def test_a_valid_event_is_accepted_and_recorded_for_the_traveller(
        live_server: LiveServer, platforms: dict[str, RunningPlatform],
        umberto: LiveTraveller, client_id: str) -> None:
    answer = push(platforms[client_id], signed(live_server, platforms, umberto, client_id))

    assert answer.status_code == 202, answer.text
    found = recorded(platforms, live_server, umberto, client_id)
    assert found is not None
    assert (found.actor, found.resource) == (REGIONAL.client_id,
                                              platforms[NATIONAL.client_id].config.api)


def other_key_signature(live_server: LiveServer, platforms: dict[str, RunningPlatform],
                        umberto: LiveTraveller) -> str:
    """The national platform's event with the signature of another event: not verified."""
    header, payload, _ = signed(live_server, platforms, umberto, NATIONAL.client_id).split(".")
    other = signed(live_server, platforms, umberto, REGIONAL.client_id).split(".")[2]
    return f"{header}.{payload}.{other}"


def typed(typ: str) -> Callable[[User, Client, Stopped], str]:
    return lambda user, client, stopped: sign(
        event_claims(user, client, stopped, int(utcnow().timestamp())),
        client.id_token_signed_response_alg, typ)


def altered(**changes: Any) -> Callable[[User, Client, Stopped], str]:
    """The provider's event with some claims changed (None: left out), signed by it."""
    def make(user: User, client: Client, stopped: Stopped) -> str:
        claims = {**event_claims(user, client, stopped, int(utcnow().timestamp())), **changes}
        return sign({k: v for k, v in claims.items() if v is not None},
                    client.id_token_signed_response_alg, "secevent+jwt")
    return make


@pytest.mark.parametrize(("what", "err"), [
    ("wrong aud", "invalid_audience"),
    ("wrong typ", "invalid_request"),
    ("bad signature", "authentication_failed"),
    ("wrong content type", "invalid_request"),
    ("wrong iss", "invalid_issuer"),
    ("not a jwt", "authentication_failed"),
    ("no sub_id", "invalid_request"),
    ("no events", "invalid_request"),
])
def test_a_refused_event_gets_400_and_records_nothing(
        live_server: LiveServer, platforms: dict[str, RunningPlatform],
        umberto: LiveTraveller, what: str, err: str) -> None:
    national = platforms[NATIONAL.client_id]
    content_type = MEDIA_TYPE
    if what == "wrong aud":  # the regional platform's event, sent to the national one
        token = signed(live_server, platforms, umberto, REGIONAL.client_id)
    elif what == "wrong typ":  # a logout token's type: a SET cannot pass for one, or back
        token = signed(live_server, platforms, umberto, NATIONAL.client_id, typed("logout+jwt"))
    elif what == "bad signature":
        token = other_key_signature(live_server, platforms, umberto)
    elif what in ("wrong iss", "no sub_id", "no events"):
        change = {"wrong iss": {"iss": "https://id.elsewhere.example"},
                  "no sub_id": {"sub_id": None}, "no events": {"events": None}}[what]
        token = signed(live_server, platforms, umberto, NATIONAL.client_id, altered(**change))
    elif what == "not a jwt":
        token = "not-a-token"
    else:
        token = signed(live_server, platforms, umberto, NATIONAL.client_id)
        content_type = "application/jwt"

    answer = push(national, token, content_type)

    assert answer.status_code == 400
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.json()["err"] == err
    assert answer.json()["description"]
    assert recorded(platforms, live_server, umberto, NATIONAL.client_id) is None


def test_once_umberto_stops_both_platforms_are_told_and_say_so_to_him(
        live_server: LiveServer, platforms: dict[str, RunningPlatform],
        umberto: LiveTraveller, browser: Browser,
        caplog: pytest.LogCaptureFixture) -> None:
    """The provider's own outbox pushes the events; each site tells Umberto, and only
    him, on its pages; neither logs his `sub`."""
    regional = platforms[REGIONAL.client_id].config.origin
    national = platforms[NATIONAL.client_id].config.origin
    log_in_on_regional(browser, platforms, umberto)
    assert is_consent_page(page := browser.get(national + "/login"))
    assert browser.allow_all(page).url == national + "/profile"
    assert "Vous avez arrêté" not in browser.get(regional + "/").text

    stop(live_server, platforms, umberto)
    assert deliver_outbox(live_server) == {"delivered": 2}

    day = today()
    assert REGIONAL_NOTICE.format(day=day) in browser.get(regional + "/").text
    rides = browser.get(regional + "/rides")
    assert rides.status_code == 403
    assert REGIONAL_NOTICE.format(day=day) in rides.text
    assert NATIONAL_NOTICE.format(day=day) in browser.get(national + "/").text
    # Someone who is not him sees none.
    assert "ne réserve plus" not in Browser().get(national + "/").text
    for client_id in (REGIONAL.client_id, NATIONAL.client_id):
        assert live_server.subject_for(umberto, client_id) not in caplog.text


@contextmanager
def cut_off_from_the_provider(platform: RunningPlatform) -> Iterator[RunningPlatform]:
    """Another instance of the platform, whose provider is at an address where nothing
    answers: it cannot fetch the provider's keys."""
    with socket.create_server((HOST, 0)) as gone, socket.create_server((HOST, 0)) as sock:
        unreachable = f"http://{HOST}:{gone.getsockname()[1]}"
        config = replace(platform.config, issuer=unreachable, port=sock.getsockname()[1])
        cut_off = start(config, sock)
    try:
        yield cut_off
    finally:
        cut_off.stop()


def test_an_event_that_cannot_be_checked_yet_is_left_for_a_retry(
        live_server: LiveServer, platforms: dict[str, RunningPlatform],
        umberto: LiveTraveller) -> None:
    """The platform cannot reach the provider's keys: 503, which the provider retries
    (RFC 8935 2.2 wants 202 for an accepted event); nothing recorded, no error page."""
    token = signed(live_server, platforms, umberto, NATIONAL.client_id)
    with cut_off_from_the_provider(platforms[NATIONAL.client_id]) as cut_off:
        answer = push(cut_off, token)

        assert answer.status_code == 503
        assert cut_off.app.extensions["demo_platform"].stopped.of(
            live_server.subject_for(umberto, NATIONAL.client_id)) is None


def test_a_logout_token_that_cannot_be_checked_yet_is_left_for_a_retry(
        live_server: LiveServer, platforms: dict[str, RunningPlatform],
        umberto: LiveTraveller) -> None:
    """Back-channel logout, the same: the provider's keys out of reach, the platform
    answers 503 (the provider's outbox retries it), never a 500."""
    token = signed(live_server, platforms, umberto, NATIONAL.client_id,
                   lambda user, client, _: create_logout_token(user, client))
    with cut_off_from_the_provider(platforms[NATIONAL.client_id]) as cut_off:
        answer = requests.post(cut_off.config.origin + "/backchannel-logout",
                               data={"logout_token": token}, timeout=10)

        assert answer.status_code == 503
        assert answer.headers["Cache-Control"] == "no-store"


def test_an_oversized_body_is_not_read(platforms: dict[str, RunningPlatform]) -> None:
    answer = push(platforms[NATIONAL.client_id], "x" * 100_000)

    assert answer.status_code == 413
