"""No browser session on the platforms' endpoints (issue 13, part 5): token, userinfo,
introspection, revocation, discovery, JWKS, /par, registration, the consent API, health,
metrics and static files never read the traveller's session cookie, yet Flask opened it
(verify the signature, decode) and saved it again on every request.

Flask opens the session before it matches the URL, so the choice is made by path: the
rules of those blueprints, read from the URL map once every blueprint is registered.
Such a request gets Flask's null session (read as empty, refused on write, never
saved): no cookie is read or set, whatever the browser sends."""

from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

API_BLUEPRINTS = frozenset({"endpoints", "par", "registration", "consent_api", "health",
                            "metrics", "static"})


class BrowserOnlySessionInterface(SecureCookieSessionInterface):
    def __init__(self, paths: frozenset[str], prefixes: tuple[str, ...]) -> None:
        self.paths = paths
        self.prefixes = prefixes

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        path = request.path
        if path in self.paths or path.startswith(self.prefixes):
            return self.make_null_session(app)
        return super().open_session(app, request)


def api_routes(app: Flask) -> tuple[frozenset[str], tuple[str, ...]]:
    """Exact paths of the API rules, and the fixed start of those with variables."""
    paths, prefixes = set(), set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] not in API_BLUEPRINTS:
            continue
        if "<" in rule.rule:
            prefixes.add(rule.rule.split("<", 1)[0])
        else:
            paths.add(rule.rule)
    return frozenset(paths), tuple(sorted(prefixes))


def init_app(app: Flask) -> None:
    """Call last, once every blueprint is registered."""
    app.session_interface = BrowserOnlySessionInterface(*api_routes(app))
