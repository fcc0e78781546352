"""The bench (issue 13): the production command (gunicorn with the repo's config) on
PostgreSQL and Redis, seeded with N travellers, measured per operation, beside a bare
Flask "hello" under the same server settings (the floor every ratio is taken to).

    .venv/bin/python -m tests.bench --travellers 1000 [--requests 2000] [--json out.json]
    make bench                       (the same, with BENCH_ARGS)

Server CPU per operation is read from /proc for the master and every worker; PostgreSQL's
backends are counted apart (all of the machine's: run it on a quiet machine). Figures
are for comparing within one run; the machines are shared and noisy."""

from __future__ import annotations

import argparse
import json
import os
import platform as machine
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin

import requests
from flask_migrate import upgrade

from idp import create_app
from idp.extensions import db
from idp.keys import key_store
from tests.bench import seed
from tests.bench.load import Result, WrongAnswer, expect, run, table
from tests.bench.procs import worker_rss
from tests.browser import csrf_token, pkce_pair, query_of
from tests.factories import make_platform, make_user
from tests.live import PLATFORMS_PATH, HttpBrowser
from tests.servers import BIN, ROOT, Server, free_port, production_environ, wait_ready

DATABASE = "postgresql+psycopg://postgres@127.0.0.1:5432/bench"
REDIS = "redis://127.0.0.1:6379/9"
SCOPE = "openid profile email offline_access"
OPERATIONS = ("hello", "discovery", "jwks", "userinfo", "introspection", "refresh",
              "client_credentials", "code_flow_no_password", "code_flow")


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--travellers", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=2000, help="per operation")
    parser.add_argument("--flows", type=int, default=100,
                        help="code flows with a password check (each costs an argon2id hash)")
    parser.add_argument("--concurrency", type=int, default=2, help="client threads")
    parser.add_argument("--worker-class", default="gthread", choices=("gthread", "sync"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DATABASE))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", REDIS))
    parser.add_argument("--json", type=Path, help="write the results here too")
    parser.add_argument("--only", nargs="*", choices=OPERATIONS, help="measure only these")
    return parser.parse_args(argv)


def server_environ(args: argparse.Namespace, port: int) -> dict[str, str]:
    return production_environ(args.database_url, port, **{
        "IDP_REDIS_URL": args.redis_url, "IDP_WORKER_CLASS": args.worker_class,
        "IDP_WORKERS": str(args.workers), "IDP_THREADS": str(args.threads),
        "IDP_MAX_REQUESTS": "0",  # no recycled worker: its CPU time would be lost
        "IDP_ACCESS_LOG": "", "IDP_LOG_LEVEL": "warning", "IDP_TRUSTED_PROXIES": "1",
        "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="bench-metrics-"),
    })


def start_floor(args: argparse.Namespace, logs: Path) -> Server:
    """The bare Flask app with the worker class, workers, threads and keep-alive the
    provider's config gives (idp.gunicorn_conf), and no hooks."""
    port = free_port()
    argv = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--worker-class",
            args.worker_class, "--workers", str(args.workers), "--threads",
            str(args.threads), "--keep-alive", "5", "tests.bench.hello:app"]
    with (logs / "floor.log").open("wb") as out:
        process = subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                   env={**os.environ, "PYTHONPATH": str(ROOT)},
                                   start_new_session=True)
    server = Server(process, f"http://127.0.0.1:{port}", logs / "floor.log")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(f"{server.url}/hello", timeout=1)
            return server
        except requests.ConnectionError:
            time.sleep(0.1)
    server.stop()
    raise SystemExit(f"the floor server did not start:\n{server.output}")


def prepare(args: argparse.Namespace, issuer_port: int) -> dict[str, Any]:
    """Migrate, then the platforms and the model travellers (made by the app's own code)."""
    seed.ensure_database(args.database_url)
    seed.reset(args.database_url)
    issuer = f"http://127.0.0.1:{issuer_port}"
    app = create_app(settings={
        "env": "testing", "issuer": issuer, "database_url": args.database_url,
        "secret_key": server_environ(args, issuer_port)["IDP_SECRET_KEY"],
        "key_encryption_key": server_environ(args, issuer_port)["IDP_KEY_ENCRYPTION_KEY"]})
    with app.app_context():
        upgrade()
        key_store().ensure_keys()
        web = make_platform(redirect_uri=f"{issuer}{PLATFORMS_PATH}bench/cb",
                            scope="openid profile email phone address offline_access")
        backend = make_platform(redirect_uri=f"{issuer}{PLATFORMS_PATH}backend/cb",
                                grant_types=["authorization_code", "client_credentials"])
        travellers = [make_user() for _ in range(max(args.concurrency, 1))]
        prepared = {
            "app": app, "issuer": issuer,
            "web": (web.client_id, web.secret, web.redirect_uri),
            "backend": (backend.client_id, backend.secret),
            "travellers": [(t.model.id, t.email, t.password) for t in travellers],
        }
        db.session.remove()
    return prepared


