"""Authentication context classes (OIDC Core 2, 3.1.2.1, 5.5.1.1) and when a platform's
request asks more than the traveller's session gives.

A platform names the classes it accepts in ``acr_values``, in its order of preference,
or as an essential ``acr`` claim with ``values`` in the ``claims`` parameter. Two
classes exist (RFC 8176 methods in brackets): ``ACR_PASSWORD`` (pwd) and ``ACR_MFA``
(pwd and otp, or pwd and a recovery code)."""

from __future__ import annotations

from typing import Any

from idp.accounts import mfa
from idp.accounts.login import ACR_MFA, ACR_PASSWORD
from idp.accounts.models import BrowserSession
from idp.oauth.claims_request import requested

ACR_VALUES = [ACR_PASSWORD, ACR_MFA]


def requested_acr(data: Any, claims_request: Any) -> list[str]:
    """The classes the platform accepts, best first: an essential ``acr`` claim's values
    win over ``acr_values`` (5.5.1.1); an empty list when it does not say."""
    spec = (requested(claims_request, "id_token") or {}).get("acr") or {}
    if spec.get("essential") and (spec.get("values") or spec.get("value")):
        values = spec.get("values") or [spec["value"]]
        return [v for v in values if isinstance(v, str)]
    return (data.get("acr_values") or "").split()


def needs_step_up(wanted: list[str], login: BrowserSession) -> bool:
    """Whether to ask for a second factor now:
    - only when ACR_MFA is accepted and the session is not already ACR_MFA;
    - not when the platform prefers the password class (listed before ACR_MFA);
    - not when the password class is accepted too and the traveller has no second
      factor to give: the request's fallback is then met, with nothing to ask."""
    if ACR_MFA not in wanted or login.acr == ACR_MFA:
        return False
    if ACR_PASSWORD not in wanted:
        return True
    prefers_password = wanted.index(ACR_PASSWORD) < wanted.index(ACR_MFA)
    return not prefers_password and mfa.check_enabled(login.user)
