"""Resistance to guessing (ASVS 2.2.1, NIST 800-63B 5.2.2): growing delays per account,
a limit per network, notices to the owner, and no way to tell known addresses apart."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import pytest
import redis
import time_machine
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from idp import create_app
from idp.accounts import throttle
from idp.extensions import db
from idp.settings import load_settings
from tests import conftest
from tests.browser import ISSUER, Browser, csrf_token
from tests.conftest import TEST_CONFIG, IsolatedClient
from tests.factories import Traveller, make_user
from tests.mail import Mailbox, mailbox, smtp_server  # noqa: F401

# Redis database 15, fixed here: under pytest-xdist every test that uses it runs in
# one worker, one after the other (both backends' included).
pytestmark = pytest.mark.xdist_group("redis-15")

IP = "203.0.113.7"
OTHER_IP = "198.51.100.9"
WRONG = "not the right password at all"
UNKNOWN = "nobody-here@example.org"
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
REDIS_URL = "redis://127.0.0.1:6379/15"
FREE = throttle.FREE_FAILURES
NETWORK_LIMIT = 30  # the first of throttle.IP_LIMITS


def from_address(app: Flask, address: str, **environ: str) -> FlaskClient:
    """A browser of its own (cookies) at ``address``."""
    app.test_client_class = IsolatedClient
    client = app.test_client()
    # Pages in English, whose words the tests read.
    client.environ_base.update({"REMOTE_ADDR": address, "HTTP_ACCEPT_LANGUAGE": "en", **environ})
    return client


def log_in(client: FlaskClient, email: str, password: str, **headers: str) -> TestResponse:
    page = client.get("/login")
    # Over https, the CSRF check compares the Referer with our host.
    return client.post("/login", headers={"Referer": f"{ISSUER}/login", **headers}, data={
        "csrf_token": csrf_token(page.get_data(as_text=True)),
        "email": email, "password": password,
    })


def fail(client: FlaskClient, email: str, times: int) -> list[int]:
    return [log_in(client, email, WRONG).status_code for _ in range(times)]


def without_secrets(page: TestResponse, email: str) -> str:
    """The page without what differs by design: the CSRF token and the typed address."""
    html = re.sub(r'name="csrf_token" type="hidden" value="[^"]+"', "", page.get_data(as_text=True))
    return html.replace(email, "EMAIL")


@pytest.fixture
def english(app: Flask) -> Traveller:
    """A traveller who chose English: the mail they get is in English."""
    return make_user(locale="en")


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(datetime(2030, 5, 6, 9, 0, tzinfo=UTC), tick=False) as traveller:
        yield traveller


def test_the_free_failures_then_a_refusal_while_another_account_signs_in(
    app: Flask, user: Traveller, clock: time_machine.Coordinates
) -> None:
    guesser = from_address(app, IP)
    other = make_user()

    assert fail(guesser, user.email, FREE + 1) == [400] * (FREE + 1)
    refused = log_in(guesser, user.email, user.password)

    assert refused.status_code == 429
    assert "Too many attempts for this account. Try again in 1 minute." in refused.text
    assert log_in(from_address(app, OTHER_IP), other.email, other.password).status_code == 302


def test_once_the_delay_has_passed_an_attempt_is_checked_again(
    app: Flask, user: Traveller, clock: time_machine.Coordinates
) -> None:
    guesser = from_address(app, IP)
    fail(guesser, user.email, FREE + 1)
    clock.shift(20)
    assert log_in(guesser, user.email, user.password).status_code == 429

    clock.shift(11)

    assert log_in(guesser, user.email, user.password).status_code == 302


def test_each_further_failure_doubles_the_delay(
    app: Flask, user: Traveller, clock: time_machine.Coordinates
) -> None:
    guesser = from_address(app, IP)
    fail(guesser, user.email, FREE + 1)  # 30 s
    waits = []
    for delay in (30, 60, 120, 240):
        clock.shift(delay + 1)
        assert fail(guesser, user.email, 1) == [400]  # the next delay starts
        refused = log_in(guesser, user.email, user.password)
        waits.append(re.search(r"Try again in (\d+) minute", refused.text).group(1))  # type: ignore[union-attr]
        clock.shift(delay * 2 - 5)
        assert log_in(guesser, user.email, user.password).status_code == 429

    assert waits == ["1", "2", "4", "8"]


def test_the_delays_stop_growing_at_the_cap() -> None:
    delays = [throttle.delay_after(n) for n in range(1, 20)]

    assert delays[:FREE] == [0] * FREE
    assert delays[FREE:FREE + 3] == [30, 60, 120]
    assert max(delays) == throttle.MAX_DELAY == delays[-1]


def test_a_success_forgets_the_failures(
    app: Flask, user: Traveller, clock: time_machine.Coordinates
) -> None:
    guesser = from_address(app, IP)
    fail(guesser, user.email, FREE)
    assert log_in(guesser, user.email, user.password).status_code == 302

    assert fail(from_address(app, IP), user.email, FREE + 1) == [400] * (FREE + 1)


def test_failures_are_forgotten_after_a_quiet_day(
    app: Flask, user: Traveller, clock: time_machine.Coordinates
) -> None:
    fail(from_address(app, IP), user.email, FREE)
    clock.shift(throttle.QUIET_PERIOD + 1)

    assert fail(from_address(app, IP), user.email, FREE + 1) == [400] * (FREE + 1)


def test_unknown_and_known_addresses_get_the_same_answers(
    app: Flask, user: Traveller, clock: time_machine.Coordinates
) -> None:
    answers = {}
    for email, address in ((user.email, IP), (UNKNOWN, OTHER_IP)):
        guesser = from_address(app, address)
        pages = [log_in(guesser, email, WRONG) for _ in range(FREE + 2)]
        clock.shift(31)
        pages.append(log_in(guesser, email, WRONG))
        answers[email] = [(p.status_code, without_secrets(p, email)) for p in pages]
        clock.shift(-31)

    assert answers[user.email] == answers[UNKNOWN]
    assert [status for status, _ in answers[UNKNOWN]] == [400] * (FREE + 1) + [429, 400]


def test_the_address_is_normalized_before_counting(
    app: Flask, user: Traveller, clock: time_machine.Coordinates
) -> None:
    guesser = from_address(app, IP)
    spellings = [user.email.upper(), f"  {user.email}", user.email.title()]
    for n in range(FREE + 1):
        log_in(guesser, spellings[n % 3], WRONG)

    assert log_in(guesser, user.email, user.password).status_code == 429


def test_the_network_limit_spans_accounts_but_refuses_only_those_that_failed_there(
    app: Flask, user: Traveller, clock: time_machine.Coordinates
) -> None:
    # Until issue 9, a network over its limit refused everyone, even a right password for
    # an account never guessed at: one guesser shut a whole social centre out. Now only
    # the accounts that failed from this network are refused (test_throttle_network.py).
    stuffer = from_address(app, IP)
    statuses = [log_in(stuffer, f"victim{n}@example.org", WRONG).status_code
                for n in range(NETWORK_LIMIT - 1)]
    statuses.append(log_in(stuffer, user.email, WRONG).status_code)

    refused = log_in(stuffer, user.email, user.password)

    assert statuses == [400] * NETWORK_LIMIT
    assert refused.status_code == 429
    assert "too many sign-in attempts from your network" in refused.text
    assert 0 < int(refused.headers["Retry-After"]) <= 301
    assert log_in(from_address(app, OTHER_IP), user.email, user.password).status_code == 302
    clock.shift(301)
    assert log_in(stuffer, user.email, user.password).status_code == 302


def test_the_network_page_speaks_french(app: Flask, clock: time_machine.Coordinates) -> None:
    stuffer = from_address(app, IP, HTTP_ACCEPT_LANGUAGE="fr")
    for n in range(NETWORK_LIMIT):
        log_in(stuffer, f"victim{n}@example.org", WRONG)

    refused = log_in(stuffer, "victim0@example.org", WRONG)

    assert refused.status_code == 429
    assert '<html lang="fr">' in refused.text


def test_successful_sign_ins_do_not_use_up_the_network_limit(
    app: Flask, user: Traveller, clock: time_machine.Coordinates
) -> None:
    office = from_address(app, IP)

    statuses = {log_in(office, user.email, user.password).status_code
                for _ in range(NETWORK_LIMIT + 1)}

    assert statuses == {302}


def test_an_ipv6_client_is_counted_by_its_64(
    app: Flask, clock: time_machine.Coordinates
) -> None:
    for n in range(NETWORK_LIMIT):
        log_in(from_address(app, f"2001:db8:1:2::{n + 1:x}"), f"v{n}@example.org", WRONG)

    neighbour = from_address(app, "2001:db8:1:2:ffff::1")
    elsewhere = from_address(app, "2001:db8:1:3::1")

    assert log_in(neighbour, "v0@example.org", WRONG).status_code == 429
    assert log_in(elsewhere, "v0@example.org", WRONG).status_code == 400


def test_the_password_reset_form_counts_every_request(
    app: Flask, user: Traveller, clock: time_machine.Coordinates
) -> None:
    asker = from_address(app, IP)
    statuses = []
    for n in range(NETWORK_LIMIT + 1):
        page = asker.get("/password/forgot")
        statuses.append(asker.post("/password/forgot", headers={"Referer": ISSUER}, data={
            "csrf_token": csrf_token(page.get_data(as_text=True)),
            "email": f"someone{n}@example.org",
        }).status_code)

    assert statuses == [302] * NETWORK_LIMIT + [429]


def test_the_confirmation_page_shares_the_account_delay(
    clock: time_machine.Coordinates, app: Flask, logged_in: Browser, user: Traveller
) -> None:
    logged_in.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    for _ in range(FREE + 1):
        logged_in.get("/account/confirm")
        assert logged_in.submit("/account/confirm", {"password": WRONG}).status_code == 400

    logged_in.get("/account/confirm")
    refused = logged_in.submit("/account/confirm", {"password": user.password})

    assert refused.status_code == 429
    assert 'id="password-error"' in refused.text and "Try again in 1 minute" in refused.text
    assert log_in(from_address(app, OTHER_IP), user.email, user.password).status_code == 429
    clock.shift(31)
    logged_in.get("/account/confirm")
    assert logged_in.submit("/account/confirm", {"password": user.password}).status_code == 302


def test_the_owner_is_told_once_when_the_delays_start(
    app: Flask, english: Traveller, mailbox: Mailbox, clock: time_machine.Coordinates
) -> None:
    guesser = from_address(app, IP)
    for page in [log_in(guesser, english.email, WRONG) for _ in range(FREE + 1)]:
        assert mailbox.messages == []  # nothing leaves before the response is sent
        page.close()  # the server has sent the response
    clock.shift(31)
    log_in(guesser, english.email, WRONG).close()  # a second, longer delay: no second mail

    (notice,) = mailbox.to(english.email)
    body = mailbox.body(notice)
    assert notice["Subject"] == "Someone is trying to sign in to your Mobility ID account"
    assert "wait a few minutes" in body and "two-step verification" in body
    assert WRONG not in body and IP not in body


def test_nobody_is_told_about_an_unknown_address(
    app: Flask, mailbox: Mailbox, clock: time_machine.Coordinates
) -> None:
    guesser = from_address(app, IP)
    for _ in range(FREE + 1):
        log_in(guesser, UNKNOWN, WRONG).close()

    assert mailbox.messages == []


def test_a_sign_in_after_failures_is_told_to_the_owner(
    app: Flask, english: Traveller, mailbox: Mailbox, clock: time_machine.Coordinates
) -> None:
    browser = from_address(app, IP, HTTP_USER_AGENT=FIREFOX_LINUX)
    fail(browser, english.email, 3)

    log_in(browser, english.email, english.password).close()

    body = mailbox.body(mailbox.last(english.email))
    assert "after 3 failed attempts" in body
    assert "2030-05-06 11:00 CEST" in body  # 09:00 UTC, told in Paris time
    assert "Firefox on Linux" in body
    assert "203.0.113.x" in body and IP not in body and english.password not in body


def test_a_typo_before_signing_in_sends_no_mail(
    app: Flask, english: Traveller, mailbox: Mailbox, clock: time_machine.Coordinates
) -> None:
    browser = from_address(app, IP)
    fail(browser, english.email, throttle.NOTICE_AFTER_FAILURES - 1)

    log_in(browser, english.email, english.password).close()

    assert mailbox.messages == []


@pytest.fixture
def redis_app(app: Flask, database_url: str) -> Iterator[Flask]:
    """The provider with its throttling state in Redis (database 15, emptied)."""
    server = redis.Redis.from_url(REDIS_URL)
    try:
        server.flushdb()
    except redis.ConnectionError:
        server.close()
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    shared = create_app(settings=conftest.test_settings(database_url, redis_url=REDIS_URL),
                        config=TEST_CONFIG)
    yield shared
    server.flushdb()
    server.close()
    with shared.app_context():
        db.engine.dispose()


def test_the_redis_storage_is_shared_by_every_worker(
    redis_app: Flask, database_url: str, user: Traveller
) -> None:
    another_worker = create_app(settings=conftest.test_settings(database_url, redis_url=REDIS_URL),
                                config=TEST_CONFIG)
    fail(from_address(redis_app, IP), user.email, FREE + 1)

    refused = log_in(from_address(another_worker, OTHER_IP), user.email, user.password)

    assert refused.status_code == 429
    keys = [k.decode() for k in redis.Redis.from_url(REDIS_URL).keys("*")]
    assert keys and not any(user.email in k or user.email.split("@")[0] in k for k in keys)
    assert not any(IP in k or OTHER_IP in k for k in keys)  # nor the network, in clear
    with another_worker.app_context():
        db.engine.dispose()


class CountingHasher(PasswordHasher):
    """argon2's hasher, noting each hash a password is checked against."""

    def __init__(self, checked: list[str]) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.checked = checked

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:  # noqa: A002
        self.checked.append(str(hash))
        return super().verify(hash, password)


def test_an_unknown_address_costs_a_password_check_like_a_known_one(
    app: Flask, user: Traveller
) -> None:
    # authenticate() checks an unknown address against a dummy hash, so that both answers
    # take the same time; the throttle must not add a shortcut before it.
    checked: list[str] = []
    app.extensions["idp.passwords"] = CountingHasher(checked)

    for email in (user.email, UNKNOWN):
        assert log_in(from_address(app, IP), email, WRONG).status_code == 400

    assert len(checked) == 2
    assert checked[0] == user.model.password_hash
    assert checked[1] == app.extensions["idp.dummy_hash"]


def test_the_number_of_trusted_proxies_comes_from_the_environment(tmp_path: Path) -> None:
    environ = {"IDP_TRUSTED_PROXIES": "2"}

    assert load_settings(tmp_path, environ=environ).trusted_proxies == 2
    assert load_settings(tmp_path, environ={}).trusted_proxies == 0
