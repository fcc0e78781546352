"""DPoP (RFC 9449): access and refresh tokens bound to a key the platform holds.

A platform that sends a ``DPoP`` proof at ``/token`` gets tokens bound to the proof's key
(its RFC 7638 thumbprint, ``jkt``). Each later use of such a token comes with a new proof
signed by the same key, so a stolen token is useless without the key. Replayed proofs are
caught by their ``jti``, kept in the database so that several instances agree. When the
operator turns nonces on (``idp.oauth.dpop_nonce``), a proof must also carry a nonce the
provider handed out."""

from __future__ import annotations

import base64
import hashlib
import time
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import OAuth2Error
from flask import g
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.datastructures import Headers

from idp.digests import digest
from idp.extensions import db, utcnow
from idp.oauth import dpop_nonce
from idp.oauth.replay import remember_once
from idp.types import UTCDateTime

# What discovery advertises as dpop_signing_alg_values_supported (RFC 9449 5.1).
ALGORITHMS = ("ES256", "RS256")
PROOF_TYPE = "dpop+jwt"
# RFC 9449 11.1: proofs are accepted only for a short time around their `iat`.
WINDOW = 60
MAX_PROOF_LENGTH = 8192


def proof_registry() -> jws.JWSRegistry:
    """joserfc's registry with room for the RSA public key a proof's header carries."""
    registry = jws.JWSRegistry(algorithms=list(ALGORITHMS))
    registry.max_header_length = 2048
    return registry


class InvalidDPoPProofError(OAuth2Error):
    """RFC 9449 5 and 7.1: the proof is missing, malformed or does not fit the request."""

    error = "invalid_dpop_proof"
    status_code = 400


class UseDPoPNonceError(InvalidDPoPProofError):
    """RFC 9449 8: the proof lacks the current server nonce; the response's ``DPoP-Nonce``
    header gives it (``idp.oauth.dpop_nonce``)."""

    error = "use_dpop_nonce"


class DPoPChallenge(OAuth2Error):
    """RFC 9449 7.1: a resource refuses a request about a bound token with a ``DPoP``
    challenge, whatever scheme the request used."""

    status_code = 401

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error

    def get_headers(self) -> list[tuple[str, str]]:
        algs = " ".join(ALGORITHMS)
        challenge = f'DPoP error="{self.error}", algs="{algs}"'
        return [("Content-Type", "application/json"), ("Cache-Control", "no-store"),
                ("WWW-Authenticate", challenge)]


class UsedProof(db.Model):  # type: ignore[name-defined,misc]
    """A proof seen in the last window, by the digest of its key and ``jti`` (RFC 9449
    11.1). The unique constraint makes a replay fail even when racing on two instances."""

    __tablename__ = "dpop_proof"

    id: Mapped[int] = mapped_column(primary_key=True)
    proof_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


def thumbprint_of_request(headers: Headers, method: str, url: str,
                          access_token: str | None = None) -> str | None:
    """The checked key thumbprint of the request's ``DPoP`` header, None without one."""
    values: list[str] = headers.getlist("DPoP")
    if not values:
        return None
    if len(values) != 1:
        raise InvalidDPoPProofError("Send exactly one DPoP header.")
    return validate_proof(values[0], method, url, access_token)


def validate_proof(proof: str, method: str, url: str, access_token: str | None = None) -> str:
    """RFC 9449 4.3: check a proof for this request; returns its key's thumbprint."""
    if len(proof) > MAX_PROOF_LENGTH:
        raise InvalidDPoPProofError("The DPoP proof is too long.")
    try:
        header = jws.extract_compact(proof.encode(), registry=proof_registry()).protected
    except (JoseError, ValueError, TypeError):
        raise InvalidDPoPProofError("The DPoP proof is not a JWT.") from None
    key = proof_key(header)
    try:
        claims = dict(jwt.decode(proof, key, algorithms=[header["alg"]],
                                registry=proof_registry()).claims)
    except (JoseError, ValueError, TypeError):
        raise InvalidDPoPProofError("The DPoP proof's signature does not verify.") from None
    validate_claims(claims, method, url, access_token)
    if dpop_nonce.required() and not dpop_nonce.check_nonce(claims.get("nonce")):
        raise UseDPoPNonceError("Send a DPoP proof with the nonce of the DPoP-Nonce header.")
    jkt = str(key.thumbprint())
    remember(jkt, str(claims["jti"]))
    return jkt


