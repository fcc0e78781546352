"""private_key_jwt client authentication (RFC 7523 2.2 and 3, OIDC Core 9): a platform
signs a short-lived JWT with a key it registered, inline (``jwks``) or by URL
(``jwks_uri``), and never sends a secret."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from flask import current_app
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from idp import outbound
from idp.documents import Documents, documents
from idp.extensions import db, utcnow
from idp.keys import SUPPORTED_ALGS
from idp.oauth.models import Client, UsedAssertion

METHOD = "private_key_jwt"
FETCH_LIMIT = 64 * 1024  # bytes of a JWKS document
MAX_KEYS = 10
MAX_JTI = 255
# Members that only a private or symmetric key has (RFC 7518 6.2.2, 6.3.2, 6.4).
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
KEY_TYPES = {"RSA": "RS256", "EC": "ES256"}


class JWKSError(ValueError):
    """A JWKS a platform registered or serves is not a set of its public signing keys."""


def validate_public_jwks(data: Any) -> KeySet:
    """Public RSA or P-256 keys only, for RS256 or ES256 (the algorithms we verify).
    A private member is refused outright: the platform just leaked its key to us."""
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list) or not data["keys"]:
        raise JWKSError("jwks must be an object with a non-empty 'keys' array.")
    if len(data["keys"]) > MAX_KEYS:
        raise JWKSError(f"jwks: at most {MAX_KEYS} keys.")
    for key in data["keys"]:
        validate_public_jwk(key)
    try:
        return KeySet.import_key_set(data)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError) as exc:
        raise JWKSError(f"jwks: a key cannot be read ({type(exc).__name__}).") from None


def validate_public_jwk(key: Any) -> None:
    if not isinstance(key, dict):
        raise JWKSError("jwks: each key must be an object.")
    if any(name in key for name in PRIVATE_MEMBERS):
        raise JWKSError("jwks: only public keys; a private or symmetric key was sent.")
    kty = key.get("kty")
    if kty not in KEY_TYPES:
        raise JWKSError("jwks: keys must be RSA or EC (for RS256 or ES256).")
    if kty == "EC" and key.get("crv") != "P-256":
        raise JWKSError("jwks: EC keys must use the P-256 curve (ES256).")
    if key.get("alg") not in (None, KEY_TYPES[kty]):
        raise JWKSError(f"jwks: a {kty} key is for {KEY_TYPES[kty]}.")
    if key.get("use") not in (None, "sig"):
        raise JWKSError("jwks: keys must be signing keys (use 'sig').")


def load_jwks(uri: str) -> KeySet:
    """GET the platform's JWKS through the outbound guard."""
    try:
        return validate_public_jwks(json.loads(outbound.get(uri, limit=FETCH_LIMIT)))
    except ValueError as exc:  # not JSON, or not a set of public signing keys
        raise outbound.FetchError(type(exc).__name__) from None


def fetch_jwks(uri: str, client_id: str) -> KeySet:
    """The platform's JWKS from its URL: kept a few minutes per process, a failure kept
    one minute, and fetched by one request at a time (``idp.documents``)."""
    try:
        cache: Documents[KeySet] = documents("client_jwks")
        keys = cache.get(uri, load_jwks)
    except outbound.Busy:
        current_app.logger.warning("jwks_uri of %s: no fetch slot free", client_id)
        raise InvalidClientError(description="The client's keys cannot be fetched now; "
                                             "try again later.") from None
    except outbound.FetchError as error:
        current_app.logger.warning("jwks_uri of %s cannot be used: %s", client_id,
                                   error.reason)
        raise InvalidClientError(description="The client's jwks_uri cannot be used.") from None
    return keys


def client_keys(client: Client) -> KeySet:
    if client.jwks:
        return KeySet.import_key_set(client.jwks)  # type: ignore[arg-type]
    if client.jwks_uri:
        return fetch_jwks(client.jwks_uri, client.client_id)
    raise InvalidClientError(description="The client registered no keys.")


def spend_jti(client_id: str, jti: str, exp: int) -> bool:
    """Record the assertion's jti until it expires; False if it was seen already. The
    unique constraint decides between two racing requests. Expired ones are purged."""
    now = utcnow()
    db.session.execute(delete(UsedAssertion).where(UsedAssertion.expires_at < now)
                       .execution_options(synchronize_session=False))
    expires_at = max(now, datetime.fromtimestamp(exp, UTC)) + timedelta(seconds=60)
    try:
        with db.session.begin_nested():
            db.session.add(UsedAssertion(client_id=client_id, jti=jti, expires_at=expires_at))
    except IntegrityError:
        db.session.commit()
        return False
    # Committed now: a request that fails later has still spent its assertion.
    db.session.commit()
    return True


class PrivateKeyJWT(JWTBearerClientAssertion):
    """RFC 7523 client assertions signed with the platform's registered key. Authlib
    checks iss = sub = client_id, aud, exp and the presence of jti."""

    CLIENT_AUTH_METHOD = METHOD

    def get_audiences(self) -> list[str]:
        """OIDC Core 9: the token endpoint URL; RFC 7523 3 also allows the issuer; RFC 9126
        2 makes /par accept its own URL too, and all three anywhere the assertion is used."""
        issuer = str(current_app.extensions["idp.settings"].issuer)
        return [f"{issuer}/token", f"{issuer}/par", issuer]

    def resolve_client_public_key(self, client: Client) -> KeySet:
        return client_keys(client)

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> Any:
        # Only the asymmetric algorithms a registered public key can verify.
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=list(SUPPORTED_ALGS))
        except (JoseError, ValueError) as exc:
            current_app.logger.info("client assertion refused: %s", type(exc).__name__)
            raise InvalidClientError(description="The client assertion is not valid.") from None
        self.verify_claims(token.claims)
        return token.claims

    def validate_jti(self, claims: dict[str, Any], jti: Any) -> bool:
        if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI:
            return False
        return spend_jti(claims["sub"], jti, int(claims["exp"]))
