"""The provider's own CPU per platform request, in process (issue 13).

    .venv/bin/python -m tests.bench.inprocess [--requests 3000] [--rounds 3]
        [--only userinfo introspection] [--database-url postgresql+psycopg://...]

The server bench (``python -m tests.bench``) measures what an operator pays, gunicorn
and the database round trip under threads included; its runs drift by 10 to 20 %, more
than a change of a tenth of a millisecond in the provider's own code. Here the app is
called as a WSGI callable, as gunicorn calls it, on PostgreSQL, and the CPU time of the
calling thread is read around each batch of requests: what the provider and its
libraries spend, and nothing else. The bare Flask "hello" of the server bench is
measured in the same rounds, each round the floor then every operation, and each
operation's ratio to it is the median of the rounds' ratios."""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from flask_migrate import upgrade
from werkzeug.test import EnvironBuilder

from idp import create_app
from idp.extensions import db
from idp.keys import key_store
from tests.bench import hello, seed
from tests.browser import Browser
from tests.conftest import TEST_CONFIG, IsolatedClient, test_settings
from tests.factories import make_platform, make_user
from tests.tokens import issue_tokens

OPERATIONS = ("userinfo", "introspection", "client_credentials", "refresh")
SCOPE = "openid profile email offline_access"
Environ = Callable[[], dict[str, Any]]


def prepared_app(database_url: str) -> tuple[Flask, dict[str, str]]:
    """A migrated database, a traveller who allowed a platform, and its tokens."""
    seed.ensure_database(database_url)
    seed.reset(database_url)
    app = create_app(settings=test_settings(database_url), config=TEST_CONFIG)
    app.test_client_class = IsolatedClient
    with app.app_context():
        upgrade()
        key_store().ensure_keys()
        traveller = make_user()
        platform = make_platform(grant_types=["authorization_code", "refresh_token",
                                              "client_credentials"])
        browser = Browser(app.test_client())
        browser.login(traveller.email, traveller.password)
        # Two grants: a refresh spends its grant's access token with its refresh token.
        read, refreshed = (issue_tokens(browser, platform, scope=SCOPE) for _ in range(2))
        basic = base64.b64encode(f"{platform.client_id}:{platform.secret}".encode()).decode()
        db.session.remove()
    return app, {"access": read["access_token"], "refresh": refreshed["refresh_token"],
                 "basic": f"Basic {basic}"}


def requests_of(state: dict[str, str]) -> dict[str, Environ]:
    """Each operation's request, as the server bench sends it."""
    def build(path: str, **kwargs: Any) -> Environ:
        return lambda: EnvironBuilder(path, base_url="https://idp.test",
                                      **kwargs).get_environ()

    def refresh() -> dict[str, Any]:
        return build("/token", method="POST", headers={"Authorization": state["basic"]},
                     data={"grant_type": "refresh_token",
                           "refresh_token": state["refresh"]})()

    return {
        "userinfo": build("/userinfo", headers={"Authorization": f"Bearer {state['access']}"}),
        "introspection": build("/introspect", method="POST",
                               headers={"Authorization": state["basic"]},
                               data={"token": state["access"]}),
        "client_credentials": build("/token", method="POST",
                                    headers={"Authorization": state["basic"]},
                                    data={"grant_type": "client_credentials"}),
        "refresh": refresh,
    }


def call(app: Any, environ: dict[str, Any], state: dict[str, str]) -> None:
    """One request; a wrong answer stops the bench. A refresh's new token is kept for
    the next one (each refresh token is spent once)."""
    answer: list[str] = []

    def start_response(status: str, headers: Iterable[Any], exc_info: Any = None) -> None:
        answer.append(status)

    body = b"".join(app(environ, start_response))
    if not answer or not answer[0].startswith("200"):
        raise SystemExit(f"{environ['PATH_INFO']}: {answer} {body[:200]!r}")
    if b'"refresh_token"' in body:
        state["refresh"] = json.loads(body)["refresh_token"]


def cpu_per_request(app: Any, make: Environ, state: dict[str, str], count: int) -> float:
    """Milliseconds of this thread's CPU per request; the requests' environs are built
    before the clock starts, but a refresh's, which needs the token the last one gave."""
    if make.__name__ == "refresh":
        started = time.thread_time()
        for _ in range(count):
            call(app, make(), state)
    else:
        environs = [make() for _ in range(count)]
        started = time.thread_time()
        for environ in environs:
            call(app, environ, state)
    return (time.thread_time() - started) / count * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000, help="per operation and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", nargs="+", choices=OPERATIONS, default=list(OPERATIONS))
    parser.add_argument("--database-url",
                        default="postgresql+psycopg://postgres@127.0.0.1:5432/bench_inprocess")
    args = parser.parse_args()
    app, state = prepared_app(args.database_url)
    requests = requests_of(state)
    floor = hello.app
    floor_request = lambda: EnvironBuilder("/hello", base_url="https://idp.test").get_environ()  # noqa: E731
    for name in args.only:  # warm: compiled statements, kept headers, prepared plans
        cpu_per_request(app, requests[name], state, 100)
    cpu_per_request(floor, floor_request, {}, 100)
    figures: dict[str, list[float]] = {name: [] for name in ("hello", *args.only)}
    ratios: dict[str, list[float]] = {name: [] for name in args.only}
    for _ in range(args.rounds):
        bare = cpu_per_request(floor, floor_request, {}, args.requests)
        figures["hello"].append(bare)
        for name in args.only:
            spent = cpu_per_request(app, requests[name], state, args.requests)
            figures[name].append(spent)
            ratios[name].append(spent / bare)
    print(f"{'operation':<20}| cpu_ms (median) | range        | x hello (median of rounds)")
    for name, spent in figures.items():
        ratio = statistics.median(ratios[name]) if name in ratios else 1.0
        print(f"{name:<20}| {statistics.median(spent):<16.3f}| "
              f"{min(spent):.3f}-{max(spent):.3f}  | {ratio:.2f}")


if __name__ == "__main__":
    main()