def authorize_url(prepared: dict[str, Any]) -> tuple[str, str, str]:
    client_id, _, redirect_uri = prepared["web"]
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(8)
    query = urlencode({"response_type": "code", "client_id": client_id, "scope": SCOPE,
                       "redirect_uri": redirect_uri, "state": state,
                       "nonce": secrets.token_urlsafe(8), "code_challenge": challenge,
                       "code_challenge_method": "S256", "prompt": "consent"})
    return f"{prepared['issuer']}/authorize?{query}", state, verifier


def redeem(http: requests.Session, prepared: dict[str, Any], location: str,
           verifier: str) -> dict[str, Any]:
    client_id, secret, redirect_uri = prepared["web"]
    answer = query_of(location)
    if "code" not in answer:
        raise WrongAnswer(f"no code in {location}")
    response = http.post(f"{prepared['issuer']}/token", auth=(client_id, secret), timeout=10,
                         data={"grant_type": "authorization_code", "code": answer["code"],
                               "redirect_uri": redirect_uri, "code_verifier": verifier})
    return dict(expect(response).json())


def first_login(prepared: dict[str, Any], traveller: tuple[int, str, str]) -> dict[str, Any]:
    """A traveller's first visit, through every page: login, consent, code, tokens."""
    browser = HttpBrowser(prepared["issuer"])
    browser.session.headers["X-Forwarded-For"] = address()
    url, _, verifier = authorize_url(prepared)
    browser.get(url)
    browser.submit({"email": traveller[1], "password": traveller[2]})
    answer = browser.allow_all()
    tokens = redeem(browser.session, prepared, answer.headers["Location"], verifier)
    state = {"traveller": traveller, "access": tokens["access_token"],
             "refresh": tokens["refresh_token"], "cookies": browser.session.cookies.copy(),
             "address": browser.session.headers["X-Forwarded-For"]}
    browser.close()
    return state


def address() -> str:
    return f"2001:db8:{secrets.randbelow(0xffff):x}:{secrets.randbelow(0xffff):x}::1"


def operations(prepared: dict[str, Any]) -> dict[str, Any]:
    issuer = prepared["issuer"]
    client_id, secret, _ = prepared["web"]
    backend_id, backend_secret = prepared["backend"]

    def discovery(http: requests.Session, state: dict[str, Any]) -> None:
        expect(http.get(f"{issuer}/.well-known/openid-configuration", timeout=10))

    def jwks(http: requests.Session, state: dict[str, Any]) -> None:
        expect(http.get(f"{issuer}/jwks.json", timeout=10))

    def userinfo(http: requests.Session, state: dict[str, Any]) -> None:
        expect(http.get(f"{issuer}/userinfo", timeout=10,
                        headers={"Authorization": f"Bearer {state['access']}"}))

    def introspection(http: requests.Session, state: dict[str, Any]) -> None:
        body = expect(http.post(f"{issuer}/introspect", auth=(client_id, secret), timeout=10,
                                data={"token": state["access"]})).json()
        if not body.get("active"):
            raise WrongAnswer(f"inactive token: {body}")

    def refresh(http: requests.Session, state: dict[str, Any]) -> None:
        body = expect(http.post(f"{issuer}/token", auth=(client_id, secret), timeout=10, data={
            "grant_type": "refresh_token", "refresh_token": state["refresh"]})).json()
        state["id_token_on_refresh"] = "id_token" in body
        state["refresh"] = body.get("refresh_token", state["refresh"])

    def client_credentials(http: requests.Session, state: dict[str, Any]) -> None:
        expect(http.post(f"{issuer}/token", auth=(backend_id, backend_secret), timeout=10,
                         data={"grant_type": "client_credentials", "scope": "consent:read"}))

    def code_flow_no_password(http: requests.Session, state: dict[str, Any]) -> None:
        """A traveller already signed in (single sign-on): authorize, code, tokens."""
        if not http.cookies:
            http.cookies.update(state["cookies"])
            http.headers["X-Forwarded-For"] = state["address"]
        url, _, verifier = authorize_url(prepared)
        response = http.get(url.replace("&prompt=consent", ""), allow_redirects=False,
                            timeout=10)
        expect(response, 302)
        redeem(http, prepared, response.headers["Location"], verifier)

    def code_flow(http: requests.Session, state: dict[str, Any]) -> None:
        """A traveller who signs in: authorize, the login page, the password, back to
        authorize (consent given before), code, tokens."""
        http.cookies.clear()
        http.headers["X-Forwarded-For"] = address()
        _, email, password = state["traveller"]
        url, _, verifier = authorize_url(prepared)
        url = url.replace("&prompt=consent", "")
        login = expect(http.get(url, timeout=10))  # follows to the login page
        response = http.post(login.url, allow_redirects=False, timeout=10,
                             headers={"Referer": login.url},
                             data={"csrf_token": csrf_token(login.text), "email": email,
                                   "password": password})
        while response.status_code in (302, 303) and not urljoin(
                issuer, response.headers["Location"]).startswith(f"{issuer}{PLATFORMS_PATH}"):
            response = http.get(urljoin(issuer, response.headers["Location"]),
                                allow_redirects=False, timeout=10)
        expect(response, 302)
        redeem(http, prepared, response.headers["Location"], verifier)

    return {"discovery": discovery, "jwks": jwks, "userinfo": userinfo,
            "introspection": introspection, "refresh": refresh,
            "client_credentials": client_credentials,
            "code_flow_no_password": code_flow_no_password, "code_flow": code_flow}


