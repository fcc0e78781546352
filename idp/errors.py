"""One place that turns errors into answers: a page in the traveller's language for
people, JSON for platforms. A 500 shows a generic page and logs the exception."""

from __future__ import annotations

import logging

from authlib.oauth2.rfc6749 import OAuth2Error
from flask import Flask, Response, jsonify, render_template, request
from flask.globals import request_ctx
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError, SecurityError

from idp.access_log import current_route
from idp.guard import UnstorableInput
from idp.urls import issuer_adapter

log = logging.getLogger(__name__)

# Paths that platforms call (not people): their errors are JSON, whatever the cause.
API_PREFIXES = ("/token", "/userinfo", "/jwks.json", "/.well-known/", "/register",
                "/revoke", "/introspect", "/consent/records", "/par")

FRIENDLY = {
    "invalid_client": _l("This platform is not registered with Mobility ID. "
                         "Go back to the platform and try again, or contact it."),
    "invalid_request": _l("The platform sent a request we cannot accept. "
                          "Go back to the platform and try again."),
    "unsupported_response_type": _l("The platform asked for something we do not offer."),
    "expired": _l("This page has expired. Go back to the platform and start again."),
}
WRONG_HOST = _l("This address is not the address of Mobility ID. Check the address you "
                "typed or followed, and try again.")
FALLBACK_PAGE = ("<!doctype html><html lang=\"en\"><meta charset=\"utf-8\">"
                 "<title>Mobility ID</title><h1>Something went wrong</h1></html>")
TITLES = {
    400: _l("Something went wrong"),
    403: _l("Your form has expired"),
    404: _l("Page not found"),
    405: _l("Something went wrong"),
    413: _l("Too much data"),
    500: _l("Something went wrong on our side"),
}
HTTP_MESSAGES = {
    403: _l("For your security, forms expire. Go back, reload the page and try again."),
    404: _l("This page does not exist. Check the address, or go to the home page."),
    413: _l("The request was too large. Go back and try again with less data."),
    500: _l("We could not finish. Nothing was changed. Please try again in a moment."),
}


def render_error(status: int, **context: object) -> ResponseReturnValue:
    """The error page, even for a request whose Host could not be read (werkzeug then
    gives no URL adapter): its links are built under the issuer. Should the page itself
    fail, a bare page still answers with the right status, never an empty 500."""
    if request_ctx and request_ctx.url_adapter is None:
        request_ctx.url_adapter = issuer_adapter()
    try:
        return render_template("error.html", **context), status
    except Exception:
        log.exception("the error page failed on %s", current_route())
        return Response(FALLBACK_PAGE, status, content_type="text/html; charset=utf-8")


def error_page(error: OAuth2Error, status: int = 400) -> ResponseReturnValue:
    message = FRIENDLY.get(error.error, FRIENDLY["invalid_request"])
    return render_error(status, title=TITLES[400], message=message, code=error.error,
                        description=error.description)


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIXES)


def handle_http(error: HTTPException) -> ResponseReturnValue:
    status = error.code or 500
    if is_api_request():
        response: Response = jsonify(error="invalid_request", error_description=error.name)
        return response, status
    message = HTTP_MESSAGES.get(status, error.description)
    return render_error(status, title=TITLES.get(status, TITLES[400]), message=message,
                        code=status)


def handle_wrong_host(error: SecurityError) -> ResponseReturnValue:
    """A Host that is not the issuer's (or that cannot be read): 400, and the answer
    never repeats the header, which the sender chose."""
    if is_api_request():
        return jsonify(error="invalid_request", error_description="Unknown host."), 400
    return render_error(400, title=TITLES[400], message=WRONG_HOST, code="host")


def handle_unstorable(error: UnstorableInput) -> ResponseReturnValue:
    """Input we refuse to store or look up (a NUL, a lone surrogate, JSON too deep)."""
    if is_api_request():
        return jsonify(error="invalid_request", error_description=str(error)), 400
    return render_error(400, title=TITLES[400], message=FRIENDLY["invalid_request"],
                        code="invalid_request")


def handle_csrf(error: CSRFError) -> ResponseReturnValue:
    if is_api_request():
        return jsonify(error="invalid_request", error_description="CSRF check failed."), 400
    return render_error(400, title=TITLES[403], message=HTTP_MESSAGES[403], code="csrf")


def handle_unexpected(error: Exception) -> ResponseReturnValue:
    # The exception goes to the log only; the answer never echoes it.
    log.exception("unhandled error on %s %s", request.method, current_route())
    if is_api_request():
        return jsonify(error="server_error"), 500
    return render_error(500, title=TITLES[500], message=HTTP_MESSAGES[500], code=500)


def init_app(app: Flask) -> None:
    app.register_error_handler(CSRFError, handle_csrf)
    app.register_error_handler(SecurityError, handle_wrong_host)
    app.register_error_handler(UnstorableInput, handle_unstorable)
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(InternalServerError, handle_unexpected)
    app.register_error_handler(Exception, handle_unexpected)
