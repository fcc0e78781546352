"""A network over its limit of failed sign-ins (a guesser behind the same address as a
solidarity-mobility office) refuses only the accounts that already failed from it: every
other traveller there still signs in, and a sprayer gets one guess per account."""

from __future__ import annotations

import pytest
import time_machine
from flask import Flask

from idp.accounts import throttle, throttle_network
from tests.accounts.test_throttle import (
    IP,
    NETWORK_LIMIT,
    OTHER_IP,
    UNKNOWN,
    WRONG,
    CountingHasher,
    clock,  # noqa: F401
    from_address,
    log_in,
    without_secrets,
)
from tests.factories import Traveller, make_user

WINDOW = 5 * 60  # the first of throttle.IP_LIMITS


def flood(app: Flask, address: str = IP, *victims: str) -> None:
    """A guesser's failures from ``address``, on other accounts, up to the limit."""
    guesser = from_address(app, address)
    names = list(victims) + [f"victim{n}@example.org" for n in range(NETWORK_LIMIT)]
    for email in names[:NETWORK_LIMIT]:
        assert log_in(guesser, email, WRONG).status_code == 400


def test_a_right_password_passes_from_a_network_over_its_limit(
    app: Flask, user: Traveller, clock: time_machine.Coordinates
) -> None:
    flood(app)

    office = from_address(app, IP)

    assert log_in(office, user.email, user.password).status_code == 302


def test_over_the_limit_a_fresh_account_is_refused_only_from_its_second_try(
    app: Flask, user: Traveller, clock: time_machine.Coordinates
) -> None:
    flood(app)
    office = from_address(app, IP)

    first = log_in(office, user.email, WRONG)
    second = log_in(office, user.email, user.password)

    assert first.status_code == 400
    assert "The email address or the password is not right." in first.text
    assert second.status_code == 429
    assert "too many sign-in attempts from your network" in second.text
    assert 0 < int(second.headers["Retry-After"]) <= WINDOW + 1


def test_an_account_that_failed_from_the_network_is_refused_there_only(
    app: Flask, user: Traveller, clock: time_machine.Coordinates
) -> None:
    flood(app, IP, user.email)  # one of the guesses was on this account

    refused = log_in(from_address(app, IP), user.email, user.password)

    assert refused.status_code == 429
    assert "too many sign-in attempts from your network" in refused.text
    assert log_in(from_address(app, OTHER_IP), user.email, user.password).status_code == 302


def test_the_refusal_ends_with_the_window(
    app: Flask, user: Traveller, clock: time_machine.Coordinates
) -> None:
    flood(app, IP, user.email)
    refused = log_in(from_address(app, IP), user.email, user.password)
    clock.shift(int(refused.headers["Retry-After"]) + 1)

    assert log_in(from_address(app, IP), user.email, user.password).status_code == 302


def test_another_network_is_unaffected(
    app: Flask, user: Traveller, clock: time_machine.Coordinates
) -> None:
    flood(app)
    elsewhere = from_address(app, OTHER_IP)

    assert [log_in(elsewhere, user.email, WRONG).status_code for _ in range(3)] == [400] * 3
    assert log_in(elsewhere, user.email, user.password).status_code == 302


def test_a_sprayer_over_the_limit_gets_one_checked_guess_per_account(
    app: Flask, clock: time_machine.Coordinates
) -> None:
    flood(app)
    travellers = [make_user() for _ in range(3)]
    checked: list[str] = []
    app.extensions["idp.passwords"] = CountingHasher(checked)
    sprayer = from_address(app, IP)

    statuses = [log_in(sprayer, t.email, WRONG).status_code
                for _ in range(3) for t in travellers]

    assert statuses == [400] * 3 + [429] * 6
    assert checked == [t.model.password_hash for t in travellers]  # the refusals cost none


def test_over_the_limit_unknown_and_known_addresses_get_the_same_answers(
    app: Flask, user: Traveller, clock: time_machine.Coordinates
) -> None:
    flood(app)
    answers = {}
    for email in (user.email, UNKNOWN):
        guesser = from_address(app, IP)
        pages = [log_in(guesser, email, WRONG) for _ in range(2)]
        answers[email] = [(p.status_code, without_secrets(p, email)) for p in pages]

    assert answers[user.email] == answers[UNKNOWN]
    assert [status for status, _ in answers[UNKNOWN]] == [400, 429]


def test_a_second_factor_failure_is_marked_apart_from_the_password(app: Flask) -> None:
    # The two run separately at the account level (throttle.KINDS): a typo in the code
    # must not hold back the password, nor the reverse.
    with app.test_request_context(environ_base={"REMOTE_ADDR": IP}):
        keys = {throttle_network.mark_key(throttle.KINDS[kind], user)
                for kind in ("password", "otp") for user in (UNKNOWN, UNKNOWN.upper())}

    assert len(keys) == 2
    assert not any(UNKNOWN in key or IP in key for key in keys)


@pytest.mark.parametrize("address", ["203.0.113.8", "2001:db8:1:3::1"])
def test_a_mark_belongs_to_one_network(app: Flask, address: str) -> None:
    def key(remote: str) -> str:
        with app.test_request_context(environ_base={"REMOTE_ADDR": remote}):
            return throttle_network.mark_key("password", UNKNOWN)

    assert key(IP) != key(address)
    assert key("2001:db8:1:2::1") == key("2001:db8:1:2:ffff::9")  # one /64, one network


def test_every_throttled_form_named_exists(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()
                 if "POST" in (rule.methods or ())}

    assert endpoints >= throttle.SIGN_IN_ENDPOINTS | throttle.EVERY_POST_ENDPOINTS
