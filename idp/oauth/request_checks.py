"""The checks of an authorization request, wherever it arrives: at ``/authorize`` and,
earlier, at ``/par`` (RFC 9126 2.1: a pushed request is validated as the authorization
endpoint would validate it). Authlib checks client, redirect URI, response type, scope,
PKCE, nonce and prompt; ``validate_extras`` adds what OpenID Connect leaves to us."""

from __future__ import annotations

import re
from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError, InvalidScopeError

from idp.oauth.claims import supported_scopes
from idp.oauth.claims_request import parse_claims_request
from idp.oauth.interactions import AuthorizationRequest
from idp.oauth.resources import InvalidTargetError, ResourceRequest, find_resource, split_scope
from idp.oauth.responses import RESPONSE_MODES
from idp.oauth.server import oauth_server

# RFC 9449 10: dpop_jkt is a JWK SHA-256 thumbprint (RFC 7638), base64url, 43 characters.
THUMBPRINT = re.compile(r"[A-Za-z0-9_-]{43}")


def validate_authorization_request(oauth_request: AuthorizationRequest,
                                   end_user: Any) -> Any:
    """Every check of the request; the Authlib grant that will answer it."""
    grant = oauth_server().get_consent_grant(request=oauth_request, end_user=end_user)
    validate_extras(oauth_request, grant.redirect_uri)
    return grant


def validate_extras(oauth_request: AuthorizationRequest, redirect_uri: str) -> None:
    """OIDC-specific rules Authlib leaves to us:
    - the openid scope is required: this is an OpenID provider (OIDC Core 3.1.2.1);
    - response_mode: query, the default of the code flow, or form_post;
    - max_age is a non-negative whole number of seconds;
    - dpop_jkt, when sent, is a key thumbprint (RFC 9449 10);
    - claims, when sent, is a well-formed claims request (5.5); it is kept on the request."""
    data = oauth_request.payload.data
    if "openid" not in (data.get("scope") or "").split():
        raise InvalidScopeError("The 'openid' scope is required.", redirect_uri=redirect_uri)
    if data.get("response_mode", "query") not in RESPONSE_MODES:
        raise InvalidRequestError("response_mode must be query or form_post.",
                                  redirect_uri=redirect_uri)
    max_age = data.get("max_age")
    if max_age is not None and not (max_age.isdigit() and len(max_age) <= 10):
        raise InvalidRequestError("'max_age' must be a whole number of seconds.",
                                  redirect_uri=redirect_uri)
    dpop_jkt = data.get("dpop_jkt")
    if dpop_jkt is not None and not THUMBPRINT.fullmatch(dpop_jkt):
        raise InvalidRequestError("'dpop_jkt' must be a JWK SHA-256 thumbprint.",
                                  redirect_uri=redirect_uri)
    oauth_request.claims_request = parse_claims_request(data.get("claims"), redirect_uri)
    oauth_request.resource_request = resource_request(oauth_request, redirect_uri)


def resource_request(oauth_request: AuthorizationRequest,
                     redirect_uri: str) -> ResourceRequest | None:
    """RFC 8707 2: ``resource`` names another platform's API, and ``scope`` the actions
    asked on it beside the traveller's scopes. An unknown resource, or a value of
    ``scope`` that is neither a scope nor one of its actions, is ``invalid_target``."""
    resource = find_resource(oauth_request.payload.datalist.get("resource", []), redirect_uri)
    if resource is None:
        return None
    if resource.client_id == oauth_request.payload.client_id:
        raise InvalidTargetError("A platform needs no delegation for its own resource.",
                                 redirect_uri=redirect_uri)
    actions = split_scope(oauth_request.payload.data.get("scope"), resource,
                          set(supported_scopes()), redirect_uri)
    return ResourceRequest(resource, actions)
