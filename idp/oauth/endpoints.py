"""Endpoints for platforms: token, userinfo, discovery, JWKS."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flask import Blueprint, Flask, current_app, request
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from idp import prepared
from idp.extensions import csrf
from idp.keys import SUPPORTED_ALGS, key_store
from idp.oauth import dpop, dpop_nonce
from idp.oauth.acr import ACR_VALUES
from idp.oauth.claims import supported_claims, supported_scopes
from idp.oauth.grants import CLIENT_AUTH_METHODS
from idp.oauth.introspection import INTROSPECTION_AUTH_METHODS
from idp.oauth.introspection_direct import init_app as serve_introspection
from idp.oauth.platform_tokens import GRANT_TYPE as CLIENT_CREDENTIALS
from idp.oauth.platform_tokens import PLATFORM_SCOPES
from idp.oauth.refresh_direct import GRANT_TYPE as REFRESH_TOKEN
from idp.oauth.revocation import REVOCATION_AUTH_METHODS
from idp.oauth.server import oauth_server
from idp.oauth.token_direct import init_app as serve_token
from idp.oauth.token_exchange import GRANT_TYPE as TOKEN_EXCHANGE
from idp.oauth.userinfo_direct import init_app as serve_userinfo
from idp.settings import Settings
from idp.urls import issuer_url

bp = Blueprint("endpoints", __name__)
# Where DPoP proofs are checked, hence where the current nonce is handed out (RFC 9449 8, 9).
DPOP_ENDPOINTS = ("endpoints.token", "endpoints.userinfo")
DISCOVERY_VERSION = "built once"  # the document never changes within a process


@bp.after_request
def hand_out_dpop_nonce(response: Response) -> Response:
    if request.endpoint in DPOP_ENDPOINTS:
        dpop_nonce.add_nonce_header(response)
    return response


@bp.route("/token", methods=["POST"])
@csrf.exempt
def token() -> ResponseReturnValue:
    response: Response = oauth_server().create_token_response()
    if request.form.get("grant_type") in (CLIENT_CREDENTIALS, REFRESH_TOKEN):
        offer_headers(response)  # idp.oauth.token_direct's, these grants only
    return response


@bp.route("/revoke", methods=["POST"])
@csrf.exempt
def revoke() -> ResponseReturnValue:
    """RFC 7009 token revocation, for the platform that holds the token."""
    return oauth_server().create_endpoint_response("revocation")


@bp.route("/introspect", methods=["POST"])
@csrf.exempt
def introspect() -> ResponseReturnValue:
    """RFC 7662 token introspection, for an authenticated platform about its own tokens."""
    return offer_headers(oauth_server().create_endpoint_response("introspection"))


@bp.route("/userinfo", methods=["GET", "POST"])
@csrf.exempt
def userinfo() -> ResponseReturnValue:
    response: Response = oauth_server().create_endpoint_response("userinfo")
    response.headers["Cache-Control"] = "no-store"
    return offer_headers(response)


def offer_headers(response: Response) -> Response:
    """The headers of a JSON answer are those of every JSON answer of its endpoint:
    ``idp.oauth.*_direct`` answer the common request under them (``idp.prepared``)."""
    if response.mimetype == "application/json":
        prepared.offer(prepared.COMPUTED)
    return response


@bp.route("/.well-known/openid-configuration")
def discovery() -> ResponseReturnValue:
    if "idp.discovery" not in current_app.extensions:
        # Built on first use, once every package has registered its scopes.
        current_app.extensions["idp.discovery"] = prepare(current_app.extensions["idp.settings"])
    body, etag = current_app.extensions["idp.discovery"]
    prepared.offer(DISCOVERY_VERSION)
    return cached_json(body, etag, max_age=3600)


@bp.route("/jwks.json")
def jwks() -> ResponseReturnValue:
    body, etag = key_store().jwks()
    prepared.offer(etag)  # the version KeyStore.fresh_etag compares
    return cached_json(body, etag, max_age=300)


def serve_prepared(app: Flask) -> None:
    """Plain GETs of discovery and JWKS answered from the bytes Flask last gave
    (``idp.prepared``): discovery is built once per process, the JWKS while the key
    store's cache is fresh. The common requests of userinfo, introspection and the
    client credentials and refresh grants are computed there too."""
    prepared.serve(app, "endpoints.discovery", lambda: DISCOVERY_VERSION)
    prepared.serve(app, "endpoints.jwks", app.extensions["idp.keys"].fresh_etag)
    serve_userinfo(app)
    serve_introspection(app)
    serve_token(app)


def cached_json(body: bytes, etag: str, max_age: int) -> Response:
    response = Response(body, mimetype="application/json")
    response.set_etag(etag)
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response.make_conditional(request)


def discovery_document(settings: Settings) -> dict[str, Any]:
    """OIDC Discovery 1.0 section 3, every entry true: what is listed here works. Each
    URL is the route's own, under the issuer (``idp.urls``)."""
    return {
        "issuer": settings.issuer,
        "authorization_endpoint": issuer_url("oauth.authorize"),
        "token_endpoint": issuer_url("endpoints.token"),
        "userinfo_endpoint": issuer_url("endpoints.userinfo"),
        "jwks_uri": issuer_url("endpoints.jwks"),
        # Served by clients/, which idp does not know by its endpoint names.
        "registration_endpoint": f"{settings.issuer}/register",
        "end_session_endpoint": issuer_url("logout.end_session"),
        # The traveller's scopes, then the platform's own (client credentials).
        "scopes_supported": supported_scopes() + list(PLATFORM_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": ["authorization_code", "refresh_token", CLIENT_CREDENTIALS,
                                  TOKEN_EXCHANGE],
        "subject_types_supported": ["pairwise", "public"],
        "id_token_signing_alg_values_supported": list(SUPPORTED_ALGS),
        "token_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": list(SUPPORTED_ALGS),
        "revocation_endpoint": issuer_url("endpoints.revoke"),
        "revocation_endpoint_auth_methods_supported": REVOCATION_AUTH_METHODS,
        "revocation_endpoint_auth_signing_alg_values_supported": list(SUPPORTED_ALGS),
        "introspection_endpoint": issuer_url("endpoints.introspect"),
        "introspection_endpoint_auth_methods_supported": INTROSPECTION_AUTH_METHODS,
        "introspection_endpoint_auth_signing_alg_values_supported": list(SUPPORTED_ALGS),
        "code_challenge_methods_supported": ["S256"],
        "dpop_signing_alg_values_supported": list(dpop.ALGORITHMS),
        "claims_supported": supported_claims(),
        "claims_parameter_supported": True,
        # RFC 9101 and RFC 9126: signed request objects, and request_uri values only from
        # our own pushed authorization request endpoint (no fetching of platforms' URLs).
        "request_parameter_supported": True,
        "request_uri_parameter_supported": True,
        "require_request_uri_registration": False,
        "request_object_signing_alg_values_supported": list(SUPPORTED_ALGS),
        "pushed_authorization_request_endpoint": issuer_url("par.push"),
        "require_pushed_authorization_requests": False,
        "prompt_values_supported": ["none", "login", "consent"],
        "acr_values_supported": ACR_VALUES,
        "ui_locales_supported": list(settings.languages),
        "claims_locales_supported": list(settings.languages),
        "display_values_supported": ["page"],
        "authorization_response_iss_parameter_supported": True,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "service_documentation": issuer_url("accounts.home"),
    }


def prepare(settings: Settings) -> tuple[bytes, str]:
    body = json.dumps(discovery_document(settings), indent=1).encode()
    return body, hashlib.sha256(body).hexdigest()[:32]
