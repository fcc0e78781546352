"""What an access log may say about a request: its route, never its values.

Paths carry secrets (``/password/reset/<token>``, ``/email/verify/<token>``) and query
strings carry more (``id_token_hint``, ``code``, ``state``, ``login_hint``). The app stamps
each request's environ with the rule it matched; the gunicorn logger (idp.gunicorn_conf)
prints that rule instead of the path, and only a fixed set of fields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, request

ROUTE = "idp.route"  # the environ key of the matched rule, e.g. /password/reset/<token>


def stamp_route(response: Response) -> Response:
    """Remember the rule the request matched, for the access log written after it."""
    if request.url_rule is not None:
        request.environ[ROUTE] = request.url_rule.rule
    return response


def loggable_path(environ: Mapping[str, Any]) -> str:
    """The matched rule; for a request that matched none, its first segment only (a
    mistyped reset link must not put its token in the log)."""
    route = environ.get(ROUTE)
    if isinstance(route, str):
        return route
    first = str(environ.get("PATH_INFO") or "/").lstrip("/").split("/", 1)[0][:40]
    return f"/{first}…" if first else "/"


def current_route() -> str:
    """The request's route for a line logged while it runs (an error handler's), before
    ``stamp_route`` has had its turn."""
    if request.url_rule is not None:
        return request.url_rule.rule
    return loggable_path(request.environ)


def init_app(app: Flask) -> None:
    app.after_request(stamp_route)
