"""How throttling says no: too many attempts from a network (429), or the shared
throttling storage unreachable (503). Both answer with ``Retry-After`` (RFC 9110 10.2.3),
a page in the traveller's language, or JSON on the platforms' paths.

A throttle that cannot count must not let guesses through uncounted, nor count them in
each worker's memory (the limits would multiply by the number of workers): when the
storage configured with ``IDP_REDIS_URL`` fails, every form that checks a secret or sends
mail answers 503, and the failure is logged once, by its exception class only (a Redis
error's text may carry the server's address and credentials)."""

from __future__ import annotations

import logging
import math
import time

from flask import Flask, current_app, render_template
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_limiter import Limiter, RateLimitExceeded
from limits.errors import StorageError
from limits.storage import Storage
from werkzeug.exceptions import TooManyRequests

from idp.errors import is_api_request

log = logging.getLogger(__name__)

UNAVAILABLE_RETRY_AFTER = 60  # seconds; Redis restarts or fails over within a minute


class NetworkRefused(TooManyRequests):
    """The network is over its limit and this account already failed from it."""

    def __init__(self, wait: int) -> None:
        super().__init__()
        self.wait = max(1, wait)


def init_app(app: Flask) -> None:
    app.register_error_handler(RateLimitExceeded, create_limit_response)
    app.register_error_handler(NetworkRefused, create_refused_response)
    app.register_error_handler(StorageError, create_unavailable_response)


def limiter() -> Limiter:
    found: Limiter = current_app.extensions["idp.throttle"]
    return found


def storage() -> Storage:
    """The shared storage. Its errors (``StorageError``, when it is Redis) are not caught
    here: they reach ``create_unavailable_response``, which refuses the attempt."""
    return limiter().storage


def minutes(seconds: int) -> int:
    return max(1, math.ceil(seconds / 60))


def create_limit_response(error: RateLimitExceeded) -> ResponseReturnValue:
    """A mail-sending form posted too often from this network (Flask-Limiter's window)."""
    limit = limiter().current_limit
    wait = max(1, int(limit.reset_at - time.time())) if limit else 60
    return create_too_many_response(wait)


def create_refused_response(error: NetworkRefused) -> ResponseReturnValue:
    return create_too_many_response(error.wait)


def create_too_many_response(wait: int) -> ResponseReturnValue:
    """The network made too many attempts: a page in the traveller's language."""
    headers = {"Retry-After": str(wait)}
    if is_api_request():
        return {"error": "too_many_requests"}, 429, headers
    title = _l("Too many attempts")
    message = ngettext(
        "There were too many sign-in attempts from your network. "
        "Try again in %(num)d minute.",
        "There were too many sign-in attempts from your network. "
        "Try again in %(num)d minutes.",
        minutes(wait),
    )
    return render_template("error.html", title=title, message=message, code=429), 429, headers


def create_unavailable_response(error: StorageError) -> ResponseReturnValue:
    """The throttling storage is unreachable: refuse, say when to come back, log once."""
    log.error("throttling storage unreachable (%s): sign-in refused with 503",
              type(error.storage_error).__name__)
    headers = {"Retry-After": str(UNAVAILABLE_RETRY_AFTER)}
    if is_api_request():
        return {"error": "temporarily_unavailable"}, 503, headers
    title = _l("Signing in is paused")
    message = _l("We cannot check sign-in attempts right now, so signing in is paused "
                 "for your safety. Nothing was changed. Please try again in a minute.")
    return render_template("error.html", title=title, message=message, code=503), 503, headers
