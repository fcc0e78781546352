"""What an advisor may do right now. Everything is read from the database on every call,
so that a revoked mandate or advisor stops the advisor at once, on every instance."""

from __future__ import annotations

from typing import NoReturn

from flask import abort, make_response, redirect, render_template, request, url_for

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


def assistance_of(advisor: Advisor, mandate: Mandate) -> Assistance:
    return Assistance(advisor_id=advisor.public_id, advisor_name=advisor.name,
                      centre=advisor.centre, mandate_id=mandate.mandate_id,
                      method=mandate.method)


def fresh_advisor() -> Advisor | None:
    """The current advisor, read again: revoked on another instance since the session
    row was read, they are refused."""
    advisor = current_advisor()
    if advisor is None:
        return None
    db.session.refresh(advisor)
    return None if advisor.revoked_at is not None else advisor


def assistance_for(user_id: int, action: str, client_id: str | None = None) -> Assistance | None:
    """The current advisor's confirmed, unexpired, unrevoked mandate for that traveller
    allowing ``action`` (and, for "consent", the platform ``client_id``), as the
    ``Assistance`` its actions are recorded under; None otherwise."""
    if action not in ACTIONS:
        raise ValueError(f"unknown mandate action {action!r}")
    advisor = fresh_advisor()
    if advisor is None:
        return None
    now = utcnow()
    mandates = db.session.scalars(
        db.select(Mandate)
        .where(Mandate.user_id == user_id, Mandate.advisor_id == advisor.id,
               Mandate.confirmed_at.is_not(None), Mandate.revoked_at.is_(None),
               Mandate.expires_at > now)
        .order_by(Mandate.id)
        .execution_options(populate_existing=True))
    for mandate in mandates:
        if mandate.check_allows(action, client_id):
            return assistance_of(advisor, mandate)
    return None


def require_advisor(operator: bool = False) -> Advisor:
    """The current advisor; without one, the request ends with the sign-in page (then
    back here), and an advisor on an operator page is refused."""
    advisor = current_advisor()
    if advisor is None:
        abort(redirect(url_for("advisors.login", next=request.path)))
    if operator and not advisor.is_operator:
        refuse(operator_page=True)
    return advisor


def refuse(operator_page: bool = False) -> NoReturn:
    """End the request with a 403 page in the advisor's language."""
    abort(make_response(render_template("advisors/refused.html",
                                        operator_page=operator_page), 403))


def require_assistance(mandate_id: str, action: str,
                       client_id: str | None = None) -> tuple[Mandate, Assistance]:
    """For a page that acts for a traveller under the mandate named in its path: that
    mandate, if it is the current advisor's, in force now and allowing ``action`` (and
    ``client_id`` for "consent"), with its ``Assistance``. Otherwise the request ends:
    the sign-in page, or the 403 page. Read afresh on every call."""
    if action not in ACTIONS:
        raise ValueError(f"unknown mandate action {action!r}")
    require_advisor()
    advisor = fresh_advisor()
    mandate = None
    if advisor is not None and mandate_id and len(mandate_id) <= 36:
        mandate = db.session.scalar(db.select(Mandate).where(Mandate.mandate_id == mandate_id)
                                    .execution_options(populate_existing=True))
    if (advisor is None or mandate is None or mandate.advisor_id != advisor.id
            or not mandate.check_in_force(utcnow())
            or not mandate.check_allows(action, client_id)):
        refuse()
    return mandate, assistance_of(advisor, mandate)


def describe(advisor_public_id: str) -> tuple[str, str] | None:
    """(name, centre) of an advisor, for the traveller's history; None once unknown."""
    advisor = db.session.scalar(db.select(Advisor).where(Advisor.public_id == advisor_public_id))
    if advisor is None:
        return None
    return advisor.name, advisor.centre
