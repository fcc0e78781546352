"""Authentication context classes (OIDC Core 2, 3.1.2.1, 5.5.1.1) and when a platform's
request asks more than the traveller's session gives.

A platform names the classes it accepts in ``acr_values``, in its order of preference,
or as an essential ``acr`` claim with ``values`` in the ``claims`` parameter; only the
latter is a requirement the session must meet. Two
classes exist (RFC 8176 methods in brackets): ``ACR_PASSWORD`` (pwd) and ``ACR_MFA``
(pwd and otp, or pwd and a recovery code)."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Error

from idp.accounts import mfa
from idp.accounts.login import ACR_MFA, ACR_PASSWORD
from idp.accounts.models import BrowserSession
from idp.oauth.claims_request import requested

ACR_VALUES = [ACR_PASSWORD, ACR_MFA]


class UnmetAuthenticationRequirementsError(OAuth2Error):
    """OpenID Connect Core Error Code unmet_authentication_requirements 1.0: the platform
    asked for an authentication the traveller cannot, or will not, give."""

    error = "unmet_authentication_requirements"


def essential_acr(claims_request: Any) -> list[str] | None:
    """The classes of an essential ``acr`` claim for the ID token with ``value`` or
    ``values`` (5.5.1.1); None when there is none."""
    spec = (requested(claims_request, "id_token") or {}).get("acr") or {}
    if spec.get("essential") is True and (spec.get("values") or "value" in spec):
        values = spec.get("values") or [spec["value"]]
        return [v for v in values if isinstance(v, str)]
    return None


def requested_acr(data: Any, claims_request: Any) -> list[str]:
    """The classes the platform accepts, best first: an essential ``acr`` claim's values
    win over ``acr_values`` (5.5.1.1); an empty list when it does not say."""
    essential = essential_acr(claims_request)
    if essential is not None:
        return essential
    return (data.get("acr_values") or "").split()


def check_satisfied(wanted: list[str], login: BrowserSession) -> bool:
    """Whether the session meets one of the classes: its own, or the password class for
    a session that gave a second factor too (it began with the password)."""
    return login.acr in wanted or (login.acr == ACR_MFA and ACR_PASSWORD in wanted)


def acr_for(claims_request: Any, login: BrowserSession) -> str | None:
    """The class the ID token states (5.5.1.1: one of the values of an essential ``acr``):
    the session's own, or the password class when only that one was asked of a session
    that gave a second factor too; ``amr`` still says every method used."""
    wanted = essential_acr(claims_request)
    if wanted is None or login.acr in wanted or not check_satisfied(wanted, login):
        return login.acr
    return ACR_PASSWORD


def validate_acr(claims_request: Any, login: BrowserSession, redirect_uri: str) -> None:
    """5.5.1.1: with an essential ``acr`` and values, a session that meets none of them
    (once a step-up, if any, is done) is a failed authentication: the platform hears
    unmet_authentication_requirements. ``acr_values`` alone is voluntary (3.1.2.1)."""
    wanted = essential_acr(claims_request)
    if wanted is not None and not check_satisfied(wanted, login):
        raise UnmetAuthenticationRequirementsError(
            "The session meets none of the requested authentication context classes.",
            redirect_uri=redirect_uri)


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
