"""The platform's pages: home, login, callback, profile, local logout, and the
back-channel logout receiver the provider posts to."""

from __future__ import annotations

import hmac
import secrets
from typing import Any

import requests
from authlib.integrations.base_client import OAuthError
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue

from clients.demo_platform import events
from clients.demo_platform.app import platform
from clients.demo_platform.claims import rows
from clients.demo_platform.logout import LogoutTokenError, validate_logout_token
from clients.demo_platform.sessions import LocalSession

bp = Blueprint("platform", __name__)
NO_STORE = {"Cache-Control": "no-store"}


def current_session() -> LocalSession | None:
    return platform().sessions.get(session.get("key"))


def csrf() -> str:
    """A per-browser token for the logout form."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return str(session["csrf"])


def require_csrf() -> None:
    if not hmac.compare_digest(request.form.get("csrf", ""), csrf()):
        abort(400)


def page(template: str, status: int = 200, **context: Any) -> ResponseReturnValue:
    local = current_session()
    stopped = platform().stopped.of(local.sub) if local else None
    return render_template(template, platform=platform().config, local=local,
                           csrf=csrf(), stopped=stopped, **context), status


@bp.get("/")
def home() -> ResponseReturnValue:
    """With the bookings made here for the traveller, by any platform (issue 14)."""
    local = current_session()
    return page("home.html", bookings=platform().bookings.of(local.sub) if local else [])


@bp.get("/privacy")
def privacy() -> ResponseReturnValue:
    """The policy_uri and tos_uri that `idp demo` registers, linked from the consent screen."""
    return page("policy.html", title="Vos données")


@bp.get("/terms")
def terms() -> ResponseReturnValue:
    return page("policy.html", title="Conditions d'utilisation")


@bp.get("/login")
def login() -> ResponseReturnValue:
    """To the provider, with state, nonce and a PKCE challenge kept in the session; a
    platform with a partner also asks to act on the partner's API (RFC 8707)."""
    config = platform().config
    extra = {"resource": config.partner.api} if config.partner else {}
    return platform().oidc.authorize_redirect(config.redirect_uri, **extra)


@bp.get("/callback")
def callback() -> ResponseReturnValue:
    """Authlib checks the state, redeems the code with the verifier and verifies the ID
    token (signature, issuer, audience, nonce); then userinfo says what was shared."""
    oidc = platform().oidc
    try:
        token = oidc.authorize_access_token()
        claims = dict(oidc.userinfo(token=token))
    except OAuthError as error:
        current_app.logger.info("login failed: %s", error.error)
        message = ("Vous avez refusé la connexion." if error.error == "access_denied"
                   else "Mobility ID n'a pas pu confirmer votre identité.")
        return page("error.html", 400, message=message)
    except requests.RequestException as error:  # the provider is down or answers an error
        current_app.logger.warning("login failed: provider said %s", type(error).__name__)
        return page("error.html", 502, message="Mobility ID ne répond pas. Réessayez plus tard.")
    id_token = token["userinfo"]
    if claims.get("sub") != id_token["sub"]:  # OIDC Core 5.3.2: same traveller, or nothing
        return page("error.html", 400, message="Réponse incohérente de Mobility ID.")
    platform().sessions.end(session.get("key"))
    session.clear()  # a new local session id at login, never the one from before
    # Only a platform with a partner keeps the access token: to exchange it there.
    kept = token["access_token"] if platform().config.partner else None
    local = platform().sessions.open(id_token["sub"], id_token.get("sid"), claims, kept)
    session["key"] = local.key
    return redirect(url_for(".profile"))


@bp.get("/profile")
def profile() -> ResponseReturnValue:
    local = current_session()
    if local is None:
        if session.pop("key", None) is not None:
            flash("Votre session a pris fin. Connectez-vous à nouveau.")
        return redirect(url_for(".home"))
    return page("profile.html", claims=rows(local.claims))


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """Local logout: this platform forgets the traveller; Mobility ID is not asked."""
    require_csrf()
    platform().sessions.end(session.get("key"))
    session.clear()
    flash("Vous êtes déconnecté·e.")
    return redirect(url_for(".home"))


@bp.post("/backchannel-logout")
def backchannel_logout() -> ResponseReturnValue:
    """Back-Channel Logout 1.0 2.5 to 2.8: verify the logout token, end the matching
    sessions, answer 200; a refused token gets 400 and ends nothing. When the provider's
    keys cannot be fetched, the token cannot be checked yet: 503, which the provider's
    outbox retries (as for a security event)."""
    state = platform()
    try:
        claims = validate_logout_token(request.form.get("logout_token", ""),
                                       **provider_checks(), replay=state.replay)
    except LogoutTokenError as error:
        current_app.logger.warning("back-channel logout refused: %s", error)
        return jsonify(error="invalid_request", error_description=str(error)), 400, NO_STORE
    except requests.RequestException as error:  # its keys out of reach: it will retry
        current_app.logger.warning("back-channel logout not checked: %s", type(error).__name__)
        return "", 503, NO_STORE
    ended = state.sessions.end_matching(claims.get("sub"), claims.get("sid"))
    current_app.logger.info("back-channel logout: %s session(s) ended", ended)
    return "", 200, NO_STORE


def provider_checks() -> dict[str, Any]:
    """What a token the provider pushes must match: its issuer, its keys and algorithms,
    and our client_id as audience."""
    oidc = platform().oidc
    metadata = oidc.load_server_metadata()
    return {"issuer": metadata["issuer"], "client_id": platform().config.client_id,
            "fetch_keys": lambda force: oidc.fetch_jwk_set(force=force),
            "algorithms": metadata.get("id_token_signing_alg_values_supported", ["RS256"])}


@bp.post("/events")
def security_event() -> ResponseReturnValue:
    """RFC 8935 2: a Security Event Token pushed by the provider, verified, then 202; a
    refused one gets 400 with the RFC's error code and records nothing."""
    try:
        if request.mimetype != events.MEDIA_TYPE:
            raise events.EventError("invalid_request", f"Content-Type is not {events.MEDIA_TYPE}")
        checks = provider_checks()
        claims = events.validate_event_token(request.get_data(as_text=True), **checks)
        stopped = events.stopped_delegation(claims, checks["issuer"])
    except events.EventError as error:
        current_app.logger.warning("security event refused: %s (%s)", error.err, error)
        return jsonify(err=error.err, description=str(error)), 400, NO_STORE
    except requests.RequestException as error:  # its keys out of reach: it will retry
        current_app.logger.warning("security event not checked: %s", type(error).__name__)
        return "", 503, NO_STORE
    if stopped is not None and concerns_us(stopped):
        platform().stopped.add(stopped)
    # The jti, never the traveller's sub: no personal data in the logs.
    current_app.logger.info("security event %s accepted", claims["jti"])
    return "", 202, NO_STORE


def concerns_us(stopped: events.StoppedDelegation) -> bool:
    """We acted for the traveller on our partner's API, or another acted on ours."""
    config = platform().config
    if config.partner is not None and stopped.actor == config.client_id:
        return stopped.resource == config.partner.api
    return config.api is not None and stopped.resource == config.api
