"""Security events of an account, announced to whoever keeps the record (``consent``
writes them to the audit log, the traveller's history): OWASP ASVS 7.2 asks that
authentication decisions and changes be logged, and the traveller sees them too."""

from __future__ import annotations

from typing import Any

from flask import current_app

from idp.accounts.models import User
from idp.signals import account_changed, sign_in_attempted

PASSWORD_CHANGED = "password_changed"
PASSWORD_RESET = "password_reset"
EMAIL_CHANGED = "email_changed"
EMAIL_VERIFIED = "email_verified"
PHONE_CHANGED = "phone_changed"
PHONE_VERIFIED = "phone_verified"  # a code sent by SMS was typed back
TWO_STEP_ENABLED = "two_step_enabled"
TWO_STEP_DISABLED = "two_step_disabled"
RECOVERY_CODES_RENEWED = "recovery_codes_renewed"
SESSIONS_ENDED = "sessions_ended"
EVENTS = (PASSWORD_CHANGED, PASSWORD_RESET, EMAIL_CHANGED, EMAIL_VERIFIED, PHONE_CHANGED,
          PHONE_VERIFIED, TWO_STEP_ENABLED, TWO_STEP_DISABLED, RECOVERY_CODES_RENEWED,
          SESSIONS_ENDED)


def announce(user: User, event: str, **data: Any) -> None:
    """Tell the listeners, in the caller's transaction (the caller commits). ``data``
    holds plain values only: never an address, a number, a secret."""
    if event not in EVENTS:
        raise ValueError(f"unknown account event {event!r}")
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    account_changed.send(app, user=user, event=event, data=data)


def announce_sign_in(outcome: str, factor: str) -> None:
    """Tell the listeners how a step of a sign-in went (``sign_in_attempted``)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    sign_in_attempted.send(app, outcome=outcome, factor=factor)
