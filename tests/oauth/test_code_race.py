"""A code or a refresh token used by two requests at once, over real HTTP (RFC 6749
4.1.2, RFC 9700 4.5 and 4.14.2): at most one is served, the other sees the reuse, and
whatever the credential issued is revoked. On PostgreSQL the credential is spent by the
statement that writes the new tokens; on SQLite by a claim in the same transaction:
either way, never two live grants."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import sqlalchemy as sa

from tests.browser import pkce_pair, query_of
from tests.live import HttpBrowser, LivePlatform, LiveServer, live_server  # noqa: F401

RACERS = 4


def signed_in_code(live_server: LiveServer, scope: str = "openid email"
                   ) -> tuple[LivePlatform, str, dict[str, str]]:
    """A traveller signs in and allows: the platform, and what redeems its code."""
    platform = live_server.add_platform(scope="openid email offline_access")
    traveller = live_server.add_traveller()
    verifier, challenge = pkce_pair()
    browser = HttpBrowser(live_server.url)
    try:
        browser.get(f"{live_server.url}/authorize?" + "&".join(
            f"{k}={v}" for k, v in {
                "response_type": "code", "client_id": platform.client_id,
                "redirect_uri": platform.redirect_uri, "scope": scope.replace(" ", "+"),
                "state": "race", "code_challenge": challenge,
                "code_challenge_method": "S256"}.items()))
        browser.submit({"email": traveller.email, "password": traveller.password})
        code = query_of(browser.allow_all().headers["Location"])["code"]
    finally:
        browser.close()
    return platform, code, {"grant_type": "authorization_code", "code": code,
                            "redirect_uri": platform.redirect_uri,
                            "code_verifier": verifier}


def token_request(live_server: LiveServer, platform: LivePlatform,
                  data: dict[str, str]) -> requests.Response:
    return requests.post(f"{live_server.url}/token", data=data, timeout=10,
                         auth=(platform.client_id, platform.client_secret))


def refused_everywhere(live_server: LiveServer, answers: list[requests.Response]) -> None:
    """Every access token handed out is refused now: the reuse revoked its grant."""
    for answer in answers:
        if answer.status_code == 200:
            bearer = {"Authorization": f"Bearer {answer.json()['access_token']}"}
            seen = requests.get(f"{live_server.url}/userinfo", headers=bearer, timeout=10)
            assert seen.status_code == 401, "a grant of a reused credential lives on"


def test_a_code_redeemed_by_racing_requests_leaves_no_live_grant(
        live_server: LiveServer) -> None:
    platform, _, data = signed_in_code(live_server)
    start = threading.Barrier(RACERS)

    def redeem() -> requests.Response:
        start.wait(timeout=10)
        return token_request(live_server, platform, data)

    with ThreadPoolExecutor(RACERS) as pool:
        answers = list(pool.map(lambda _: redeem(), range(RACERS)))

    codes = sorted(a.status_code for a in answers)
    assert codes in ([400] * RACERS, [200] + [400] * (RACERS - 1)), \
        [(a.status_code, a.text[:200]) for a in answers]
    assert all(a.json()["error"] == "invalid_grant" for a in answers if a.status_code == 400)
    refused_everywhere(live_server, answers)


def spent_meanwhile(database_url: str, table: str, spend: str,
                    request: Callable[[], requests.Response]) -> requests.Response:
    """``request`` runs while another transaction holds the credential's row; once the
    request waits for that lock (it has read the credential as unused and is writing the
    new tokens), the other transaction spends it and commits."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as holder, engine.connect() as watcher:
            held = holder.begin()
            holder.execute(sa.text(f"SELECT id FROM {table} FOR UPDATE"))  # noqa: S608
            with ThreadPoolExecutor(1) as pool:
                answer = pool.submit(request)
                deadline = time.monotonic() + 10
                while not watcher.scalar(sa.text(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
                        "'Lock' AND datname = current_database()")):
                    assert time.monotonic() < deadline, "the request never waited"
                    assert not answer.done(), answer.result().text[:300]
                    time.sleep(0.02)
                    watcher.rollback()
                holder.execute(sa.text(f"UPDATE {table} SET {spend} = now()"))  # noqa: S608
                held.commit()
                return answer.result()
    finally:
        engine.dispose()


@pytest.mark.parametrize("credential", ["code", "refresh token"])
def test_a_credential_spent_while_its_tokens_are_written_gives_nothing(
        live_server: LiveServer, database_url: str, credential: str) -> None:
    """The reuse is seen by the very statement that would write the new tokens, not only
    when the credential is read."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's row locks hold the request at its write")
    platform, _, data = signed_in_code(live_server, "openid email offline_access")
    table, spend = "authorization_code", "used_at"
    if credential == "refresh token":
        first = token_request(live_server, platform, data).json()
        data = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
        table, spend = "token", "refresh_used_at"

    answer = spent_meanwhile(database_url, table, spend,
                             lambda: token_request(live_server, platform, data))

    assert answer.status_code == 400, answer.text[:300]
    assert answer.json()["error"] == "invalid_grant"
    if credential == "refresh token":  # the family revoked, its first grant included
        bearer = {"Authorization": f"Bearer {first['access_token']}"}
        assert requests.get(f"{live_server.url}/userinfo", headers=bearer,
                            timeout=10).status_code == 401
