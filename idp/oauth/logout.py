"""RP-Initiated Logout 1.0: a platform sends the traveller to ``end_session_endpoint`` to
end their Mobility ID session too, and may name where to come back to.

Checks, each failure a page and never a redirect (section 3):
- id_token_hint, when sent: one of our ID tokens (signature checked; it may have expired,
  section 2), for a registered platform, and for that platform if client_id is sent too;
- post_logout_redirect_uri: exactly one of that platform's registered URIs (3.1);
- the traveller confirms, unless the hint names the very session being ended (2: the
  logout could otherwise be forced on them by any page)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749 import InvalidRequestError
from flask import Blueprint, current_app, g, redirect, render_template, request
from flask.typing import ResponseReturnValue
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from werkzeug.datastructures import MultiDict

from idp.accounts.forms import ConfirmForm
from idp.accounts.login import current_login, log_out
from idp.accounts.models import BrowserSession
from idp.errors import error_page
from idp.extensions import csrf
from idp.keys import SUPPORTED_ALGS, key_store
from idp.oauth.claims import subject_for
from idp.oauth.models import Client
from idp.oauth.server import query_client

bp = Blueprint("logout", __name__)
PARAMS = ("id_token_hint", "client_id", "post_logout_redirect_uri", "state", "ui_locales")
MAX_PARAM = 4096


@dataclass(frozen=True)
class LogoutRequest:
    client: Client | None
    redirect_uri: str | None
    state: str | None
    hint: dict[str, Any] | None  # the claims of a verified id_token_hint

    def names_session(self, login: BrowserSession) -> bool:
        """The hint was issued for this traveller in this browser session."""
        if self.hint is None or self.client is None:
            return False
        if self.hint.get("sub") != subject_for(login.user, self.client):
            return False
        return self.hint.get("sid") in (None, login.sid)


@bp.route("/end_session", methods=["GET", "POST"])
@csrf.exempt  # platforms may POST (section 2); logging out then always asks first
def end_session() -> ResponseReturnValue:
    # The confirmation form carries these back; the hint is checked again then.
    params = MultiDict({k: request.values.get(k, "") for k in PARAMS if k in request.values})
    g.ui_locales = params.get("ui_locales")
    try:
        logout_request = validate_logout_request(params)
    except InvalidRequestError as error:
        return error_page(error)
    login = current_login()
    if login is None:
        return finish(logout_request)
    if logout_request.names_session(login):
        log_out(notify_platforms=True)
        return finish(logout_request)
    return render_template("oauth/end_session.html", form=ConfirmForm(), user=login.user,
                           client=logout_request.client,
                           fields=[(k, v) for k, v in params.items() if v])


@bp.route("/end_session/confirm", methods=["POST"])
def confirm() -> ResponseReturnValue:
    """The traveller's answer on the confirmation page; the form's CSRF token proves it
    came from that page, not from a platform's."""
    g.ui_locales = request.form.get("ui_locales")
    form = ConfirmForm()
    try:
        logout_request = validate_logout_request(request.form)
    except InvalidRequestError as error:
        return error_page(error)
    if not form.validate_on_submit():
        return error_page(InvalidRequestError("This page has expired."))
    log_out(notify_platforms=True)
    return finish(logout_request)


def validate_logout_request(params: MultiDict[str, str]) -> LogoutRequest:
    if any(len(params.get(k, "")) > MAX_PARAM for k in PARAMS):
        raise InvalidRequestError("The logout request is too large.")
    hint = verify_id_token_hint(params.get("id_token_hint"))
    client = logout_client(params.get("client_id"), hint)
    redirect_uri = params.get("post_logout_redirect_uri") or None
    if redirect_uri is not None:
        if client is None:
            raise InvalidRequestError(
                "post_logout_redirect_uri needs client_id or id_token_hint.")
        if not client.check_post_logout_redirect_uri(redirect_uri):
            raise InvalidRequestError("post_logout_redirect_uri is not registered.")
    return LogoutRequest(client, redirect_uri, params.get("state") or None, hint)


def verify_id_token_hint(token: str | None) -> dict[str, Any] | None:
    """One of our ID tokens, by its signature and issuer. Expiry is not checked: the
    hint is often old by the time the traveller logs out (section 2)."""
    if not token:
        return None
    keys = KeySet.import_key_set(json.loads(key_store().jwks()[0]))
    try:
        claims = dict(jwt.decode(token, keys, algorithms=list(SUPPORTED_ALGS)).claims)
    except (JoseError, ValueError):
        raise InvalidRequestError("The id_token_hint is not valid.") from None
    if claims.get("iss") != current_app.extensions["idp.settings"].issuer:
        raise InvalidRequestError("The id_token_hint was not issued here.")
    return claims


def logout_client(client_id: str | None, hint: dict[str, Any] | None) -> Client | None:
    """The platform named by client_id, by the hint's audience, or both in agreement."""
    audience = (hint or {}).get("aud") or []
    audience = [audience] if isinstance(audience, str) else list(audience)
    if hint is not None and (len(audience) != 1 or (client_id and client_id != audience[0])):
        raise InvalidRequestError("The id_token_hint is for another platform.")
    client_id = client_id or (audience[0] if audience else None)
    if not client_id:
        return None
    client = query_client(str(client_id))
    if client is None:
        raise InvalidRequestError("The platform is not registered.")
    return client


def finish(logout_request: LogoutRequest) -> ResponseReturnValue:
    if logout_request.redirect_uri is None:
        return render_template("oauth/logged_out.html", client=logout_request.client)
    state = [("state", logout_request.state)] if logout_request.state else []
    return redirect(add_params_to_uri(logout_request.redirect_uri, state))
