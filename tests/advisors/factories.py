"""Advisors and mandates made straight in the database, for tests of what reads them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Flask

from idp.advisors import sessions
from idp.advisors.assistance import IN_PERSON
from idp.advisors.models import ACTIONS, Advisor, Mandate
from idp.extensions import db, utcnow

_numbers = iter(range(1, 10**6))


def make_advisor(**overrides: Any) -> Advisor:
    n = next(_numbers)
    fields: dict[str, Any] = {"email": f"advisor{n}@centre.example", "name": f"Nadia {n}",
                              "centre": "Mobilité solidaire Lyon", "role": "advisor",
                              "password_hash": "unusable", "totp_confirmed_at": utcnow()}
    fields.update(overrides)
    advisor = Advisor(**fields)
    db.session.add(advisor)
    db.session.commit()
    return advisor


def make_mandate(advisor: Advisor, user_id: int, confirmed: datetime | None = None,
                 months: int = 12, **overrides: Any) -> Mandate:
    now = utcnow()
    confirmed_at = confirmed if confirmed is not None else now
    fields: dict[str, Any] = {"user_id": user_id, "advisor_id": advisor.id,
                              "actions": list(ACTIONS), "platforms": [], "method": IN_PERSON,
                              "confirmation": "sms", "months": months,
                              "confirmed_at": confirmed_at,
                              "expires_at": confirmed_at + timedelta(days=30 * months)}
    fields.update(overrides)
    mandate = Mandate(**fields)
    db.session.add(mandate)
    db.session.commit()
    return mandate


def session_cookie(app: Flask, advisor: Advisor, verified: bool = True) -> dict[str, str]:
    """The Cookie header of a browser where ``advisor`` signed in."""
    with app.test_request_context():
        key = sessions.start_session(advisor, verified=verified)
        name = sessions.cookie_name()
    return {"Cookie": f"{name}={key}"}
