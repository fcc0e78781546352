"""The demo platform's application: its configuration, its OpenID Connect client, and
its sessions, one set per app so that two platforms can run in one process."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app
from jinja2 import DictLoader

from clients.demo_platform import pages
from clients.demo_platform.events import StoppedDelegations
from clients.demo_platform.logout import ReplayGuard
from clients.demo_platform.sessions import SessionStore, StateCache
from clients.demo_platform.trips import BookingStore

EXTENSION = "demo_platform"


@dataclass(frozen=True)
class Partner:
    """Another platform whose API this one uses for its travellers, with their consent
    (token exchange, RFC 8693), and what this one knows of them that it passes on."""

    name: str
    api: str
    meeting_point: str


@dataclass(frozen=True)
class PlatformConfig:
    """What a platform's operator configures: a name, where it runs, its registration
    at the provider, and the provider's issuer (everything else comes from discovery)."""

    name: str
    port: int
    client_id: str
    client_secret: str
    issuer: str
    scope: str = "openid profile email"
    host: str = "127.0.0.1"
    api: str | None = None  # the API this platform serves (its RFC 8707 identifier)
    partner: Partner | None = None
    # The platforms that may act on our API, by client_id: to name them to travellers.
    actors: tuple[tuple[str, str], ...] = ()

    def actor_name(self, client_id: str) -> str:
        return dict(self.actors).get(client_id, "Une autre plateforme")

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def redirect_uri(self) -> str:
        return f"{self.origin}/callback"

    @property
    def backchannel_logout_uri(self) -> str:
        return f"{self.origin}/backchannel-logout"

@dataclass
class Platform:
    """Per-app state, in ``app.extensions``."""

    config: PlatformConfig
    oidc: Any  # Authlib's FlaskOAuth2App, untyped
    sessions: SessionStore = field(default_factory=SessionStore)
    replay: ReplayGuard = field(default_factory=ReplayGuard)
    bookings: BookingStore = field(default_factory=BookingStore)
    stopped: StoppedDelegations = field(default_factory=StoppedDelegations)


def platform() -> Platform:
    state: Platform = current_app.extensions[EXTENSION]
    return state


def cookie_name(client_id: str) -> str:
    """Cookies ignore ports: platforms and provider on one host need a cookie each."""
    return "demo_" + re.sub(r"[^A-Za-z0-9]", "_", client_id)


def register_client(app: Flask, config: PlatformConfig) -> Any:
    """Authlib's client, configured by discovery from the issuer: state and nonce are its
    own, kept in memory; PKCE S256 and client_secret_basic are asked for here."""
    oauth = OAuth(app, cache=StateCache())
    return oauth.register(
        name="mobility_id",
        client_id=config.client_id,
        client_secret=config.client_secret,
        server_metadata_url=f"{config.issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": config.scope, "code_challenge_method": "S256",
                       "token_endpoint_auth_method": "client_secret_basic"},
    )


def create_app(config: PlatformConfig) -> Flask:
    app = Flask(__name__)
    app.config.update(
        # Sessions live in this process's memory: a new key at each start loses nothing.
        SECRET_KEY=secrets.token_hex(32),
        SESSION_COOKIE_NAME=cookie_name(config.client_id),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=64 * 1024,  # forms and pushed tokens are all small
    )
    app.jinja_env.loader = DictLoader(pages.TEMPLATES)
    app.extensions[EXTENSION] = Platform(config, register_client(app, config))

    from clients.demo_platform import api, rides
    from clients.demo_platform.views import bp

    app.register_blueprint(bp)
    if config.api is not None:
        app.register_blueprint(api.bp)
    if config.partner is not None:
        app.register_blueprint(rides.bp)
    return app
