"""DPoP server nonces (RFC 9449 8 for the token endpoint, 9 for resources), when the
operator turns them on (``IDP_DPOP_NONCE``).

A nonce is an HMAC of the number of the current time window, under a key derived from
the secret key with a label of its own: every instance sharing the secret computes the
same nonces, so none needs a shared store. A nonce is accepted in its own window and the
next, so that a platform that just received one is not refused at a window's edge.
Responses of the endpoints that check proofs carry the current nonce in ``DPoP-Nonce``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from flask import current_app
from werkzeug.wrappers import Response

from idp.settings import Settings

HEADER = "DPoP-Nonce"
LABEL = b"mobility-id dpop-nonce v1"


def settings() -> Settings:
    value: Settings = current_app.extensions["idp.settings"]
    return value


def required() -> bool:
    """Whether proofs must carry one of our nonces."""
    return settings().dpop_nonce


def nonce_key() -> bytes:
    """A key for nonces only, derived from the secret key (never the secret key itself)."""
    return hmac.new(settings().secret_key.encode(), LABEL, hashlib.sha256).digest()


def generate_nonce(window: int) -> str:
    mac = hmac.new(nonce_key(), window.to_bytes(8, "big"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def current_window() -> int:
    return int(time.time()) // settings().dpop_nonce_window


def current_nonce() -> str:
    return generate_nonce(current_window())


def check_nonce(value: object) -> bool:
    """True for the nonce of the current window or of the one before (constant time)."""
    if not isinstance(value, str) or len(value) > 64:
        return False
    window = current_window()
    return any(hmac.compare_digest(value, generate_nonce(n)) for n in (window, window - 1))


def add_nonce_header(response: Response) -> Response:
    """Hand the current nonce to the platform (RFC 9449 8.2: with every response, so that
    it can keep up as windows turn), when nonces are on."""
    if required():
        response.headers[HEADER] = current_nonce()
    return response
