"""What each endpoint costs, as ratios to serving the prepared discovery document, all
measured in the same run (the machines are shared and noisy; ratios travel, seconds not).

    .venv/bin/python -m tests.bench_endpoints [--rounds 200]

In-process (Flask test client, SQLite in a temporary folder, production argon2 profile):
it measures our code and the libraries, not the network or gunicorn."""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pyotp
import time_machine
from flask_migrate import upgrade

from idp import create_app
from idp.accounts import mfa
from idp.settings import generate_key
from tests.browser import AuthorizationRequest, Browser, query_of
from tests.factories import make_platform, make_user
from tests.tokens import redeem


def timed(fn: Callable[[], object], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200)
    rounds = parser.parse_args().rounds
    folder = Path(tempfile.mkdtemp())
    app = create_app(settings={
        "env": "testing", "issuer": "https://idp.test",
        "database_url": f"sqlite:///{folder / 'bench.sqlite3'}",
        "secret_key": generate_key(), "key_encryption_key": generate_key(),
    }, config={"SERVER_NAME": "idp.test", "PREFERRED_URL_SCHEME": "https"})
    with app.app_context():
        upgrade()
        user, platform = make_user(), make_platform()
        es_platform = make_platform(id_token_signed_response_alg="ES256")
        two_step = make_user()
        app_key = mfa.save_pending_secret(two_step.model)
        mfa.confirm_totp(two_step.model, pyotp.TOTP(app_key).now())
    client = app.test_client()
    browser = Browser(client)
    browser.login(user.email, user.password)

    def code_for(p):  # type: ignore[no-untyped-def]
        request = AuthorizationRequest(p.client_id, p.redirect_uri)
        page = browser.authorize(request)
        if page.status_code == 200:
            page = browser.follow_local(browser.consent("allow"))
        return query_of(page.location)["code"], request

    code_for(platform), code_for(es_platform)  # consent once
    code, request = code_for(platform)
    token = redeem(client, platform, code, request.verifier).get_json()["access_token"]

    def token_exchange(p):  # type: ignore[no-untyped-def]
        code, request = code_for(p)
        start = time.perf_counter()
        redeem(client, p, code, request.verifier)
        return time.perf_counter() - start

    second = Browser(app.test_client())

    def login_with_code() -> None:
        # Each sign-in a step later: the replay guard refuses a step already used.
        clock.shift(30)
        second.login(two_step.email, two_step.password)
        second.get("/login/code")
        second.submit("/login/code", {"code": pyotp.TOTP(app_key).now()})

    base = timed(lambda: client.get("/.well-known/openid-configuration"), rounds)
    results = {
        "discovery (baseline)": base,
        "jwks": timed(lambda: client.get("/jwks.json"), rounds),
        "userinfo": timed(lambda: client.get(
            "/userinfo", headers={"Authorization": f"Bearer {token}"}), rounds),
        "authorize, consented (302 with code)": timed(lambda: code_for(platform), rounds // 4),
        "token, code + RS256 ID token": statistics.median(
            token_exchange(platform) for _ in range(rounds // 4)),
        "token, code + ES256 ID token": statistics.median(
            token_exchange(es_platform) for _ in range(rounds // 4)),
        "login (argon2id m=19MiB t=2)": timed(lambda: browser.login(user.email, user.password),
                                              rounds // 10),
    }
    with time_machine.travel(time.time(), tick=True) as clock:
        results["login + TOTP code (two posts)"] = timed(login_with_code, rounds // 10)
    print(f"{'endpoint':42} {'median ms':>10} {'x baseline':>11}")
    for name, seconds in results.items():
        print(f"{name:42} {seconds * 1000:10.2f} {seconds / base:11.1f}")


if __name__ == "__main__":
    main()
