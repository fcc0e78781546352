"""private_key_jwt client authentication (RFC 7523, OIDC Core 9): a platform signs a
short-lived assertion with its own key, registered inline or served at its jwks_uri, and
the provider refuses a bad signature, a wrong audience, an expired or replayed assertion."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey
from werkzeug.test import TestResponse

from clients.credentials import issue_initial_access_token
from clients.registration import ClientMetadataError
from idp import outbound
from idp.extensions import db, utcnow
from idp.oauth.models import UsedAssertion
from tests.browser import AuthorizationRequest, Browser, query_of
from tests.factories import Platform, make_platform
from tests.live import LiveServer, live_server  # noqa: F401
from tests.platform_server import PlatformServer, no_loopback, platform_server  # noqa: F401

ISSUER = "https://idp.test"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.fixture(scope="session")
def platform_key() -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": "carpool-1"}, private=True)


@pytest.fixture(scope="session")
def rsa_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "carpool-rsa"}, private=True)


def public_jwks(*keys: ECKey | RSAKey) -> dict[str, Any]:
    return {"keys": [key.as_dict(private=False) for key in keys]}


@pytest.fixture
def jwt_platform(app: Any, platform_key: ECKey) -> Platform:
    return make_platform(token_endpoint_auth_method="private_key_jwt",
                         jwks=public_jwks(platform_key))


def assertion(platform: Platform, key: ECKey | RSAKey, **claims: Any) -> str:
    now = int(time.time())
    payload = {"iss": platform.client_id, "sub": platform.client_id,
               "aud": f"{ISSUER}/token", "iat": now, "exp": now + 60,
               "jti": secrets.token_urlsafe(16)}
    payload.update(claims)
    alg = "ES256" if isinstance(key, ECKey) else "RS256"
    return jwt.encode({"alg": alg, "kid": key.kid}, payload, key)


def get_code(browser: Browser, platform: Platform) -> tuple[str, str]:
    request = AuthorizationRequest(platform.client_id, platform.redirect_uri,
                                   scope="openid email offline_access")
    page = browser.authorize(request)
    if page.status_code == 200:
        page = browser.follow_local(browser.consent("allow"))
    return query_of(page.location)["code"], request.verifier


def redeem(browser: Browser, platform: Platform, client_assertion: str) -> TestResponse:
    code, verifier = get_code(browser, platform)
    return browser.client.post("/token", data={
        "grant_type": "authorization_code", "code": code, "code_verifier": verifier,
        "redirect_uri": platform.redirect_uri, "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": client_assertion})


def test_a_signed_assertion_authenticates_the_platform(
        logged_in: Browser, jwt_platform: Platform, platform_key: ECKey) -> None:
    assert jwt_platform.secret is None and jwt_platform.model.client_secret_hash is None
    response = redeem(logged_in, jwt_platform, assertion(jwt_platform, platform_key))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["refresh_token"]


def test_the_issuer_is_an_accepted_audience_and_rsa_keys_work(
        logged_in: Browser, rsa_key: RSAKey) -> None:
    platform = make_platform(token_endpoint_auth_method="private_key_jwt",
                             jwks=public_jwks(rsa_key))
    response = redeem(logged_in, platform, assertion(platform, rsa_key, aud=ISSUER))
    assert response.status_code == 200, response.get_json()


@pytest.mark.parametrize("change", [
    pytest.param({"aud": "https://other-idp.example/token"}, id="wrong-audience"),
    pytest.param({"exp": int(time.time()) - 3600}, id="expired"),
    pytest.param({"exp": None}, id="no-expiry"),
    pytest.param({"iss": "someone-else"}, id="iss-is-not-sub"),
    pytest.param({"jti": None}, id="no-jti"),
])
def test_a_bad_assertion_is_refused(logged_in: Browser, jwt_platform: Platform,
                                    platform_key: ECKey, change: dict[str, Any]) -> None:
    token = assertion(jwt_platform, platform_key, **change)
    if None in change.values():  # leave the claim out
        token = assertion(jwt_platform, platform_key)
        claims = jwt.decode(token, platform_key).claims
        for name in change:
            del claims[name]
        token = jwt.encode({"alg": "ES256", "kid": platform_key.kid}, claims, platform_key)
    response = redeem(logged_in, jwt_platform, token)
    assert response.status_code in (400, 401)
    assert response.get_json()["error"] == "invalid_client"


def test_a_bad_signature_is_refused(logged_in: Browser, jwt_platform: Platform) -> None:
    intruder = ECKey.generate_key("P-256", parameters={"kid": "carpool-1"}, private=True)
    response = redeem(logged_in, jwt_platform, assertion(jwt_platform, intruder))
    assert response.get_json()["error"] == "invalid_client"


def test_a_symmetric_algorithm_is_refused(logged_in: Browser, jwt_platform: Platform,
                                          platform_key: ECKey) -> None:
    # The classic confusion: the public key's bytes used as an HMAC secret.
    key = OctKey.import_key(json.dumps(public_jwks(platform_key)["keys"][0]))
    token = jwt.encode({"alg": "HS256"}, {"iss": jwt_platform.client_id,
                                          "sub": jwt_platform.client_id}, key)
    assert redeem(logged_in, jwt_platform, token).get_json()["error"] == "invalid_client"


def test_a_replayed_assertion_is_refused(logged_in: Browser, jwt_platform: Platform,
                                         platform_key: ECKey) -> None:
    token = assertion(jwt_platform, platform_key)
    assert redeem(logged_in, jwt_platform, token).status_code == 200
    replay = redeem(logged_in, jwt_platform, token)
    assert replay.get_json()["error"] == "invalid_client"
    assert db.session.scalar(db.select(db.func.count(UsedAssertion.id))) == 1


def test_expired_jti_records_are_purged(logged_in: Browser, jwt_platform: Platform,
                                        platform_key: ECKey) -> None:
    db.session.add(UsedAssertion(client_id=jwt_platform.client_id, jti="old",
                                 expires_at=utcnow() - timedelta(hours=1)))
    db.session.commit()
    assert redeem(logged_in, jwt_platform, assertion(jwt_platform, platform_key)).status_code \
        == 200
    jtis = db.session.scalars(db.select(UsedAssertion.jti)).all()
    assert "old" not in jtis and len(jtis) == 1


def test_revocation_and_introspection_accept_assertions(
        logged_in: Browser, jwt_platform: Platform, platform_key: ECKey) -> None:
    tokens = redeem(logged_in, jwt_platform, assertion(jwt_platform, platform_key)).get_json()
    client = logged_in.client

    def post(endpoint: str) -> Any:
        return client.post(endpoint, data={
            "token": tokens["access_token"], "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion(jwt_platform, platform_key)}).get_json()

    assert post("/introspect")["active"] is True
    assert post("/revoke") == {}
    assert post("/introspect") == {"active": False}


class JWKSServer:
    """A platform's JWKS on 127.0.0.1, counting how often the provider fetches it."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        self.jwks = jwks
        self.fetches = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                owner.fetches += 1
                body = json.dumps(owner.jwks).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def jwks_server(platform_key: ECKey) -> Iterator[JWKSServer]:
    server = JWKSServer(public_jwks(platform_key))
    yield server
    server.close()


