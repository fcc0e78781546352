"""/operator/advisors: operators only. They list advisors, add one (the set-up link shown
once), and stop one, who is refused at their next request."""

from __future__ import annotations

import pytest
from flask import Flask
from time_machine import TimeMachineFixture

from idp.advisors.service import find_advisor
from tests.advisors.pages import make_ready, new_browser, set_up, sign_in

pytestmark = pytest.mark.usefixtures("frozen")


def test_an_advisor_is_refused_the_operator_page(app: Flask, frozen: TimeMachineFixture) -> None:
    browser = new_browser(app)
    sign_in(browser, make_ready(app, frozen))

    refused = browser.get("/operator/advisors")

    assert refused.status_code == 403
    assert "Only operators can manage advisors." in refused.get_data(as_text=True)
    assert "Advisors</a>" not in browser.get("/advisor").get_data(as_text=True)


def test_the_page_needs_a_signed_in_operator(app: Flask) -> None:
    assert new_browser(app).get("/operator/advisors").location.startswith(
        "/advisor/login?next=/operator/advisors")


def test_an_operator_adds_an_advisor_who_sets_up_and_signs_in(
        app: Flask, frozen: TimeMachineFixture) -> None:
    operator = new_browser(app)
    sign_in(operator, make_ready(app, frozen, operator=True))
    operator.get("/operator/advisors")

    added = operator.submit("/operator/advisors", {
        "name": "Paul Martin", "email": "paul@centre.example", "centre": "Plateforme Vénissieux",
        "role": "advisor"})

    html = added.get_data(as_text=True)
    assert added.status_code == 200 and "It is shown only now." in html
    link = html.split('<code class="setup-link">')[1].split("</code>")[0]
    assert link.startswith("https://idp.test/advisor/setup/")
    assert link not in operator.get("/operator/advisors").get_data(as_text=True)
    set_up(new_browser(app), link)
    advisor = find_advisor("paul@centre.example")
    assert advisor is not None and advisor.is_ready


def test_adding_with_mistakes_lists_every_error(app: Flask, frozen: TimeMachineFixture) -> None:
    operator = new_browser(app)
    sign_in(operator, make_ready(app, frozen, operator=True))
    operator.get("/operator/advisors")

    refused = operator.submit("/operator/advisors", {"name": "", "email": "nope",
                                                     "centre": ""})

    html = refused.get_data(as_text=True)
    assert refused.status_code == 400 and 'class="error-summary"' in html
    for message in ("Enter the advisor’s name.", "Enter an email address like",
                    "Enter the advisor’s centre.", "Choose a role."):
        assert message in html


def test_an_operator_stops_an_advisor_at_once(app: Flask, frozen: TimeMachineFixture) -> None:
    account = make_ready(app, frozen, name="Paul Martin")
    helper = new_browser(app)
    sign_in(helper, account)
    assert helper.get("/advisor").status_code == 200
    operator = new_browser(app)
    sign_in(operator, make_ready(app, frozen, operator=True))
    operator.get("/operator/advisors")

    stopped = operator.submit(f"/operator/advisors/{account.public_id}/revoke", {})

    assert stopped.status_code == 302
    assert "Paul Martin can no longer sign in" in operator.get(
        "/operator/advisors").get_data(as_text=True)
    assert helper.get("/advisor").location.startswith("/advisor/login")


def test_a_form_without_its_token_is_refused(app: Flask, frozen: TimeMachineFixture) -> None:
    account = make_ready(app, frozen, name="Paul Martin")
    operator = new_browser(app)
    sign_in(operator, make_ready(app, frozen, operator=True))

    forged = operator.client.post(f"/operator/advisors/{account.public_id}/revoke",
                                  headers={"Referer": "https://idp.test/operator/advisors"})

    assert forged.status_code == 400
    advisor = find_advisor(account.email)
    assert advisor is not None and advisor.revoked_at is None
