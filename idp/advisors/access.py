"""What an advisor may do right now. Everything is read from the database on every call,
so that a revoked mandate or advisor stops the advisor at once, on every instance."""

from __future__ import annotations

from flask import abort, redirect, request, url_for

from idp.advisors.assistance import Assistance
from idp.advisors.models import ACTIONS, Advisor, Mandate
from idp.advisors.sessions import query_session
from idp.extensions import db, utcnow


def current_advisor() -> Advisor | None:
    """The signed-in (password and authenticator code), not revoked advisor of this request."""
    row = query_session()
    if row is None or row.verified_at is None:
        return None
    advisor = row.advisor
    if advisor.revoked_at is not None or advisor.totp_confirmed_at is None:
        return None
    return advisor


def query_mandates(advisor: Advisor, user_id: int) -> list[Mandate]:
    """The advisor's mandates for that traveller in force now, fresh from the database."""
    now = utcnow()
    return list(db.session.scalars(
        db.select(Mandate)
        .where(Mandate.user_id == user_id, Mandate.advisor_id == advisor.id,
               Mandate.confirmed_at.is_not(None), Mandate.revoked_at.is_(None),
               Mandate.expires_at > now)
        .order_by(Mandate.id)
        .execution_options(populate_existing=True)))


def assistance_for(user_id: int, action: str, client_id: str | None = None) -> Assistance | None:
    """The current advisor's confirmed, unexpired, unrevoked mandate for that traveller
    allowing ``action`` (and, for "consent", the platform ``client_id``), as the
    ``Assistance`` its actions are recorded under; None otherwise."""
    if action not in ACTIONS:
        raise ValueError(f"unknown mandate action {action!r}")
    advisor = current_advisor()
    if advisor is None:
        return None
    db.session.refresh(advisor)  # revoked on another instance since the session was read
    if advisor.revoked_at is not None:
        return None
    for mandate in query_mandates(advisor, user_id):
        if mandate.check_allows(action, client_id):
            return Assistance(advisor_id=advisor.public_id, advisor_name=advisor.name,
                              centre=advisor.centre, mandate_id=mandate.mandate_id,
                              method=mandate.method)
    return None


def require_advisor(operator: bool = False) -> Advisor:
    """The current advisor; without one, the request ends (sign-in page, or 403 for an
    advisor on an operator page)."""
    advisor = current_advisor()
    if advisor is None:
        abort(redirect(url_for("advisors.login", next=request.path)))
    if operator and not advisor.is_operator:
        abort(403)
    return advisor


def describe(advisor_public_id: str) -> tuple[str, str] | None:
    """(name, centre) of an advisor, for the traveller's history; None once unknown."""
    advisor = db.session.scalar(db.select(Advisor).where(Advisor.public_id == advisor_public_id))
    if advisor is None:
        return None
    return advisor.name, advisor.centre
