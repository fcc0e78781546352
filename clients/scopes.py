"""What a platform may ask for: its scopes, their declared purposes, and the grant types
that go with them. A registration is reconciled rather than refused where the standards
let the provider choose (RFC 7591 3.2.1: the response shows what was registered)."""

from __future__ import annotations

from typing import Any

from clients.errors import ClientMetadataError
from consent.scopes import VERIFIED, describe, undeclared_scopes
from idp.oauth.claims import supported_scopes

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials", TOKEN_EXCHANGE)
MAX_PURPOSE_LANGUAGES = 10
# The scope policy's name in client metadata; custom names carry the provider's prefix.
POLICY_FIELD = "mob_scope_policy"


def validate_scope(scope: str) -> list[str]:
    """A declared ``scope``: known scopes only, openid always first."""
    scopes = list(dict.fromkeys(scope.split()))
    unknown = [s for s in scopes if s not in supported_scopes()]
    if unknown:
        raise ClientMetadataError("invalid_client_metadata",
                                  f"unknown scope: {' '.join(unknown)}")
    if "openid" not in scopes:
        scopes.insert(0, "openid")
    return scopes


def default_scopes(grant_types: list[str] | None, method: str) -> list[str]:
    """The scopes of a registration without ``scope`` (OIDC Registration 1.0 has none):
    the catalogue's undeclared set, and offline_access when the platform asked for the
    refresh_token grant and may hold refresh tokens. Sensitive mobility and verified
    scopes need an explicit ``scope``."""
    scopes = [s for s in undeclared_scopes() if s in supported_scopes()]
    # Public clients too: their refresh tokens rotate and live shorter (RFC 9700 4.14.2).
    if "refresh_token" in (grant_types or []):
        scopes.append("offline_access")
    return scopes


def validate_scope_policy(policy: dict[str, Any], scopes: list[str]) -> dict[str, Any]:
    """Each declared scope: one the platform may ask for, required or optional, with a
    purpose sentence per language. A sensitive scope can never be required."""
    clean: dict[str, Any] = {}
    for scope, entry in policy.items():
        if scope not in scopes or scope == "openid":
            raise ClientMetadataError("invalid_client_metadata",
                                      f"{POLICY_FIELD} names {scope}, not in the client's scope.")
        if not isinstance(entry, dict):
            raise ClientMetadataError("invalid_client_metadata",
                                      f"{POLICY_FIELD}.{scope} must be an object.")
        required = entry.get("required", False)
        purpose = entry.get("purpose") or {}
        if not isinstance(required, bool) or not isinstance(purpose, dict) or not purpose:
            raise ClientMetadataError(
                "invalid_client_metadata",
                f"{POLICY_FIELD}.{scope} needs a boolean 'required' and a 'purpose' by language.")
        if (any(not isinstance(t, str) or not t.strip() or len(t) > 300 for t in purpose.values())
                or any(len(k) > 16 for k in purpose) or len(purpose) > MAX_PURPOSE_LANGUAGES):
            raise ClientMetadataError("invalid_client_metadata",
                                      f"{POLICY_FIELD}.{scope}.purpose: sentences up to 300 "
                                      "characters, keyed by language tag, at most "
                                      f"{MAX_PURPOSE_LANGUAGES} languages.")
        if required and describe(scope).sensitive:
            raise ClientMetadataError("invalid_client_metadata",
                                      f"{scope} is sensitive and can never be required.")
        clean[scope] = {"required": required,
                        "purpose": {k: v.strip() for k, v in purpose.items()}}
    validate_declared_purposes(scopes, clean)
    return clean


def validate_declared_purposes(scopes: list[str], policy: dict[str, Any]) -> None:
    """Special-category (GDPR Art. 9) and verified scopes only with the purpose the
    traveller will read (shared/SCOPES.md): listing one in ``scope`` is not enough."""
    bare = [s for s in scopes if (describe(s).special or s in VERIFIED) and s not in policy]
    if bare:
        raise ClientMetadataError(
            "invalid_client_metadata",
            f"{' '.join(bare)}: declare the purpose in {POLICY_FIELD} "
            "(special-category and verified scopes).")


def validate_response_types(response_types: list[str] | None) -> None:
    """Only the code flow is built. A library that lists every flow it knows (Apache's
    mod_auth_openidc sends code, id_token, code id_token...) is registered for code, as
    the response shows (RFC 7591 3.2.1); one that does not list code is refused."""
    if "code" not in (response_types or ["code"]):
        raise ClientMetadataError("invalid_client_metadata",
                                  "response_types: only code is supported.")


def validate_grant_types(grant_types: list[str] | None, scopes: list[str],
                         method: str = "client_secret_basic") -> list[str]:
    """RFC 7591 2.1: the 'code' response type goes with the authorization_code grant.
    Omitted grant types follow from the scope. refresh_token without offline_access is
    kept: refresh tokens are issued only when offline_access is asked and granted (OIDC
    Core 11). offline_access without refresh_token gets the grant added (RFC 7591 3.2.1)."""
    offline = "offline_access" in scopes
    if grant_types is None:
        return ["authorization_code", "refresh_token"] if offline else ["authorization_code"]
    kept = list(dict.fromkeys(grant_types))
    if "authorization_code" in kept:
        # The grant of the response types dropped with the code flow kept (RFC 7591 2.1).
        kept = [g for g in kept if g != "implicit"]
    unsupported = [g for g in kept if g not in GRANT_TYPES]
    if unsupported:
        raise ClientMetadataError("invalid_client_metadata",
                                  f"grant_types: {' '.join(unsupported)} not supported; "
                                  "use authorization_code, refresh_token, "
                                  f"client_credentials and {TOKEN_EXCHANGE}.")
    if TOKEN_EXCHANGE in kept and method == "none":
        # RFC 8693 2.1: the actor is the authenticated client; a public one proves nothing.
        raise ClientMetadataError("invalid_client_metadata",
                                  "grant_types: token exchange is for confidential "
                                  "clients only.")
    if "client_credentials" in kept and method == "none":
        # RFC 6749 4.4: the client authenticates; a public client has nothing to show.
        raise ClientMetadataError("invalid_client_metadata",
                                  "grant_types: client_credentials is for confidential "
                                  "clients only.")
    if "authorization_code" not in kept:
        raise ClientMetadataError("invalid_client_metadata",
                                  "grant_types must include authorization_code, the grant of "
                                  "the code response type.")
    if offline and "refresh_token" not in kept:
        kept.append("refresh_token")
    return kept
