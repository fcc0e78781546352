"""The authorization endpoint (OIDC Core 3.1.2), as a pipeline of small steps:

1. rebuild the request from its parameters (query, form, or a pending interaction);
2. let Authlib validate client, redirect URI, response type, scope, PKCE, nonce, prompt;
3. our extra checks (openid scope, response mode, max_age, dpop_jkt, claims), in
   ``idp.oauth.request_checks``, which /par runs too;
4. send the traveller to login when there is no session, or a fresher one is asked for,
   and to the second step when the platform asks for two-step verification (``acr``);
5. ask the consent step: a page to show, or a decision;
6. only a decision reaches Authlib's ``create_authorization_response``.

Errors before the redirect URI is validated are pages; after, they go to the platform
like a code, in the response mode it asked for (``idp.oauth.responses``), with ``iss``
(RFC 9207)."""

from __future__ import annotations

import time
from dataclasses import replace

from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Error
from authlib.oidc.core.errors import ConsentRequiredError, LoginRequiredError
from flask import Blueprint, current_app, g, redirect, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from idp.accounts.login import current_login
from idp.accounts.models import BrowserSession
from idp.errors import error_page
from idp.extensions import csrf
from idp.oauth import expiry, interactions, par, request_objects
from idp.oauth.acr import needs_step_up, requested_acr, validate_acr
from idp.oauth.claims_request import keep_for_id_token
from idp.oauth.decisions import AuthorizationContext, Decision, consent_step
from idp.oauth.expiry import expired_error
from idp.oauth.interactions import AuthorizationRequest, Interaction, Params
from idp.oauth.request_checks import validate_authorization_request
from idp.oauth.responses import RESPONSE_MODES, added_params, create_platform_response
from idp.oauth.server import oauth_server, query_client

bp = Blueprint("oauth", __name__)


@bp.route("/authorize", methods=["GET", "POST"])
@csrf.exempt  # platforms may POST the request (OIDC Core 3.1.2.1); there is no session yet
def authorize() -> ResponseReturnValue:
    params: Params = [(k, v) for k in request.values for v in request.values.getlist(k)]
    if sum(len(k) + len(v) for k, v in params) > settings().max_authorization_request:
        return error_page(InvalidRequestError("The authorization request is too large."))
    try:
        params = resolve(params)
    except OAuth2Error as error:
        outer = AuthorizationRequest(params)
        error.state = outer.payload.state
        return authorization_error(error, outer)
    return run(params, None)


@bp.route("/authorize/continue/<interaction_id>")
def resume(interaction_id: str) -> ResponseReturnValue:
    interaction = interactions.get(interaction_id)
    if interaction is None:
        return expiry.expired(interaction_id)
    return run(interaction.params, interaction)


@bp.route("/authorize/restart/<interaction_id>", methods=["POST"])
def restart(interaction_id: str) -> ResponseReturnValue:
    """The "Go back" button of the expired page (a form of ours: CSRF-checked): the
    platform's same request in a new interaction. Everything is validated again, so the
    answer goes only to a redirect URI the platform registered."""
    stale = interactions.get_expired(interaction_id)
    if stale is None:
        return error_page(expired_error())
    interactions.drop(interaction_id)
    fresh = interactions.save(stale.params, stale.client_id, origin=stale.started_at)
    return run(fresh.params, fresh)


bp.app_context_processor(expiry.interaction_minutes)


def run(params: Params, interaction: Interaction | None) -> ResponseReturnValue:
    oauth_request = AuthorizationRequest(params)
    g.ui_locales = oauth_request.payload.data.get("ui_locales")
    login = current_login()
    try:
        grant = validate_authorization_request(oauth_request, login.user if login else None)
        if needs_login(oauth_request, login, interaction):
            return send_to_login(grant, params, interaction)
        assert login is not None
        if needs_step_up(requested_acr(oauth_request.payload.data,
                                       oauth_request.claims_request), login):
            return send_to_step_up(grant, params, login, interaction)
        validate_acr(oauth_request.claims_request, login, grant.redirect_uri)
        context = build_context(oauth_request, grant, login, interaction)
        decision = None if "consent" in context.prompts else consent_step().decide(context)
        if decision is None:
            return ask_consent(grant, context, params, interaction)
    except OAuth2Error as error:
        error.state = oauth_request.payload.state
        return authorization_error(error, oauth_request)
    return issue(oauth_request, grant, login, decision)


def resolve(params: Params) -> Params:
    """Where the parameters are (RFC 9126 4, RFC 9101 5): in a pushed request named by
    ``request_uri``, in a request object, or in the query. Decided first, before any
    other check, so that a platform learns what to change; an interaction keeps the
    parameters found here. A client that must push may send nothing else (RFC 9126 6)."""
    data = MultiDict(params)
    client = query_client(data.get("client_id") or "")
    if client is None:
        return params  # Authlib answers invalid_client with a page
    redirect_uri = trusted_redirect_uri(data)
    if "request_uri" in data:
        if "request" in data:
            raise InvalidRequestError("Send 'request' or 'request_uri', not both.",
                                      redirect_uri=redirect_uri)
        return par.take(data["request_uri"], client.client_id, redirect_uri)
    if client.require_pushed_authorization_requests:
        raise InvalidRequestError("This platform must push its authorization requests "
                                  "(RFC 9126).", redirect_uri=redirect_uri)
    if "request" in data:
        return request_objects.unpack(data["request"], client, params, redirect_uri)
    return params


def trusted_redirect_uri(data: MultiDict[str, str]) -> str | None:
    """The redirect URI, when it is one the named client registered (exact match)."""
    client = query_client(data.get("client_id") or "")
    uri = data.get("redirect_uri")
    return uri if client is not None and uri and client.check_redirect_uri(uri) else None


