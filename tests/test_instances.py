"""Several instances agree (issue 11, part 3): two gunicorn processes of the production
command on one PostgreSQL database and one Redis, behind one issuer (``tests.instances``),
hand each other every piece of state a traveller or a platform can leave with one of
them. PostgreSQL only: a SQLite file is no deployment of several instances."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from flask import Flask

from idp.extensions import db
from idp.keys import SUPPORTED_ALGS, SigningKey
from idp.oauth.models import Client, Token
from tests.browser import csrf_token
from tests.instances import (  # noqa: F401  (pair and kept_keys are fixtures)
    KEY_RECHECK_SECONDS,
    Pair,
    Platform,
    add_platform,
    add_traveller,
    authorization,
    code_of,
    id_token_kid,
    kept_keys,
    pair,
    published_kids,
    redeem,
    revoke_platform,
    start_pair,
    via,
)
from tests.live import HttpBrowser
from tests.servers import BIN, ROOT, Server

POLL = 0.05


def test_instances_started_together_on_no_keys_sign_with_the_same_ones(
        app: Flask, kept_keys: None, database_url: str, tmp_path: Path) -> None:
    """The first start of a deployment: both instances look for keys at once (pre-fork),
    find none, and must end with one set, not one each that the other does not publish
    (an hour's recheck here, so that a disagreement would last)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("only PostgreSQL is shared by several instances")
    with db.engine.begin() as connection:
        connection.execute(sa.delete(SigningKey))
    both = start_pair(database_url, tmp_path, IDP_KEY_RECHECK_SECONDS="3600")
    try:
        published = [_kids_of_every_worker(both, server) for server in (both.a, both.b)]
    finally:
        for server in (both.a, both.b):
            server.stop()

    algs = db.session.scalars(sa.select(SigningKey.alg)).all()
    assert sorted(algs) == sorted(SUPPORTED_ALGS)
    assert published[0] == published[1]


def _kids_of_every_worker(pair: Pair, server: Server) -> set[str]:
    """The kids in a JWKS, the same in answers from new connections (any worker)."""
    http = pair.session(server)
    http.headers["Connection"] = "close"
    answers = {frozenset(published_kids(http, pair)) for _ in range(8)}
    assert len(answers) == 1, answers
    return set(answers.pop())


def test_a_code_issued_by_one_is_redeemed_at_the_other(app: Flask, pair: Pair) -> None:
    traveller, platform = add_traveller(), add_platform(pair)
    browser = pair.browser()
    via(browser.session, pair, pair.a)
    request = authorization(pair, platform)

    browser.get(request.url)
    browser.submit({"email": traveller.email, "password": traveller.password})
    code = code_of(browser.allow_all(), request, pair)
    tokens = redeem(pair.session(pair.b), pair, platform, request, code)
    userinfo = pair.session(pair.a).get(
        f"{pair.issuer}/userinfo", timeout=10,
        headers={"Authorization": f"Bearer {tokens['access_token']}"})

    assert userinfo.status_code == 200, userinfo.text
    assert userinfo.json()["given_name"] == "Umberto"
    id_token_kid(pair.session(pair.a), pair, platform, tokens["id_token"])


def test_on_an_http_issuer_the_session_cookie_is_not_secure_and_holds_the_csrf_token(
        app: Flask, pair: Pair) -> None:
    """What the cookie jar carried between the instances: one cookie, the signed session
    (Flask-WTF keeps the CSRF token in it, so there is no CSRF cookie). An http issuer
    cannot have ``Secure`` nor, therefore, the ``__Host-`` prefix; production on https
    has both (idp.configure)."""
    browser = pair.browser()
    via(browser.session, pair, pair.a)

    page = browser.get(f"{pair.issuer}/login")
    cookies = {cookie.name: cookie for cookie in browser.session.cookies}

    assert 'name="csrf_token"' in page.text
    assert set(cookies) == {"idp_session"}
    assert not cookies["idp_session"].secure
    assert cookies["idp_session"].has_nonstandard_attr("HttpOnly")
    assert "SameSite=Lax" in page.headers["Set-Cookie"]


def test_a_consent_withdrawn_at_one_is_refused_at_the_other_at_once(
        app: Flask, pair: Pair) -> None:
    traveller, platform = add_traveller(), add_platform(pair)
    browser = pair.browser()
    via(browser.session, pair, pair.a)
    request = authorization(pair, platform)
    browser.get(request.url)
    browser.submit({"email": traveller.email, "password": traveller.password})
    tokens = redeem(pair.session(pair.a), pair, platform, request,
                    code_of(browser.allow_all(), request, pair))
    at_b = pair.session(pair.b)
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}

    def introspect() -> bool:
        answer = at_b.post(f"{pair.issuer}/introspect", timeout=10,
                           auth=(platform.client_id, platform.secret),
                           data={"token": tokens["access_token"]})
        assert answer.status_code == 200, answer.text
        active: bool = answer.json()["active"]
        return active

    # The first answer is Flask's; the next ones are made under it (issue 13).
    for _ in range(3):
        assert at_b.get(f"{pair.issuer}/userinfo", headers=bearer,
                        timeout=10).status_code == 200
        assert introspect()

    revoke_platform(browser, pair, platform)  # through door A

    assert at_b.get(f"{pair.issuer}/userinfo", headers=bearer, timeout=10).status_code == 401
    assert not introspect()


