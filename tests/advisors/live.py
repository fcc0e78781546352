"""Advisors and mandates in a live server's database, each in its own application
context, as an operator's command would make them; the advisor's app key is returned so
that a test computes their codes."""

from __future__ import annotations

from datetime import timedelta

import pyotp

from idp.accounts.models import User
from idp.accounts.passwords import hash_password
from idp.advisors.authenticator import encrypt_secret
from idp.advisors.models import ACTIONS, Advisor, Mandate
from idp.advisors.service import add_advisor, add_months, hash_code
from idp.extensions import db, utcnow
from tests.live import LiveServer

PASSWORD = "the bus to the job centre leaves at nine"


def add_live_advisor(server: LiveServer, email: str, operator: bool = False,
                     name: str = "Nadia Benali",
                     centre: str = "Mobilité solidaire Lyon") -> str:
    """A set-up advisor (password PASSWORD); their app's key."""
    key = pyotp.random_base32()
    with server.app.app_context():
        advisor = Advisor(email=email, name=name, centre=centre,
                          role="operator" if operator else "advisor",
                          password_hash=hash_password(PASSWORD), totp_confirmed_at=utcnow())
        db.session.add(advisor)
        db.session.flush()
        advisor.totp_secret_encrypted = encrypt_secret(key, advisor)
        db.session.commit()
        db.session.remove()
    return key


def add_live_setup_link(server: LiveServer, email: str) -> str:
    with server.app.app_context():
        _, link = add_advisor(email, "Paul Martin", "Plateforme Vénissieux")
        db.session.remove()
    return link


def add_live_mandate(server: LiveServer, advisor_email: str, subject: str,
                     confirmed: bool = True, platforms: list[str] | None = None,
                     code: str = "123456") -> str:
    """A mandate from the traveller of ``subject`` to the advisor: confirmed (12 months),
    or waiting for ``code`` (SMS). Its id."""
    with server.app.app_context():
        advisor = db.session.scalar(db.select(Advisor).where(Advisor.email == advisor_email))
        user = db.session.scalar(db.select(User).where(User.subject == subject))
        assert advisor is not None and user is not None
        now = utcnow()
        mandate = Mandate(user_id=user.id, advisor_id=advisor.id, actions=list(ACTIONS),
                          platforms=platforms or [], method="assisted_phone",
                          confirmation="sms", months=12, attempts=0)
        db.session.add(mandate)
        db.session.flush()
        if confirmed:
            mandate.confirmed_at, mandate.expires_at = now, add_months(now, 12)
        else:
            mandate.code_hash = hash_code(mandate, code)
            mandate.code_expires_at = now + timedelta(minutes=15)
        db.session.commit()
        mandate_id = mandate.mandate_id
        db.session.remove()
    return mandate_id
