"""Two instances of the production command behind one issuer, as behind a load balancer.

Both gunicorn processes get the same environment (database, Redis, secrets) and the same
``IDP_ISSUER``, an http loopback address on which nothing listens: the address of the
load balancer. A test picks the instance ("door") that each request goes through; the
request still names the issuer's host and port in ``Host``, as a load balancer forwards
it. So both instances build the same redirects, the same ``iss`` and the same endpoint
URLs: one provider seen through two doors, which is what a deployment is. (Giving each
instance its own issuer would make two providers: a code issued by one and redeemed at
the other would come back with an ID token of another ``iss``.)

The test client stands where the load balancer does, on loopback, which is where the
instances trust ``X-Forwarded-For`` (``IDP_TRUSTED_PROXIES=1``): each traveller gets a
client address of its own, so that throttling counts of one test never reach another.

On an http issuer the session cookie is ``idp_session`` without ``Secure`` (the
``__Host-`` prefix needs it): a cookie jar sends it over http, as a browser does."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import pytest
import requests
from flask import Flask
from joserfc import jwt
from joserfc.jwk import KeySet
from requests.adapters import HTTPAdapter

from idp.extensions import db
from idp.keys import SigningKey
from tests.browser import csrf_token, pkce_pair, query_of
from tests.factories import make_platform, make_user
from tests.live import PLATFORMS_PATH, HttpBrowser
from tests.servers import REDIS_URL, Server, free_port, launch, production_environ, wait_ready

# Short enough for a test to see a rotation at once, long enough to mean a cache.
KEY_RECHECK_SECONDS = 1


class Door(HTTPAdapter):
    """One instance behind the load balancer: requests for the issuer are sent to its
    port with the issuer's ``Host``; the response keeps the issuer's URL."""

    def __init__(self, server: Server) -> None:
        super().__init__()
        self.netloc = urlsplit(server.url).netloc

    def send(self, request: requests.PreparedRequest,  # type: ignore[override]
             **kwargs: Any) -> requests.Response:
        assert request.url is not None
        parts = urlsplit(request.url)
        routed = request.copy()
        routed.url = urlunsplit(parts._replace(netloc=self.netloc))
        routed.headers["Host"] = parts.netloc
        response = super().send(routed, **kwargs)
        response.url, response.request = request.url, request
        return response


@dataclass
class Pair:
    """The two instances, the issuer they share and the environment they were given."""

    issuer: str
    a: Server
    b: Server
    environ: dict[str, str]

    def session(self, server: Server) -> requests.Session:
        """A plain HTTP client (a platform's backend) going through ``server``."""
        http = requests.Session()
        via(http, self, server)
        return http

    def browser(self) -> HttpBrowser:
        """A traveller's browser, from an address of its own (a /64 of 2001:db8::/32)."""
        browser = HttpBrowser(self.issuer)
        address = f"2001:db8:{secrets.randbelow(0xffff):x}:{secrets.randbelow(0xffff):x}::1"
        browser.session.headers["X-Forwarded-For"] = address
        return browser


def via(http: requests.Session, pair: Pair, server: Server) -> None:
    """From now on, ``http`` reaches the issuer through ``server``."""
    http.mount(pair.issuer, Door(server))


def start_pair(database_url: str, logs: Path, **extra: str) -> Pair:
    """Launch both instances side by side and wait until both answer."""
    issuer = f"http://127.0.0.1:{free_port()}"
    servers = []
    environ: dict[str, str] = {}
    for name in ("a", "b"):
        port = free_port()
        environ = production_environ(database_url, port, **{
            "IDP_ISSUER": issuer, "IDP_REDIS_URL": REDIS_URL, "IDP_TRUSTED_PROXIES": "1",
            "IDP_KEY_RECHECK_SECONDS": str(KEY_RECHECK_SECONDS), **extra})
        servers.append(launch(environ, logs / f"{name}.log"))
    try:
        for server in servers:
            wait_ready(server)
    except AssertionError:
        for server in servers:
            server.stop()
        raise
    environ.pop("IDP_BIND")
    return Pair(issuer, servers[0], servers[1], environ)


@pytest.fixture(scope="module")
def pair(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    if not database_url.startswith("postgresql"):
        pytest.skip("several instances share one PostgreSQL database; a SQLite file is "
                    "not a deployment that runs two instances")
    running = start_pair(database_url, tmp_path_factory.mktemp("instances"))
    yield running
    for server in (running.a, running.b):
        assert server.stop() == 0, server.output
        assert "Traceback" not in server.output, server.output


@dataclass
class Traveller:
    email: str
    password: str


@dataclass
class Platform:
    client_id: str
    secret: str
    redirect_uri: str


def add_traveller() -> Traveller:
    """A traveller in the shared database (the test's app context is on it too)."""
    made = make_user()
    return Traveller(made.email, made.password)


def add_platform(pair: Pair, **overrides: Any) -> Platform:
    # Under the issuer's origin, where the provider has no route: never fetched.
    path = f"{PLATFORMS_PATH}{secrets.token_hex(4)}/cb"
    made = make_platform(redirect_uri=f"{pair.issuer}{path}", **overrides)
    assert made.secret is not None
    return Platform(made.client_id, made.secret, made.redirect_uri)


@dataclass
class Authorization:
    """An authorization request sent by a platform and the verifier it keeps."""

    url: str
    state: str
    verifier: str


def authorization(pair: Pair, platform: Platform, scope: str = "openid profile") -> Authorization:
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(8)
    query = urlencode({
        "response_type": "code", "client_id": platform.client_id, "scope": scope,
        "redirect_uri": platform.redirect_uri, "state": state,
        "nonce": secrets.token_urlsafe(8), "code_challenge": challenge,
        "code_challenge_method": "S256",
    })
    return Authorization(f"{pair.issuer}/authorize?{query}", state, verifier)


def code_of(response: requests.Response, request: Authorization, pair: Pair) -> str:
    """The code from the redirect to the platform, after checking its state and iss."""
    assert response.status_code in (302, 303), response.text[:500]
    answer = query_of(response.headers["Location"])
    assert answer.get("state") == request.state, answer
    assert answer.get("iss") == pair.issuer, answer  # RFC 9207
    return answer["code"]


def redeem(http: requests.Session, pair: Pair, platform: Platform, request: Authorization,
           code: str) -> dict[str, Any]:
    response = http.post(f"{pair.issuer}/token", timeout=10,
                         auth=(platform.client_id, platform.secret), data={
                             "grant_type": "authorization_code", "code": code,
                             "redirect_uri": platform.redirect_uri,
                             "code_verifier": request.verifier})
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


def id_token_kid(http: requests.Session, pair: Pair, platform: Platform,
                 id_token: str) -> str:
    """Verify the ID token against the JWKS this door publishes; return its kid."""
    jwks = http.get(f"{pair.issuer}/jwks.json", timeout=10).json()
    token = jwt.decode(id_token, KeySet.import_key_set(jwks))
    assert token.claims["iss"] == pair.issuer
    assert token.claims["aud"] in (platform.client_id, [platform.client_id])
    return str(token.header["kid"])


def published_kids(http: requests.Session, pair: Pair) -> set[str]:
    keys = http.get(f"{pair.issuer}/jwks.json", timeout=10).json()["keys"]
    return {str(key["kid"]) for key in keys}


def revoke_platform(browser: HttpBrowser, pair: Pair, platform: Platform) -> None:
    """Revoke the platform on the traveller's "My platforms" page, as its button does."""
    page = browser.get(f"{pair.issuer}/account/platforms")
    assert page.status_code == 200, page.text[:500]
    response = browser.session.post(
        f"{pair.issuer}/account/platforms/{platform.client_id}/revoke",
        data={"csrf_token": csrf_token(page.text)}, headers={"Referer": page.url},
        allow_redirects=False, timeout=10)
    assert response.status_code in (302, 303), response.text[:500]


@pytest.fixture
def kept_keys(app: Flask) -> Iterator[None]:
    """The signing keys as they were before the test (a rotation, an emptied table): the
    rest of the session signs with them again. Running instances notice the change at
    their next recheck (the key count and newest id change)."""
    columns = [c.name for c in SigningKey.__table__.columns]
    saved = [{name: getattr(row, name) for name in columns}
             for row in db.session.scalars(db.select(SigningKey))]
    db.session.commit()
    yield
    db.session.rollback()
    db.session.execute(db.delete(SigningKey))
    if saved:
        db.session.execute(db.insert(SigningKey), saved)
    db.session.commit()