def test_throttling_counts_failures_at_both_instances_together(
        app: Flask, pair: Pair) -> None:
    """Five failures cost nothing (idp.accounts.throttle.FREE_FAILURES), the sixth starts
    a delay: made three at A and three at B, they refuse even the right password."""
    traveller = add_traveller()
    browser = pair.browser()

    def sign_in(server: Server, password: str) -> requests.Response:
        via(browser.session, pair, server)
        browser.get(f"{pair.issuer}/login")
        return browser.submit({"email": traveller.email, "password": password})

    wrong = [sign_in(server, "not the right password at all")
             for server in (pair.a, pair.b, pair.a, pair.b, pair.a, pair.b)]
    refused = sign_in(pair.a, traveller.password)

    assert [page.status_code for page in wrong] == [400] * 6  # checked and refused
    assert refused.status_code == 429, refused.text[:500]
    assert "Trop de tentatives pour ce compte" in refused.text


def test_an_interaction_started_on_one_finishes_on_the_other(app: Flask, pair: Pair) -> None:
    """Login page from A, login at B, consent screen from A, consent at B, code at A."""
    traveller, platform = add_traveller(), add_platform(pair)
    browser = pair.browser()
    request = authorization(pair, platform)

    via(browser.session, pair, pair.a)
    login_page = browser.get(request.url)
    via(browser.session, pair, pair.b)
    after_login = browser.session.post(
        login_page.url, timeout=10, allow_redirects=False,
        headers={"Referer": login_page.url},
        data={"email": traveller.email, "password": traveller.password,
              "csrf_token": csrf_token(login_page.text)})
    via(browser.session, pair, pair.a)
    consent_screen = browser.page = browser.follow(after_login)
    via(browser.session, pair, pair.b)
    answer = browser.allow_all()
    via(browser.session, pair, pair.a)
    tokens = redeem(pair.session(pair.a), pair, platform, request,
                    code_of(answer, request, pair))

    assert 'name="password"' in login_page.text
    assert "/consent/" in consent_screen.text
    assert tokens["token_type"] == "Bearer"


