"""assistance_for: an advisor acts only under a confirmed mandate in force that allows the
action (and names the platform), read from the database on every call."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask

from idp.advisors.access import assistance_for, current_advisor, describe
from idp.advisors.assistance import PHONE, Assistance
from idp.advisors.models import CONSENT, READ_HISTORY, UPDATE_DETAILS
from idp.extensions import db, utcnow
from tests import factories
from tests.advisors.factories import make_advisor, make_mandate, session_cookie


def ask(app: Flask, headers: dict[str, str], user_id: int, action: str,
        client_id: str | None = None) -> Assistance | None:
    with app.test_request_context(headers=headers):
        return assistance_for(user_id, action, client_id)


def test_a_confirmed_mandate_gives_the_assistance(app: Flask) -> None:
    traveller = factories.make_user()
    advisor = make_advisor(name="Nadia Benali", centre="Plateforme mobilité Vénissieux")
    mandate = make_mandate(advisor, traveller.model.id, method=PHONE,
                           actions=[UPDATE_DETAILS, CONSENT], platforms=["carpool-1"])
    headers = session_cookie(app, advisor)

    found = ask(app, headers, traveller.model.id, UPDATE_DETAILS)

    assert found == Assistance(advisor_id=advisor.public_id, advisor_name="Nadia Benali",
                               centre="Plateforme mobilité Vénissieux",
                               mandate_id=mandate.mandate_id, method=PHONE)
    assert advisor.public_id.startswith("adv_") and len(advisor.public_id) == 20
    assert ask(app, headers, traveller.model.id, CONSENT, "carpool-1") == found


def test_an_unconfirmed_mandate_gives_nothing(app: Flask) -> None:
    traveller = factories.make_user()
    advisor = make_advisor()
    mandate = make_mandate(advisor, traveller.model.id)
    mandate.confirmed_at = None
    mandate.expires_at = None
    db.session.commit()

    assert ask(app, session_cookie(app, advisor), traveller.model.id, UPDATE_DETAILS) is None


def test_an_expired_mandate_gives_nothing(app: Flask) -> None:
    traveller = factories.make_user()
    advisor = make_advisor()
    make_mandate(advisor, traveller.model.id, confirmed=utcnow() - timedelta(days=40),
                 months=1)

    assert ask(app, session_cookie(app, advisor), traveller.model.id, UPDATE_DETAILS) is None


def test_a_revocation_stops_the_next_call(app: Flask) -> None:
    traveller = factories.make_user()
    advisor = make_advisor()
    mandate = make_mandate(advisor, traveller.model.id)
    headers = session_cookie(app, advisor)
    assert ask(app, headers, traveller.model.id, READ_HISTORY) is not None

    # Revoked through another connection, as another instance would.
    with db.engine.begin() as connection:
        connection.execute(db.update(type(mandate)).where(type(mandate).id == mandate.id)
                           .values(revoked_at=utcnow(), revoked_by="traveller"))

    assert ask(app, headers, traveller.model.id, READ_HISTORY) is None


def test_an_action_the_mandate_does_not_name_gives_nothing(app: Flask) -> None:
    traveller = factories.make_user()
    advisor = make_advisor()
    make_mandate(advisor, traveller.model.id, actions=[READ_HISTORY])
    headers = session_cookie(app, advisor)

    assert ask(app, headers, traveller.model.id, UPDATE_DETAILS) is None
    assert ask(app, headers, traveller.model.id, READ_HISTORY) is not None
    with pytest.raises(ValueError):
        ask(app, headers, traveller.model.id, "delete_account")


def test_consent_only_for_the_named_platforms(app: Flask) -> None:
    traveller = factories.make_user()
    advisor = make_advisor()
    make_mandate(advisor, traveller.model.id, actions=[CONSENT], platforms=["carpool-1"])
    headers = session_cookie(app, advisor)

    assert ask(app, headers, traveller.model.id, CONSENT, "carpool-2") is None
    assert ask(app, headers, traveller.model.id, CONSENT) is None
    assert ask(app, headers, traveller.model.id, CONSENT, "carpool-1") is not None


def test_another_advisor_or_traveller_gets_nothing(app: Flask) -> None:
    traveller, other_traveller = factories.make_user(), factories.make_user()
    advisor, colleague = make_advisor(), make_advisor()
    make_mandate(advisor, traveller.model.id)

    assert ask(app, session_cookie(app, colleague), traveller.model.id, READ_HISTORY) is None
    assert ask(app, session_cookie(app, advisor), other_traveller.model.id,
               READ_HISTORY) is None


def test_no_assistance_without_a_signed_in_advisor(app: Flask) -> None:
    traveller = factories.make_user()
    advisor = make_advisor()
    make_mandate(advisor, traveller.model.id)

    assert ask(app, {}, traveller.model.id, READ_HISTORY) is None
    # The password was right but no authenticator code yet: not signed in.
    unverified = session_cookie(app, advisor, verified=False)
    assert ask(app, unverified, traveller.model.id, READ_HISTORY) is None
    with app.test_request_context(headers=unverified):
        assert current_advisor() is None


def test_a_revoked_advisor_gets_nothing(app: Flask) -> None:
    traveller = factories.make_user()
    advisor = make_advisor()
    make_mandate(advisor, traveller.model.id)
    headers = session_cookie(app, advisor)
    advisor.revoked_at = utcnow()
    db.session.commit()

    assert ask(app, headers, traveller.model.id, READ_HISTORY) is None


def test_describe_names_the_advisor_and_centre(app: Flask) -> None:
    advisor = make_advisor(name="Nadia Benali", centre="Mobilité solidaire Lyon")

    assert describe(advisor.public_id) == ("Nadia Benali", "Mobilité solidaire Lyon")
    assert describe("adv_0000000000000000") is None
