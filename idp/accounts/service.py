"""Account operations shared by the pages and the command line."""

from __future__ import annotations

import functools

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam
from sqlalchemy.exc import IntegrityError

from idp.accounts.models import User
from idp.accounts.passwords import hash_password, needs_rehash, password_problems, verify_password
from idp.direct_sql import Columns, EntityRead
from idp.extensions import db, utcnow


class AccountError(ValueError):
    """A request about an account that cannot be met; ``field`` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def normalize_email(email: str) -> str:
    return email.strip().lower()


def find_user(email: str) -> User | None:
    return user_by_email().entity({"email": normalize_email(email)})


@functools.cache  # compiled once per dialect (idp/direct_sql.py)
def user_by_email() -> EntityRead[User]:
    return EntityRead(Columns(User), User.email == bindparam("email"))


def create_user(
    email: str,
    password: str,
    given_name: str | None = None,
    family_name: str | None = None,
) -> User:
    """An active account, for the operator (``idp users create``), the demo and tests.
    Travellers sign up through ``idp.accounts.registration``, which says nothing of
    the addresses already taken."""
    email = normalize_email(email)
    check_new_password(password, email, given_name, family_name)
    if find_user(email) is not None:
        raise AccountError("email", str(_l("An account already uses this email address.")))
    user = new_user(email, hash_password(password), given_name, family_name)
    user.activated_at = utcnow()
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError as exc:  # two sign-ups racing for the same address
        db.session.rollback()
        raise AccountError("email", str(_l("An account already uses this email address."))) from exc
    return user


def check_new_password(password: str, email: str, given_name: str | None,
                       family_name: str | None) -> None:
    """Raise AccountError if the password may not be chosen (NIST SP 800-63B 3.1.1.2)."""
    problems = password_problems(password, (email, given_name, family_name))
    if problems:
        raise AccountError("password", problems[0])


def new_user(email: str, password_hash: str, given_name: str | None,
             family_name: str | None) -> User:
    """An account not yet added to the session, and not active."""
    return User(email=email, password_hash=password_hash,
                given_name=(given_name or "").strip() or None,
                family_name=(family_name or "").strip() or None)


def authenticate(email: str, password: str) -> User | None:
    """The user if the password matches. An unknown email costs the same argon2 work."""
    user = find_user(email)
    if not verify_password(user.password_hash if user else None, password):
        return None
    assert user is not None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        db.session.commit()
    return user
