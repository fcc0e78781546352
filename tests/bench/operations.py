"""What the bench does to the provider: the database prepared by the app's own code, each
traveller's first visit through every page, and the operations measured (each one request
of a client thread, checked: a wrong answer raises)."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode, urljoin

import requests
from flask_migrate import upgrade

from idp import create_app
from idp.extensions import db
from idp.keys import key_store
from tests.bench import seed
from tests.bench.load import WrongAnswer, expect
from tests.browser import csrf_token, pkce_pair, query_of
from tests.factories import make_platform, make_user
from tests.live import PLATFORMS_PATH, HttpBrowser

SCOPE = "openid profile email offline_access"


def prepare(environ: dict[str, str], travellers: int) -> dict[str, Any]:
    """Migrate, then the platforms and the model travellers (made by the app's own code),
    with the production command's own settings (``environ``)."""
    database_url = environ["IDP_DATABASE_URL"]
    seed.ensure_database(database_url)
    seed.reset(database_url)
    issuer = environ["IDP_ISSUER"]
    app = create_app(settings={
        "env": "testing", "issuer": issuer, "database_url": database_url,
        "secret_key": environ["IDP_SECRET_KEY"],
        "key_encryption_key": environ["IDP_KEY_ENCRYPTION_KEY"]})
    with app.app_context():
        upgrade()
        key_store().ensure_keys()
        web = make_platform(redirect_uri=f"{issuer}{PLATFORMS_PATH}bench/cb",
                            scope="openid profile email phone address offline_access")
        backend = make_platform(redirect_uri=f"{issuer}{PLATFORMS_PATH}backend/cb",
                                grant_types=["authorization_code", "client_credentials"])
        models = [make_user() for _ in range(max(travellers, 1))]
        prepared = {
            "app": app, "issuer": issuer,
            "web": (web.client_id, web.secret, web.redirect_uri),
            "backend": (backend.client_id, backend.secret),
            "travellers": [(t.model.id, t.email, t.password) for t in models],
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
        # The rotation may end the old grant's access token: later operations (another
        # server, the memory mode) use the new one.
        state["access"] = body["access_token"]

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
