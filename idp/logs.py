"""Logs an operator can search: one JSON object a line (or readable text in development),
each written during a request carrying that request's id, none holding a secret or a
traveller's identity.

- The request id comes from the ``X-Request-ID`` a reverse proxy set, when it is a short
  string of safe characters (an attacker's arbitrary text never reaches the log), else it
  is generated; the response returns it, so a traveller's complaint finds its lines.
- The access log (idp.gunicorn_conf) is the one line per request: route, status,
  duration, the platform concerned (``client_id``) and the traveller as a pseudonym: an
  HMAC of the user's id under a key derived from IDP_SECRET_KEY, stable from one request
  to the next, not reversible, and not the ``sub`` any platform sees.
- idp.redaction rewrites every line, whoever wrote it.

python-json-logger rather than structlog: the provider, its libraries and gunicorn all log
through the standard ``logging`` module, and a formatter turns every one of those calls into
JSON without changing them; structlog would add a second logging API beside it."""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from types import TracebackType
from typing import Any

from flask import Flask, Response, current_app, g, request
from flask.logging import default_handler
from pythonjsonlogger.json import JsonFormatter
from werkzeug.exceptions import HTTPException
from werkzeug.wsgi import ClosingIterator

from idp.redaction import Redactor, redact

HEADER = "X-Request-ID"
REQUEST_ID = "idp.request_id"  # environ keys read by the access log
CLIENT_ID = "idp.client_id"
TRAVELLER = "idp.traveller"
# A proxy's id (a UUID, nginx's $request_id, a trace id): 8 to 64 safe characters.
SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,63}")
TEXT_FORMAT = "%(asctime)s %(levelname)s [%(name)s] %(message)s (request %(request_id)s)"
# What a client_id may look like before it is looked up (ours are URL-safe base64).
CLIENT_ID_SHAPE = re.compile(r"[A-Za-z0-9._~:-]{1,64}")
request_id: ContextVar[str | None] = ContextVar("idp_request_id", default=None)

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


def accept_request_id(value: str | None) -> str:
    """The incoming id when it is well-formed, else a new one."""
    if value and SAFE_ID.fullmatch(value):
        return value
    return os.urandom(16).hex()  # as uuid4().hex, without making a UUID object


class RequestIdMiddleware:
    """Gives each request its id before anything else runs, and keeps it current until
    the response is closed (mail sent after the response still logs under it)."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any],
                 start_response: Callable[..., Any]) -> Iterable[bytes]:
        rid = accept_request_id(environ.get("HTTP_X_REQUEST_ID"))
        environ[REQUEST_ID] = rid
        request_id.set(rid)

        def start(status: str, headers: list[tuple[str, str]],
                  exc_info: ExcInfo | None = None) -> Any:
            kept = [(name, value) for name, value in headers if name.lower() != "x-request-id"]
            return start_response(status, [*kept, (HEADER, rid)], exc_info)

        try:
            body = self.app(environ, start)
        except BaseException:
            forget_request_id()
            raise
        return ClosingIterator(body, forget_request_id)


def forget_request_id() -> None:
    """The thread's next work (another request, a background pass) is not this request's."""
    request_id.set(None)


class RequestIdFilter(logging.Filter):
    """Stamps each record with the current request's id (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id.get()
        return True


class RedactedTraceback:
    """Tracebacks quote values (a failed SQL statement's parameters): redact them too."""

    def formatException(self, ei: Any) -> str:  # noqa: N802 - logging's name
        return redact("".join(traceback.format_exception(*ei)).rstrip("\n"))


class JsonLines(RedactedTraceback, JsonFormatter):
    pass


class TextLines(RedactedTraceback, logging.Formatter):
    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's
        text = super().formatMessage(record)
        return text.removesuffix(" (request None)")


def formatter(log_format: str) -> logging.Formatter:
    if log_format == "json":
        return JsonLines("%(levelname)s %(name)s %(message)s %(request_id)s",
                         rename_fields={"levelname": "level", "name": "logger"},
                         timestamp="time", json_ensure_ascii=False)
    return TextLines(TEXT_FORMAT)


