"""Pending authorization requests, kept in the signed session cookie while the traveller
logs in or decides. An interaction is single-use and expires (settings.interaction_lifetime).
An expired one is kept a while longer (KEPT_EXPIRED), so that the traveller can be told
which platform asked and restart that platform's request (idp.oauth.expiry).

Only a few are kept per browser: a request whose parameters are too large is refused
before it gets here (settings.max_authorization_request)."""

from __future__ import annotations

import secrets
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Payload, OAuth2Request
from flask import current_app, session
from flask import request as flask_request
from werkzeug.datastructures import MultiDict

from idp.settings import INTERACTION_KEPT_EXPIRED

MAX_PENDING = 3
# An expired request stays restartable this long (the platform's state, nonce and PKCE
# challenge are kept with it); after that only the platform can start again.
KEPT_EXPIRED = INTERACTION_KEPT_EXPIRED
# Browsers drop cookies over 4 KiB: the pending requests share this many characters.
BUDGET = 2600
Params = list[tuple[str, str]]


@dataclass
class Interaction:
    id: str
    params: Params
    client_id: str
    created_at: float
    user_id: int | None = None
    # What the consent screen showed (purpose hashes), to record exactly that.
    shown: dict[str, Any] | None = None
    # When the platform's request first arrived; kept when an expired one is restarted,
    # so that a login made since still counts as made for this request.
    origin: float | None = None

    @property
    def started_at(self) -> float:
        return self.origin if self.origin is not None else self.created_at


class ParamsPayload(OAuth2Payload):
    def __init__(self, params: Params) -> None:
        self._multi = MultiDict(params)

    @property
    def data(self) -> MultiDict[str, str]:
        return self._multi

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        values: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in self._multi.items(multi=True):
            values[key].append(value)
        return values


class AuthorizationRequest(OAuth2Request):
    """An authorization request rebuilt from its parameters, wherever they came from."""

    def __init__(self, params: Params) -> None:
        issuer = current_app.extensions["idp.settings"].issuer
        super().__init__("GET", f"{issuer}/authorize", headers=dict(flask_request.headers))
        self.payload = ParamsPayload(params)
        self.login: Any = None
        self.granted_scopes: list[str] = []
        self.granted_claims: list[str] = []
        self.claims_request: dict[str, Any] | None = None  # checked by the authorize view
        self.resource_request: Any = None  # RFC 8707, checked with the claims request

    @property
    def args(self) -> MultiDict[str, str]:
        return self.payload.data

    @property
    def form(self) -> MultiDict[str, str]:
        return MultiDict()


def _pending() -> dict[str, dict[str, Any]]:
    pending = session.get("interactions")
    return pending if isinstance(pending, dict) else {}


def _lifetime() -> int:
    return int(current_app.extensions["idp.settings"].interaction_lifetime)


def save(params: Params, client_id: str, origin: float | None = None) -> Interaction:
    interaction = Interaction(secrets.token_urlsafe(16), params, client_id, time.time(),
                              origin=origin)
    kept = _lifetime() + KEPT_EXPIRED
    pending = {k: v for k, v in _pending().items() if time.time() - v["created_at"] < kept}
    pending[interaction.id] = asdict(interaction)
    while len(pending) > 1 and (len(pending) > MAX_PENDING or _size(pending) > BUDGET):
        oldest = min(pending, key=lambda k: pending[k]["created_at"])
        del pending[oldest]
    session["interactions"] = pending
    return interaction


def _size(pending: dict[str, dict[str, Any]]) -> int:
    return sum(len(k) + len(v) for item in pending.values() for k, v in item["params"])


def get(interaction_id: str) -> Interaction | None:
    """The pending interaction, while it lives."""
    data = _pending().get(interaction_id)
    if not data or time.time() - data["created_at"] >= _lifetime():
        return None
    return _load(data)


def get_expired(interaction_id: str) -> Interaction | None:
    """The interaction if it has expired but is still kept to be restarted."""
    data = _pending().get(interaction_id)
    if not data:
        return None
    age = time.time() - data["created_at"]
    return _load(data) if _lifetime() <= age < _lifetime() + KEPT_EXPIRED else None


def _load(data: dict[str, Any]) -> Interaction:
    return Interaction(**dict(data, params=[tuple(p) for p in data["params"]]))


def update(interaction: Interaction) -> None:
    pending = _pending()
    pending[interaction.id] = asdict(interaction)
    session["interactions"] = pending


def drop(interaction_id: str) -> None:
    pending = _pending()
    if pending.pop(interaction_id, None) is not None:
        session["interactions"] = pending