def test_keys_are_fetched_from_the_jwks_uri_and_cached(
        logged_in: Browser, jwks_server: JWKSServer, platform_key: ECKey) -> None:
    platform = make_platform(token_endpoint_auth_method="private_key_jwt",
                             jwks_uri=jwks_server.url)
    for _ in range(2):
        response = redeem(logged_in, platform, assertion(platform, platform_key))
        assert response.status_code == 200, response.get_json()
    assert jwks_server.fetches == 1
    intruder = ECKey.generate_key("P-256", parameters={"kid": "carpool-1"}, private=True)
    response = redeem(logged_in, platform, assertion(platform, intruder))
    assert response.get_json()["error"] == "invalid_client"


def test_an_unreachable_jwks_uri_refuses_the_client(logged_in: Browser,
                                                    platform_key: ECKey) -> None:
    server = JWKSServer(public_jwks(platform_key))
    platform = make_platform(token_endpoint_auth_method="private_key_jwt", jwks_uri=server.url)
    server.close()
    response = redeem(logged_in, platform, assertion(platform, platform_key))
    assert response.get_json()["error"] == "invalid_client"


def test_a_platform_registers_itself_with_its_keys(client: FlaskClient,
                                                   platform_key: ECKey) -> None:
    _, initial_token = issue_initial_access_token(expires_in=3600, uses=1)
    response = client.post("/register", headers={"Authorization": f"Bearer {initial_token}"},
                           json={"client_name": "National carpool",
                                 "redirect_uris": ["https://national.example/cb"],
                                 "token_endpoint_auth_method": "private_key_jwt",
                                 "jwks": public_jwks(platform_key)})
    assert response.status_code == 201, response.get_json()
    info = response.get_json()
    assert info["token_endpoint_auth_method"] == "private_key_jwt"
    assert info["jwks"] == public_jwks(platform_key)
    assert "client_secret" not in info and "client_secret_expires_at" not in info


