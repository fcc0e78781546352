"""The regional platform using its partner's API for a traveller: it trades the
traveller's access token for one meant for that API (token exchange, RFC 8693), for one
action at a time, then calls the API with it. Each call exchanges anew: the provider then
checks every time that the traveller still allows it."""

from __future__ import annotations

from typing import Any

import requests

from clients.demo_platform.app import Partner, platform
from clients.demo_platform.sessions import LocalSession

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"
# What the provider's refusal means for the traveller (RFC 8693 2.2.2, RFC 6749 5.2).
STOPPED = ("access_denied", "invalid_scope", "invalid_target", "unauthorized_client")


class PartnerError(Exception):
    """Why the partner's API could not be used: ``stopped`` (the traveller did not allow
    it, or no longer does), ``session`` (the traveller's own token ended), ``gone`` (the
    API refused the request itself) or ``down``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def partner() -> Partner:
    found = platform().config.partner
    assert found is not None, "only a platform with a partner uses its API"
    return found


def exchange(local: LocalSession, action: str) -> str:
    """A token for the partner's API, for this one action."""
    if local.access_token is None:
        raise PartnerError("session")
    state = platform()
    try:
        endpoint = state.oidc.load_server_metadata()["token_endpoint"]
        answer = requests.post(endpoint, data={
            "grant_type": TOKEN_EXCHANGE, "subject_token": local.access_token,
            "subject_token_type": ACCESS_TOKEN, "resource": partner().api, "scope": action,
        }, auth=(state.config.client_id, state.config.client_secret), timeout=10)
        body = answer.json()
    except (requests.RequestException, ValueError) as error:
        raise PartnerError("down") from error
    if answer.status_code == 200 and isinstance(body.get("access_token"), str):
        return str(body["access_token"])
    error_code = body.get("error")
    raise PartnerError("stopped" if error_code in STOPPED
                       else "session" if error_code == "invalid_grant" else "down")


def call(local: LocalSession, action: str, method: str, path: str, **kwargs: Any) -> Any:
    """The API's JSON answer to ``method path``, called with an exchanged token."""
    token = exchange(local, action)
    try:
        answer = requests.request(method, partner().api + path, timeout=10,
                                  headers={"Authorization": f"Bearer {token}"}, **kwargs)
    except requests.RequestException as error:
        raise PartnerError("down") from error
    if answer.status_code in (401, 403):
        raise PartnerError("stopped")
    if answer.status_code in (400, 404):
        raise PartnerError("gone")
    if not answer.ok:
        raise PartnerError("down")
    return answer.json()