def proof_key(header: dict[str, Any]) -> RSAKey | ECKey:
    """The public key in the header, after the checks of RFC 9449 4.3 steps 4 to 7."""
    if header.get("typ") != PROOF_TYPE:
        raise InvalidDPoPProofError("The DPoP proof's typ must be dpop+jwt.")
    if header.get("alg") not in ALGORITHMS:
        raise InvalidDPoPProofError("The DPoP proof's alg is not supported.")
    data = header.get("jwk")
    if not isinstance(data, dict):
        raise InvalidDPoPProofError("The DPoP proof carries no jwk.")
    kind: type[RSAKey] | type[ECKey] = RSAKey if header["alg"] == "RS256" else ECKey
    try:
        key = kind.import_key(data)
    except (JoseError, ValueError, TypeError, KeyError):
        raise InvalidDPoPProofError("The DPoP proof's jwk is not a usable key.") from None
    if key.is_private or any(name in data for name in ("d", "p", "q")):
        raise InvalidDPoPProofError("The DPoP proof's jwk must be a public key.")
    return key


def validate_claims(claims: dict[str, Any], method: str, url: str,
                 access_token: str | None) -> None:
    """RFC 9449 4.3 steps 8 to 12: jti, htm, htu, iat and, at resources, ath."""
    jti, iat = claims.get("jti"), claims.get("iat")
    if not isinstance(jti, str) or not 0 < len(jti) <= 256 or not jti.isprintable():
        raise InvalidDPoPProofError("The DPoP proof needs a jti, short printable text.")
    if claims.get("htm") != method:
        raise InvalidDPoPProofError("The DPoP proof's htm does not match the request.")
    htu = claims.get("htu")
    if not isinstance(htu, str) or without_query(htu) != without_query(url):
        raise InvalidDPoPProofError("The DPoP proof's htu does not match the request.")
    if isinstance(iat, bool) or not isinstance(iat, int | float) \
            or abs(time.time() - iat) > WINDOW:
        raise InvalidDPoPProofError("The DPoP proof's iat is not recent.")
    if access_token is not None and claims.get("ath") != token_hash(access_token):
        raise InvalidDPoPProofError("The DPoP proof's ath does not match the access token.")


def without_query(url: str) -> tuple[str, str, str]:
    """RFC 9449 4.3 step 9: compare the URI without query and fragment (RFC 3986 6.2
    normalisation of scheme and host only)."""
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower(), parts.path or "/"


def token_hash(access_token: str) -> str:
    """RFC 9449 4.2: ``ath``, base64url of the SHA-256 of the access token."""
    raw = hashlib.sha256(access_token.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def remember(jkt: str, jti: str) -> None:
    """Record the proof, refusing one already seen (RFC 9449 11.1)."""
    seen = UsedProof(proof_hash=digest(f"{jkt}:{jti}"),
                     expires_at=utcnow() + timedelta(seconds=2 * WINDOW))
    if not remember_once(seen):
        raise InvalidDPoPProofError("The DPoP proof was already used.")


def bind_request(jkt: str | None) -> None:
    """Remember, for this request, the key the tokens being issued are bound to."""
    g.dpop_jkt = jkt


def bound_key() -> str | None:
    """The key thumbprint of this token request's checked proof, if it had one."""
    jkt: str | None = g.get("dpop_jkt")
    return jkt