def prompts_of(oauth_request: AuthorizationRequest) -> frozenset[str]:
    return frozenset((oauth_request.payload.data.get("prompt") or "").split())


def needs_login(
    oauth_request: AuthorizationRequest,
    login: BrowserSession | None,
    interaction: Interaction | None,
) -> bool:
    """No session; or prompt=login or max_age ask for an authentication the current one is
    too old for. A login made for this very interaction always satisfies both."""
    if login is None:
        return True
    auth_time = login.auth_time.timestamp()
    if interaction is not None and auth_time >= interaction.started_at:
        return False
    if "login" in prompts_of(oauth_request):
        return True
    max_age = oauth_request.payload.data.get("max_age")
    return max_age is not None and time.time() - auth_time > int(max_age)


def send_to_login(grant, params: Params, interaction: Interaction | None) -> Response:  # type: ignore[no-untyped-def]
    data = grant.request.payload.data
    if "none" in prompts_of(grant.request):
        raise LoginRequiredError(redirect_uri=grant.redirect_uri)
    interaction = interaction or interactions.save(params, grant.client.client_id)
    target = url_for(
        "accounts.login",
        interaction=interaction.id,
        login_hint=(data.get("login_hint") or "")[:254] or None,
        ui_locales=data.get("ui_locales") or None,
    )
    return redirect(target)


def send_to_step_up(grant, params: Params, login: BrowserSession,  # type: ignore[no-untyped-def]
                    interaction: Interaction | None) -> Response:
    """To the code page, which raises this session to two-step verification (or says how
    to turn it on). With prompt=none nothing can be asked: login_required (3.1.2.6)."""
    if "none" in prompts_of(grant.request):
        raise LoginRequiredError(redirect_uri=grant.redirect_uri)
    interaction = interaction or interactions.save(params, grant.client.client_id)
    interaction.user_id = login.user_id
    interactions.update(interaction)
    return redirect(url_for("second_step.code", interaction=interaction.id))


def build_context(oauth_request, grant, login: BrowserSession,  # type: ignore[no-untyped-def]
                  interaction: Interaction | None) -> AuthorizationContext:
    return AuthorizationContext(
        interaction_id=interaction.id if interaction else None,
        user=login.user,
        client=grant.client,
        login=login,
        scopes=oauth_request.scope.split(),
        prompts=prompts_of(oauth_request),
        claims_request=oauth_request.claims_request,
        resource_request=oauth_request.resource_request,
    )


def ask_consent(grant, context: AuthorizationContext, params: Params,  # type: ignore[no-untyped-def]
                interaction: Interaction | None) -> ResponseReturnValue:
    if "none" in context.prompts:
        raise ConsentRequiredError(redirect_uri=grant.redirect_uri)
    interaction = interaction or interactions.save(params, grant.client.client_id)
    interaction.user_id = context.user.id
    interactions.update(interaction)
    return consent_step().page(replace(context, interaction_id=interaction.id))


def complete(interaction_id: str, decision: Decision | None,
             error: OAuth2Error | None = None) -> ResponseReturnValue:
    """Finish a pending interaction with the traveller's answer (None: they refused;
    ``error``: what the platform is told instead of access_denied).
    The interaction is consumed: a replayed confirmation finds nothing."""
    interaction = interactions.get(interaction_id)
    login = current_login()
    if interaction is None:
        return expiry.expired_answer(interaction_id)
    if login is None or interaction.user_id != login.user_id:
        return error_page(expired_error())
    interactions.drop(interaction_id)
    oauth_request = AuthorizationRequest(interaction.params)
    g.ui_locales = oauth_request.payload.data.get("ui_locales")
    try:
        grant = validate_authorization_request(oauth_request, login.user)
        if error is not None:
            error.redirect_uri = grant.redirect_uri
            raise error
    except OAuth2Error as raised:
        raised.state = oauth_request.payload.state
        return authorization_error(raised, oauth_request)
    return issue(oauth_request, grant, login, decision)


def issue(oauth_request: AuthorizationRequest, grant,  # type: ignore[no-untyped-def]
          login: BrowserSession, decision: Decision | None) -> Response:
    allowed = oauth_request.scope.split()
    if decision is not None:
        # Never more than was asked and allowed; openid always, it is what the login is.
        kept = {"openid", *decision.scopes}
        oauth_request.granted_scopes = [s for s in allowed if s in kept]
        oauth_request.granted_claims = list(decision.claims)
        oauth_request.claims_request = keep_for_id_token(oauth_request.claims_request,
                                                         decision.id_token_claims)
    oauth_request.login = login
    response = oauth_server().create_authorization_response(
        request=oauth_request,
        grant_user=login.user if decision is not None else None,
        grant=grant,
    )
    if not response.location:
        return response
    # Authlib puts the code (or access_denied) in a redirect; send it in the mode asked.
    params = added_params(response.location, grant.redirect_uri)
    return create_platform_response(grant.redirect_uri, params, response_mode(oauth_request))


def authorization_error(error: OAuth2Error,
                        oauth_request: AuthorizationRequest) -> ResponseReturnValue:
    if not error.redirect_uri:
        return error_page(error)
    return create_platform_response(error.redirect_uri, error.get_body(),
                                    response_mode(oauth_request))


def response_mode(oauth_request: AuthorizationRequest) -> str:
    """The mode asked for, when we support it; an unsupported one is answered by query."""
    mode = oauth_request.payload.data.get("response_mode", "query")
    return mode if mode in RESPONSE_MODES else "query"


def settings():  # type: ignore[no-untyped-def]
    return current_app.extensions["idp.settings"]
