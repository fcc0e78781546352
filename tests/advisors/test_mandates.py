"""Mandates over real HTTP: an account made with a traveller, permission confirmed with a
code by SMS (read from the file outbox) or on paper, wrong codes, the 12-month cap, the
actions a mandate allows and those it does not, and the traveller stopping it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from time_machine import TimeMachineFixture

from consent import audit
from idp.accounts.models import User
from idp.accounts.passwords import verify_password
from idp.advisors.models import Mandate
from idp.advisors.service import add_months, find_advisor
from idp.extensions import db, utcnow
from tests import factories
from tests.advisors.factories import make_advisor, make_mandate
from tests.advisors.pages import (
    AdvisorAccount,
    confirm,
    make_ready,
    mandate_id_of,
    new_browser,
    new_mandate,
    new_traveller,
    sign_in,
)
from tests.browser import Browser
from tests.mail import Mailbox, mailbox, smtp_server  # noqa: F401
from tests.sms import SmsOutbox, outbox_for

pytestmark = pytest.mark.usefixtures("frozen")
NUMBER = "+33612345678"


@pytest.fixture
def outbox(app: Flask, tmp_path: Path) -> SmsOutbox:
    return outbox_for(app, tmp_path)


@pytest.fixture
def account(app: Flask, frozen: TimeMachineFixture) -> AdvisorAccount:
    return make_ready(app, frozen)


@pytest.fixture
def advisor(app: Flask, account: AdvisorAccount) -> Browser:
    browser = new_browser(app)
    assert sign_in(browser, account).status_code == 302
    return browser


def events_of(user: User) -> list[dict[str, Any]]:
    return list(audit.export(user))


def traveller(email: str = "umberto@example.org") -> User:
    user = db.session.scalar(db.select(User).where(User.email == email))
    assert user is not None
    return user


def mandate_of(user: User) -> Mandate:
    found = db.session.scalar(db.select(Mandate).where(Mandate.user_id == user.id)
                              .execution_options(populate_existing=True))
    assert found is not None
    return found


def test_an_account_made_with_a_traveller_and_confirmed_by_sms(
        app: Flask, advisor: Browser, outbox: SmsOutbox, account: AdvisorAccount) -> None:
    started = new_traveller(advisor)

    assert started.status_code == 302, started.get_data(as_text=True)
    mandate_id = mandate_id_of(started.location)
    message = outbox.last(NUMBER)
    assert "Nadia Benali (Mobilité solidaire Lyon)" in message
    assert "change your travel details" in message
    user = traveller()
    assert user.password_hash.startswith("!") and not verify_password(user.password_hash, "")
    assert user.phone_number == NUMBER and not user.phone_number_verified

    confirmed = confirm(advisor, mandate_id, outbox.code(NUMBER))

    assert confirmed.status_code == 302 and confirmed.location == "/advisor"
    mandate = mandate_of(user)
    assert mandate.confirmed_at is not None and mandate.expires_at is not None
    assert mandate.expires_at == add_months(mandate.confirmed_at, 12)
    assert mandate.actions == ["create_account", "update_details", "read_history"]
    assert mandate.code_hash is None
    types = [e["event_type"] for e in events_of(user)]
    assert types == [audit.ASSISTED_ACCOUNT_CREATED, audit.MANDATE_GRANTED]
    granted = events_of(user)[-1]["data"]
    assert granted["advisor_id"] == account.public_id
    assert granted["method"] == "assisted_in_person" and granted["mandate_id"] == mandate_id
    assert "Nadia" not in str(events_of(user))  # pseudonymous: never the advisor's name
    dashboard = advisor.get("/advisor").get_data(as_text=True)
    assert "Umberto Rossi" in dashboard and "Change their travel details" in dashboard


def test_a_wrong_code_is_refused_with_the_error_summary(
        advisor: Browser, outbox: SmsOutbox) -> None:
    mandate_id = mandate_id_of(new_traveller(advisor).location)
    right = outbox.code(NUMBER)
    wrong = "000000" if right != "000000" else "111111"

    refused = confirm(advisor, mandate_id, wrong)

    html = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert 'class="error-summary"' in html and "This code is not right" in html
    assert mandate_of(traveller()).confirmed_at is None
    assert confirm(advisor, mandate_id, right).status_code == 302


def test_five_wrong_codes_close_the_request(advisor: Browser, outbox: SmsOutbox) -> None:
    mandate_id = mandate_id_of(new_traveller(advisor).location)
    right = outbox.code(NUMBER)
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(4):
        assert confirm(advisor, mandate_id, wrong).status_code == 400

    last = confirm(advisor, mandate_id, wrong)

    assert "wrong too many times" in last.get_data(as_text=True)
    after = confirm(advisor, mandate_id, right)
    assert after.status_code == 400 and mandate_of(traveller()).confirmed_at is None


def test_an_sms_code_lapses_after_15_minutes(
        advisor: Browser, outbox: SmsOutbox, frozen: TimeMachineFixture) -> None:
    mandate_id = mandate_id_of(new_traveller(advisor).location)
    code = outbox.code(NUMBER)
    frozen.shift(15 * 60 + 1)

    late = confirm(advisor, mandate_id, code)

    assert late.status_code == 400 and "too old" in late.get_data(as_text=True)
    advisor.submit(f"/advisor/mandates/{mandate_id}/code", {})
    assert outbox.code(NUMBER) != code or len(outbox.messages(NUMBER)) == 2
    assert confirm(advisor, mandate_id, outbox.code(NUMBER)).status_code == 302


def test_a_paper_mandate_is_printed_with_its_code_then_typed(
        advisor: Browser, outbox: SmsOutbox) -> None:
    user = factories.make_user(email="marie@example.org", given_name="Marie")

    paper = new_mandate(advisor, user.email, confirmation="paper", months="3")

    html = paper.get_data(as_text=True)
    assert paper.status_code == 200 and "Permission to help you" in html
    assert "Signature:" in html and "Nadia Benali" in html and "For 3 months" in html
    code = "".join(html.split('class="paper-code">')[1].split("</strong>")[0].split())
    assert len(code) == 6 and code.isdigit()
    assert outbox.messages() == []  # no text message for paper
    mandate = mandate_of(user.model)
    assert mandate.code_hash is not None and code not in mandate.code_hash

    assert confirm(advisor, mandate.mandate_id, code).status_code == 302
    mandate = mandate_of(user.model)
    assert mandate.expires_at == add_months(mandate.confirmed_at, 3)  # type: ignore[arg-type]


def test_never_more_than_12_months(advisor: Browser, outbox: SmsOutbox) -> None:
    user = factories.make_user(phone_number=NUMBER)

    refused = new_mandate(advisor, user.email, months="24")

    assert refused.status_code == 400
    assert db.session.scalar(db.select(db.func.count(Mandate.id))) == 0
    # Even a row that says more (written by hand, or by a future bug) lasts 12 months.
    mandate_id = mandate_id_of(new_mandate(advisor, user.email, months="12").location)
    db.session.execute(db.update(Mandate).where(Mandate.mandate_id == mandate_id)
                       .values(months=24))
    db.session.commit()
    assert confirm(advisor, mandate_id, outbox.code(NUMBER)).status_code == 302
    mandate = mandate_of(user.model)
    assert mandate.confirmed_at is not None
    assert mandate.expires_at == add_months(mandate.confirmed_at, 12)


def test_nothing_is_ticked_in_advance_and_one_action_is_needed(advisor: Browser) -> None:
    page = advisor.get("/advisor/mandates/new").get_data(as_text=True)
    assert "checked" not in page

    refused = new_mandate(advisor, "someone@example.org", actions=[])

    html = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "Tick at least one thing you may do." in html


def test_consent_needs_named_platforms(advisor: Browser, platform: factories.Platform) -> None:
    user = factories.make_user(phone_number=NUMBER)

    refused = new_mandate(advisor, user.email, actions=["consent"])
    assert refused.status_code == 400
    assert "Tick the platforms they agree to." in refused.get_data(as_text=True)

    started = new_mandate(advisor, user.email, actions=["consent"],
                          platforms=[platform.client_id])
    assert started.status_code == 302
    assert mandate_of(user.model).platforms == [platform.client_id]


def test_sms_needs_a_mobile_number(advisor: Browser) -> None:
    user = factories.make_user()

    refused = new_mandate(advisor, user.email)

    assert refused.status_code == 400
    assert "Choose the paper form" in refused.get_data(as_text=True)


def test_an_unknown_email_is_said_plainly(advisor: Browser) -> None:
    refused = new_mandate(advisor, "nobody@example.org")

    assert refused.status_code == 400
    assert "No account uses this email address" in refused.get_data(as_text=True)


def test_an_existing_address_is_not_a_new_account(advisor: Browser) -> None:
    user = factories.make_user()

    refused = new_traveller(advisor, email=user.email)

    assert refused.status_code == 400
    assert "An account already uses this email address" in refused.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(Mandate.id))) == 0


def confirmed_mandate(advisor: Browser, outbox: SmsOutbox, **fields: Any) -> str:
    user = factories.make_user(email="lucie@example.org", phone_number=NUMBER)
    started = new_mandate(advisor, user.email, **fields)
    mandate_id = mandate_id_of(started.location)
    assert confirm(advisor, mandate_id, outbox.code(NUMBER)).status_code == 302
    return mandate_id


def test_travel_details_changed_on_behalf_are_recorded(
        advisor: Browser, outbox: SmsOutbox, account: AdvisorAccount) -> None:
    mandate_id = confirmed_mandate(advisor, outbox)
    overview = advisor.get(f"/advisor/travellers/{mandate_id}/details")
    assert overview.status_code == 200 and "Carpooling" in overview.get_data(as_text=True)
    path = f"/advisor/travellers/{mandate_id}/details/carpool"
    assert advisor.get(path).status_code == 200

    saved = advisor.submit(path, {"carpool_role": "passenger", "luggage_size": "1"})

    assert saved.status_code == 302
    user = traveller("lucie@example.org")
    db.session.refresh(user)
    assert user.mobility["mob_carpool_role"] == "passenger"
    last = events_of(user)[-1]
    assert last["event_type"] == audit.ASSISTED_DETAILS_UPDATED
    assert last["data"]["advisor_id"] == account.public_id
    assert last["data"]["topic"] == "carpool"
    assert advisor.get(f"/advisor/travellers/{mandate_id}/details/nothing").status_code == 404


def test_the_history_read_on_behalf_is_recorded(advisor: Browser, outbox: SmsOutbox) -> None:
    mandate_id = confirmed_mandate(advisor, outbox)

    page = advisor.get(f"/advisor/travellers/{mandate_id}/history")

    assert page.status_code == 200 and "History of" in page.get_data(as_text=True)
    assert events_of(traveller("lucie@example.org"))[-1]["event_type"] == \
        audit.ASSISTED_HISTORY_READ


def test_an_action_the_mandate_does_not_name_is_refused(
        advisor: Browser, outbox: SmsOutbox) -> None:
    mandate_id = confirmed_mandate(advisor, outbox, actions=["read_history"])

    refused = advisor.get(f"/advisor/travellers/{mandate_id}/details")

    assert refused.status_code == 403
    assert "has not allowed you to do this now" in refused.get_data(as_text=True)
    posted = advisor.submit(f"/advisor/travellers/{mandate_id}/details/carpool",
                            {"carpool_role": "driver"})
    assert posted.status_code == 403
    assert "mob_carpool_role" not in (traveller("lucie@example.org").mobility or {})


def test_another_advisor_cannot_use_the_mandate(
        app: Flask, advisor: Browser, outbox: SmsOutbox, frozen: TimeMachineFixture) -> None:
    mandate_id = confirmed_mandate(advisor, outbox)
    colleague = new_browser(app)
    sign_in(colleague, make_ready(app, frozen, name="Paul Martin"))

    for path in ("details", "history"):
        assert colleague.get(f"/advisor/travellers/{mandate_id}/{path}").status_code == 403
    assert colleague.get(f"/advisor/mandates/{mandate_id}/confirm").status_code == 403


def test_the_traveller_stops_the_help_and_the_advisor_is_refused_at_once(
        app: Flask, advisor: Browser, outbox: SmsOutbox, account: AdvisorAccount) -> None:
    mandate_id = confirmed_mandate(advisor, outbox, months="6")
    path = f"/advisor/travellers/{mandate_id}/details/carpool"
    assert advisor.get(path).status_code == 200
    person = new_browser(app)
    person.login("lucie@example.org", factories.PASSWORD)

    helpers = person.get("/account/helpers")
    html = helpers.get_data(as_text=True)
    assert "Nadia Benali, Mobilité solidaire Lyon" in html
    assert "change your travel details" in html and "Stop this help" in html
    stopped = person.submit(f"/account/helpers/{mandate_id}/stop", {})

    assert stopped.status_code == 302
    assert advisor.get(path).status_code == 403
    assert advisor.get(f"/advisor/travellers/{mandate_id}/history").status_code == 403
    user = traveller("lucie@example.org")
    revoked = events_of(user)[-1]
    assert revoked["event_type"] == audit.MANDATE_REVOKED
    assert revoked["data"]["by"] == "traveller"
    assert "This help was stopped on" in person.get("/account/helpers").get_data(as_text=True)


def test_a_lapsed_mandate_is_shown_as_ended_and_recorded_once(app: Flask) -> None:
    user = factories.make_user()
    make_mandate(make_advisor(name="Paul Martin"), user.model.id,
                 confirmed=utcnow() - timedelta(days=70), months=1)
    person = new_browser(app)
    person.login(user.email, user.password)

    for _ in range(2):
        html = person.get("/account/helpers").get_data(as_text=True)
        assert "This help ended on" in html and "Stop this help" not in html
    assert [e["event_type"] for e in events_of(user.model)] == [audit.MANDATE_EXPIRED]


def test_the_helpers_page_needs_a_traveller(app: Flask, advisor: Browser) -> None:
    assert advisor.get("/account/helpers").location.startswith("/login")


def test_the_traveller_takes_over_the_account_and_keeps_everything(
        app: Flask, advisor: Browser, outbox: SmsOutbox, mailbox: Mailbox) -> None:
    created = new_traveller(advisor)
    created.close()  # the mail leaves once the answer is sent
    mandate_id = mandate_id_of(created.location)
    confirm(advisor, mandate_id, outbox.code(NUMBER))
    advisor.get(f"/advisor/travellers/{mandate_id}/details/carpool")
    advisor.submit(f"/advisor/travellers/{mandate_id}/details/carpool",
                   {"carpool_role": "driver"})
    user = traveller()
    user_id = user.id

    (link,) = [x for x in mailbox.links(mailbox.last(user.email)) if "/password/reset/" in x]
    assert "Nadia Benali of Mobilité solidaire Lyon" in mailbox.body(mailbox.last(user.email))
    person = new_browser(app)
    path = link.removeprefix("https://idp.test")
    person.get(path)
    chosen = person.submit(path, {"password": "my own long password for the bus"})
    assert chosen.status_code == 302
    assert person.login(user.email, "my own long password for the bus").status_code == 302

    me = traveller()
    db.session.refresh(me)
    assert me.id == user_id and me.email_verified
    # The advisor's pages never show a password, its hash or a second factor.
    for path in ("/advisor", f"/advisor/travellers/{mandate_id}/details",
                 f"/advisor/travellers/{mandate_id}/history"):
        html = advisor.get(path).get_data(as_text=True)
        assert me.password_hash not in html and 'type="password"' not in html
        assert "two-step" not in html.lower() and "recovery" not in html.lower()
    assert me.mobility["mob_carpool_role"] == "driver"
    assert "Nadia Benali" in person.get("/account/helpers").get_data(as_text=True)
    assert find_advisor("umberto@example.org") is None  # a traveller, never an advisor
