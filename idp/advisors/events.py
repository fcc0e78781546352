"""What an advisor's work leaves in the audit log: a mandate's life and each action taken
under one. ``consent`` hears them (``idp.signals.assisted``) and records them with the
same type names (consent.audit's ``mandate:*`` and ``assisted:*``)."""

from __future__ import annotations

from typing import Any

from flask import current_app

from idp.accounts.models import User
from idp.advisors.assistance import Assistance
from idp.signals import assisted

MANDATE_GRANTED = "mandate:granted"
MANDATE_REVOKED = "mandate:revoked"
MANDATE_EXPIRED = "mandate:expired"
ASSISTED_ACCOUNT_CREATED = "assisted:account_created"
ASSISTED_DETAILS_UPDATED = "assisted:details_updated"
EVENTS = (MANDATE_GRANTED, MANDATE_REVOKED, MANDATE_EXPIRED, ASSISTED_ACCOUNT_CREATED,
          ASSISTED_DETAILS_UPDATED)


def announce(user: User, event: str, assistance: Assistance, **data: Any) -> None:
    """Tell the listeners, in the caller's transaction (the caller commits). ``data``
    holds plain values only: never a name, an address, a number, a code."""
    if event not in EVENTS:
        raise ValueError(f"unknown assisted event {event!r}")
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    assisted.send(app, user=user, event=event, assistance=assistance, data=data)