def test_a_key_rotated_with_the_cli_is_published_then_used_by_both(
        app: Flask, kept_keys: None, pair: Pair) -> None:
    """``idp keys rotate``: published by both instances within the key cache's recheck
    time (IDP_KEY_RECHECK_SECONDS), and signing at both once its publish delay is over."""
    traveller, platform = add_traveller(), add_platform(pair)
    browser = pair.browser()
    via(browser.session, pair, pair.a)
    first = authorization(pair, platform)
    browser.get(first.url)
    browser.submit({"email": traveller.email, "password": traveller.password})
    at_a = pair.session(pair.a)
    tokens = redeem(at_a, pair, platform, first, code_of(browser.allow_all(), first, pair))
    old_kid = id_token_kid(at_a, pair, platform, tokens["id_token"])
    delay = 3  # seconds; the key signs from then on, at every worker of both

    rotated = subprocess.run(
        [str(BIN / "idp"), "keys", "rotate", "--publish-delay", str(delay), "--json"],
        env=pair.environ, cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    stored = time.monotonic()
    new_kid = json.loads(rotated.stdout)["kid"]
    published = [_first_seen(pair, server, new_kid) - stored for server in (pair.a, pair.b)]
    _wait_until(stored + delay)  # stored after the CLI computed the activation

    assert new_kid != old_kid
    # Every worker rechecks at its first request past the recheck time; a little more
    # for the polls themselves on a busy machine.
    assert max(published) <= KEY_RECHECK_SECONDS + 2.0, published
    for server in (pair.a, pair.b):
        assert _id_token_kid_at(pair, browser, platform, server) == new_kid


def _id_token_kid_at(pair: Pair, browser: HttpBrowser, platform: Platform,
                     server: Server) -> str:
    """A new authorization (the consent is remembered) whose code is redeemed at
    ``server``; the kid of the ID token it returns."""
    request = authorization(pair, platform)
    code = code_of(browser.get(request.url), request, pair)
    http = pair.session(server)
    tokens = redeem(http, pair, platform, request, code)
    return id_token_kid(http, pair, platform, tokens["id_token"])


def _first_seen(pair: Pair, server: Server, kid: str) -> float:
    """When every worker of this instance publishes ``kid``: each gunicorn worker has its
    own key cache, so each poll opens a new connection (any worker may accept it), and
    the kid must be in several answers in a row."""
    http = pair.session(server)
    http.headers["Connection"] = "close"
    deadline = time.monotonic() + KEY_RECHECK_SECONDS + 10
    in_a_row = 0
    while in_a_row < 8:
        assert time.monotonic() < deadline, f"{kid} is not published by {server.url}"
        in_a_row = in_a_row + 1 if kid in published_kids(http, pair) else 0
        if not in_a_row:
            time.sleep(POLL)
    return time.monotonic()


def _wait_until(moment: float) -> None:
    """The instances' own clocks must pass the activation: poll the clock, no fixed sleep."""
    while time.monotonic() < moment:
        time.sleep(POLL)


def test_two_refreshes_of_one_token_at_both_instances_leave_no_two_families(
        app: Flask, pair: Pair) -> None:
    """Issue 13, part 4: the same refresh token sent at once to both instances (a client
    retrying, or a thief racing the platform). One rotation wins; the other is a reuse,
    refused with invalid_grant, and there are never two live refresh tokens (RFC 9700
    4.14.2 revokes the family on reuse, so at most the winner's could be)."""
    traveller, platform = add_traveller(), add_platform(pair)
    browser = pair.browser()
    via(browser.session, pair, pair.a)
    request = authorization(pair, platform, scope="openid offline_access")
    browser.get(request.url)
    browser.submit({"email": traveller.email, "password": traveller.password})
    tokens = redeem(pair.session(pair.a), pair, platform, request,
                    code_of(browser.allow_all(), request, pair))
    # One refresh answered by each instance's Flask first: the race is then between
    # the two instances' direct answers (idp.oauth.refresh_direct), each of which
    # spends the token in the statement that writes the new one.
    for door in (pair.a, pair.b):
        renewed = pair.session(door).post(
            f"{pair.issuer}/token", timeout=10, auth=(platform.client_id, platform.secret),
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
        assert renewed.status_code == 200, renewed.text
        tokens = renewed.json()
    sessions = [pair.session(pair.a), pair.session(pair.b)]
    start = threading.Barrier(2)
    answers: list[requests.Response] = []

    def refresh(http: requests.Session) -> None:
        start.wait()
        answers.append(http.post(f"{pair.issuer}/token", timeout=10,
                                 auth=(platform.client_id, platform.secret),
                                 data={"grant_type": "refresh_token",
                                       "refresh_token": tokens["refresh_token"]}))

    racers = [threading.Thread(target=refresh, args=(http,)) for http in sessions]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200, 400], [answer.text for answer in answers]
    refused = next(answer for answer in answers if answer.status_code == 400)
    assert refused.json()["error"] == "invalid_grant"
    db.session.expire_all()
    live = db.session.scalars(sa.select(Token).where(
        Token.client_id == platform.client_id, Token.refresh_token_hash.is_not(None),
        Token.refresh_used_at.is_(None), Token.revoked_at.is_(None))).all()
    assert len(live) <= 1


def test_a_delegation_stopped_at_one_ends_its_tokens_at_the_other_at_once(
        app: Flask, pair: Pair) -> None:
    """Issue 14, part 4: Stop on "My platforms" through door A; the very next
    introspection at B says inactive, and B refuses a new exchange for that API."""
    from urllib.parse import quote

    from clients import resources
    from tests.delegation import ACTIONS, API, SCOPE, TOKEN_EXCHANGE

    traveller = add_traveller()
    national = add_platform(pair, name="Covoiturage national")
    resources.save(db.session.scalars(sa.select(Client).where(
        Client.client_id == national.client_id)).one(), [resources.ResourceSpec(
            API, "Covoiturage national API", ACTIONS, ["nickname"])])
    db.session.commit()
    regional = add_platform(pair, name="Covoiturage régional", scope="openid profile:alias",
                            grant_types=["authorization_code", "refresh_token", TOKEN_EXCHANGE])
    browser = pair.browser()
    via(browser.session, pair, pair.a)
    request = authorization(pair, regional, scope=SCOPE)
    browser.get(f"{request.url}&resource={quote(API, safe='')}")
    browser.submit({"email": traveller.email, "password": traveller.password})
    tokens = redeem(pair.session(pair.a), pair, regional, request,
                    code_of(browser.allow_all(), request, pair))
    at_a, at_b = pair.session(pair.a), pair.session(pair.b)

    def exchange(http: requests.Session) -> requests.Response:
        return http.post(f"{pair.issuer}/token", timeout=10,
                         auth=(regional.client_id, regional.secret), data={
                             "grant_type": TOKEN_EXCHANGE, "resource": API,
                             "subject_token": tokens["access_token"],
                             "subject_token_type": "urn:ietf:params:oauth:token-type:access_token"})

    exchanged = exchange(at_a)
    assert exchanged.status_code == 200, exchanged.text

    def active_at_b() -> bool:
        answer = at_b.post(f"{pair.issuer}/introspect", timeout=10,
                           auth=(national.client_id, national.secret),
                           data={"token": exchanged.json()["access_token"]})
        assert answer.status_code == 200, answer.text
        active: bool = answer.json()["active"]
        return active

    assert active_at_b()

    page = browser.get(f"{pair.issuer}/account/platforms")  # through door A
    stopped = browser.session.post(
        f"{pair.issuer}/account/platforms/{regional.client_id}/delegations/stop",
        data={"csrf_token": csrf_token(page.text), "resource": API},
        headers={"Referer": page.url}, allow_redirects=False, timeout=10)
    assert stopped.status_code == 302, stopped.text[:500]

    assert not active_at_b()
    refused = exchange(at_b)
    assert refused.status_code in (400, 403)
    assert refused.json()["error"] == "access_denied"
