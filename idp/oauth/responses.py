"""The authorization response as the platform receives it, in the response mode it
asked for: a redirect with the parameters in the query (RFC 6749 4.1.2), or an HTML form
posted to the redirect URI (OAuth 2.0 Form Post Response Mode). Both always name the
issuer (RFC 9207)."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import parse_qsl, urlsplit

from authlib.common.urls import add_params_to_uri
from flask import current_app, redirect, render_template
from werkzeug.wrappers import Response

from idp.security import CSP

RESPONSE_MODES = ("query", "form_post")
Params = list[tuple[str, str]]
# The only script we ever serve, allowed by its hash: no nonce, no 'unsafe-inline'. It
# has no character that autoescaping would change, so the page holds exactly these bytes.
AUTO_SUBMIT = "document.forms[0].submit();"
AUTO_SUBMIT_HASH = base64.b64encode(hashlib.sha256(AUTO_SUBMIT.encode()).digest()).decode()
# form-action stays unset, as on every page (see idp.security): the platform's callback
# may itself redirect elsewhere, and Chrome would hold that to our policy.
FORM_POST_CSP = f"{CSP}; script-src 'sha256-{AUTO_SUBMIT_HASH}'"


def create_platform_response(redirect_uri: str, params: Params, response_mode: str) -> Response:
    """The response carrying ``params`` (a code, or an error, with state) and ``iss``."""
    params = [*params, ("iss", current_app.extensions["idp.settings"].issuer)]
    if response_mode == "form_post":
        return create_form_post_response(redirect_uri, params)
    return redirect(add_params_to_uri(redirect_uri, params))


def create_form_post_response(redirect_uri: str, params: Params) -> Response:
    """Form Post Response Mode 2: an auto-submitting form; its button shows without
    JavaScript. The parameters travel in the body, never in a URL or a Referer."""
    body = render_template("oauth/form_post.html", action=redirect_uri, params=params,
                           script=AUTO_SUBMIT)
    response = Response(body, mimetype="text/html")
    response.headers["Content-Security-Policy"] = FORM_POST_CSP
    return response


def added_params(location: str, redirect_uri: str) -> Params:
    """The parameters Authlib appended to ``redirect_uri`` to make ``location`` (it keeps
    the redirect URI's own query first and appends its own after)."""
    own = parse_qsl(urlsplit(redirect_uri).query, keep_blank_values=True)
    return parse_qsl(urlsplit(location).query, keep_blank_values=True)[len(own):]