def _bad_keys(platform_key: ECKey) -> dict[str, dict[str, Any]]:
    public = platform_key.as_dict(private=False)
    rsa_public = {"kty": "RSA", "n": "sXch", "e": "AQAB"}
    return {
        "no-keys": {"token_endpoint_auth_method": "private_key_jwt"},
        "both": {"jwks": {"keys": [public]}, "jwks_uri": "https://carpool.example/jwks"},
        "private": {"jwks": {"keys": [platform_key.as_dict(private=True)]}},
        "symmetric": {"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}},
        "empty": {"jwks": {"keys": []}},
        "other-curve": {"jwks": {"keys": [{**public, "crv": "P-384"}]}},
        "wrong-alg": {"jwks": {"keys": [{**rsa_public, "alg": "PS256"}]}},
        "http-uri": {"jwks_uri": "http://carpool.example/jwks"},
    }


@pytest.mark.parametrize("case", ["no-keys", "both", "private", "symmetric", "empty",
                                  "other-curve", "wrong-alg", "http-uri"])
def test_registration_refuses_bad_keys(app: Any, platform_key: ECKey, case: str) -> None:
    overrides = {"token_endpoint_auth_method": "private_key_jwt",
                 **_bad_keys(platform_key)[case]}
    with pytest.raises(ClientMetadataError) as error:
        make_platform(**overrides)
    assert error.value.error == "invalid_client_metadata"


# The jwks_uri through the outbound guard (idp.outbound, idp.documents)

def token_request(platform: Platform, key: ECKey, **claims: Any) -> dict[str, str]:
    """A token request naming the platform in a signed assertion; the code is made up,
    so it ends in invalid_grant once the client is authenticated."""
    return {"grant_type": "authorization_code", "code": "made-up", "code_verifier": "v" * 43,
            "redirect_uri": platform.redirect_uri, "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion(platform, key, **claims)}


@pytest.mark.parametrize("host", ["127.1", "2130706433", "[::ffff:7f00:1]", "0.0.0.0",  # noqa: S104
                                  "localhost"])
def test_a_jwks_uri_on_an_internal_address_is_never_fetched(
        no_loopback: Any, client: FlaskClient, platform_key: ECKey,
        platform_server: Callable[..., PlatformServer], host: str) -> None:
    """A row registered before the check, or a name now resolving inside: the fetch
    itself refuses it."""
    server = platform_server(body=public_jwks(platform_key))
    platform = make_platform(token_endpoint_auth_method="private_key_jwt",
                             jwks_uri="https://carpool.example/jwks")
    platform.model.jwks_uri = server.url(host=host)
    db.session.commit()

    response = client.post("/token", data=token_request(platform, platform_key))

    assert response.get_json() == {"error": "invalid_client",
                                   "error_description": "The client's jwks_uri cannot be used."}
    assert server.connections == 0


def test_a_failing_jwks_uri_is_asked_once_a_minute(
        client: FlaskClient, platform_key: ECKey, time_machine: Any,
        platform_server: Callable[..., PlatformServer]) -> None:
    server = platform_server(status=500, body=b"internal error page")
    platform = make_platform(token_endpoint_auth_method="private_key_jwt",
                             jwks_uri=server.url())
    time_machine.move_to(utcnow(), tick=True)

    answers = [client.post("/token", data=token_request(platform, platform_key)).get_json()
               for _ in range(3)]
    assert server.connections == 1
    assert {a["error"] for a in answers} == {"invalid_client"}
    assert not any("500" in a["error_description"] for a in answers)

    time_machine.shift(61)
    client.post("/token", data=token_request(platform, platform_key))
    assert server.connections == 2


def test_when_every_fetch_slot_is_busy_the_client_is_told_to_come_back(
        client: FlaskClient, platform_key: ECKey,
        platform_server: Callable[..., PlatformServer]) -> None:
    server = platform_server(body=public_jwks(platform_key))
    platform = make_platform(token_endpoint_auth_method="private_key_jwt",
                             jwks_uri=server.url())
    with ExitStack() as held:
        for _ in range(outbound.SLOTS):
            held.enter_context(outbound.slot())
        started = time.monotonic()
        busy = client.post("/token", data=token_request(platform, platform_key)).get_json()
        assert time.monotonic() - started < 0.5

    assert busy["error"] == "invalid_client" and "try again later" in busy["error_description"]
    assert server.connections == 0
    # Not kept as the platform's failure: once a slot is free, its keys are fetched.
    assert client.post("/token", data=token_request(platform, platform_key)).get_json()[
        "error"] == "invalid_grant"


def test_token_requests_naming_a_slow_jwks_uri_do_not_hold_the_provider(
        live_server: LiveServer, platform_key: ECKey,
        platform_server: Callable[..., PlatformServer]) -> None:
    """Over real HTTP: eight unauthenticated requests naming a platform whose jwks_uri
    takes two seconds make one fetch; the others fail at once, and /jwks.json answers
    at once meanwhile."""
    server = platform_server(body=public_jwks(platform_key), delay=2)
    with live_server.app.app_context():
        platform = make_platform(token_endpoint_auth_method="private_key_jwt",
                                 jwks_uri=server.url())
        db.session.remove()

    def post_token(_: int) -> dict[str, Any]:
        answer: dict[str, Any] = requests.post(
            f"{live_server.url}/token",
            data=token_request(platform, platform_key, aud=f"{live_server.url}/token"),
            timeout=30).json()
        return answer

    with ThreadPoolExecutor(8) as pool:
        answers = pool.map(post_token, range(8))
        assert server.arrived.wait(timeout=10)
        for _ in range(3):
            started = time.monotonic()
            assert requests.get(f"{live_server.url}/jwks.json", timeout=10).status_code == 200
            assert time.monotonic() - started < 1
        errors = [answer["error"] for answer in answers]

    assert server.connections == 1
    assert errors.count("invalid_grant") >= 1  # the one that fetched was authenticated
    assert set(errors) <= {"invalid_grant", "invalid_client"}