def prepare(handler: logging.Handler, log_format: str | None) -> logging.Handler:
    """Make ``handler`` write our lines: request id, redaction and, unless None, the
    format (gunicorn's text lines keep their own)."""
    handler.addFilter(RequestIdFilter())
    handler.addFilter(Redactor())
    if log_format is not None:
        handler.setFormatter(formatter(log_format))
    return handler


def configure(log_format: str, level: str) -> None:
    """One handler on the root logger, to stderr, replacing the one a previous app set:
    every logger (ours, Flask's, libraries') propagates to it."""
    root = logging.getLogger()
    # Flask's own console handler would write each of the app's lines a second time.
    logging.getLogger("idp").removeHandler(default_handler)
    for old in [h for h in root.handlers if getattr(h, "idp_handler", False)]:
        root.removeHandler(old)
    handler = prepare(logging.StreamHandler(sys.stderr), log_format)
    handler.idp_handler = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())


# Named on every request a traveller's token makes: a function of its arguments alone,
# kept for the travellers seen lately (bounded; issue 13, part 5).
@functools.lru_cache(maxsize=16_384)
def pseudonym(user_id: int, secret_key: str) -> str:
    """The traveller in the logs: HMAC-SHA256 of the user's id under a key of its own,
    derived from the secret key, cut to 16 hex digits (64 bits: no collision in practice
    among a territory's travellers, nothing that leads back to the account)."""
    return hmac.new(_pseudonym_key(secret_key), str(user_id).encode(),
                    hashlib.sha256).hexdigest()[:16]


@functools.cache  # one secret key per app: derived once, not at every request
def _pseudonym_key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), b"mobility-id log pseudonym", hashlib.sha256).digest()


def note(client_id: str | None = None, user_id: int | None = None) -> None:
    """Name the platform and the traveller this request concerns, for its access line."""
    if client_id:
        request.environ[CLIENT_ID] = client_id
    if user_id is not None:
        secret = current_app.extensions["idp.settings"].secret_key
        request.environ[TRAVELLER] = pseudonym(user_id, secret)


def known_client() -> str | None:
    """The registered platform a request names (query, form or Basic credentials): a
    client_id nobody registered is somebody's arbitrary text and stays out of the log."""
    from sqlalchemy.exc import SQLAlchemyError

    from idp.oauth.server import query_client

    try:
        basic = request.authorization
        named = request.values.get("client_id") or (basic.username if basic else None)
        client = query_client(named) if named and CLIENT_ID_SHAPE.fullmatch(named) else None
    except (ValueError, HTTPException, SQLAlchemyError):
        # A header that is not base64, a body too large, a database away: the answer
        # already says so.
        return None
    return client.client_id if client is not None else None


def stamp_request(response: Response) -> Response:
    """Leave the platform and the traveller of this request where its access line
    (written by gunicorn after the response) finds them."""
    if CLIENT_ID not in request.environ:
        note(client_id=known_client())
    if TRAVELLER not in request.environ:
        note(user_id=traveller_id())
    return response


def traveller_id() -> int | None:
    """The traveller a browser session or a token grant (the code's, the refresh token's
    owner) concerns, when this request already knows it."""
    login = g.get("idp_login")
    if login is not None:
        return int(login.user_id)
    grant = g.get("idp_log_grant")
    user = getattr(getattr(grant, "request", None), "user", None)
    return getattr(user, "id", None)


def on_client_authenticated(sender: Any, client: Any = None, grant: Any = None,
                            **_: Any) -> None:
    note(client_id=getattr(client, "client_id", None))
    g.idp_log_grant = grant  # its request names the user once the grant is validated


def on_token_authenticated(sender: Any, token: Any = None, **_: Any) -> None:
    note(client_id=getattr(token, "client_id", None), user_id=getattr(token, "user_id", None))


def init_app(app: Flask) -> None:
    from authlib.integrations.flask_oauth2 import client_authenticated, token_authenticated

    settings = app.extensions["idp.settings"]
    if settings.env != "testing":  # tests keep pytest's own log capture
        configure(settings.log_format, settings.log_level)
    app.wsgi_app = RequestIdMiddleware(app.wsgi_app)  # type: ignore[method-assign]
    app.after_request(stamp_request)
    client_authenticated.connect(on_client_authenticated)
    token_authenticated.connect(on_token_authenticated)