def machine_facts() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "python": sys.version.split()[0],
            "system": machine.platform()}


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    logs = Path(tempfile.mkdtemp(prefix="bench-"))
    chosen = args.only or list(OPERATIONS)
    port = free_port()
    prepared = prepare(args, port)
    provider = floor = None
    rows: list[dict[str, Any]] = []
    try:
        provider = start_provider(args, logs, port)
        states = [first_login(prepared, t) for t in prepared["travellers"]]
        with prepared["app"].app_context():
            started = time.perf_counter()
            seed.multiply(prepared["travellers"][0][0],
                          args.travellers - len(states), secrets.token_hex(4))
            seeded = time.perf_counter() - started
            db.session.remove()
        print(f"seeded {args.travellers} travellers in {seeded:.1f} s", file=sys.stderr)
        floor_result: Result | None = None
        if "hello" in chosen:
            floor = start_floor(args, logs)
            hello_url = f"{floor.url}/hello"

            def hello(http: requests.Session, state: dict[str, Any]) -> None:
                expect(http.get(hello_url, timeout=10))
            floor_result = run("hello", hello, states, args.requests, floor.process.pid,
                               requests.Session)
            rows.append(floor_result.row(floor_result))
            floor.stop()
            floor = None
        for name, operation in operations(prepared).items():
            if name not in chosen:
                continue
            total = args.flows if name == "code_flow" else args.requests
            result = run(name, operation, states, total, provider.process.pid,
                         requests.Session)
            rows.append(result.row(floor_result))
            for error in result.errors[:3]:
                print(f"{name}: {error}", file=sys.stderr)
        rss = worker_rss(provider.process.pid)
    finally:
        for server in (provider, floor):
            if server is not None:
                server.stop()
    print(table(rows))
    report = {"date": date.today().isoformat(), "machine": machine_facts(),
              "settings": {"travellers": args.travellers, "requests": args.requests,
                           "flows": args.flows, "concurrency": args.concurrency,
                           "worker_class": args.worker_class, "workers": args.workers,
                           "threads": args.threads},
              "id_token_on_refresh": any(s.get("id_token_on_refresh") for s in states),
              "seed_seconds": round(seeded, 1), "worker_rss_mib": [
                  round(r / 2**20, 1) for r in rss], "rows": rows}
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    errors = sum(row["errors"] for row in rows)
    if errors:
        print(f"{errors} operation(s) failed; the provider's log: {logs / 'provider.log'}",
              file=sys.stderr)
    return 1 if errors else 0


def start_provider(args: argparse.Namespace, logs: Path, port: int) -> Server:
    """The production command, bound to the port its issuer names."""
    environ = server_environ(args, port)
    with (logs / "provider.log").open("wb") as out:
        process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "python:idp.gunicorn_conf", "idp.wsgi:app"],
            env=environ, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    return wait_ready(Server(process, f"http://127.0.0.1:{port}", logs / "provider.log"))


if __name__ == "__main__":
    sys.exit(main())
