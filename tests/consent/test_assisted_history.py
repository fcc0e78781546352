"""What the traveller reads of what an advisor did for them (issue 12, assisted access):
the proof of an agreement given with help, "done by <advisor> at <centre> on your behalf"
in the history, and the mandates and assisted acts in the copy of their data."""

from __future__ import annotations

import json

import pytest
from flask import Flask

from consent import audit, records
from consent.assisted import IN_PERSON, Assistance
from consent.glossary import GLOSSARY
from idp.advisors.assistance import PHONE
from idp.advisors.models import CONSENT, PAPER, Advisor, Mandate
from idp.advisors.service import Confirmation, confirm_mandate, start_mandate
from idp.extensions import db
from idp.times import local_date
from tests.browser import Browser
from tests.consent.test_assisted_consent import (  # noqa: F401  (fixtures)
    advisor,
    carpool,
    path,
    signed_in,
)
from tests.consent.test_readable_data import export_of, keys_in
from tests.factories import Platform, Traveller

CENTRE = "Plateforme mobilité Charente"


@pytest.fixture
def mandate(advisor: Advisor, user: Traveller, carpool: Platform) -> Mandate:
    """A mandate started and confirmed with its paper code, by the advisors' own service:
    its mandate:granted event reaches the history as it does in production."""
    started = start_mandate(advisor, user.model, [CONSENT], [carpool.client_id], 3, PHONE,
                            PAPER)
    db.session.commit()
    assert confirm_mandate(started.mandate, started.code) == Confirmation.CONFIRMED
    return started.mandate


@pytest.fixture
def given(app: Flask, advisor: Advisor, mandate: Mandate, carpool: Platform) -> Mandate:
    """The advisor gave the traveller's consent to the carpool, through the pages."""
    browser = signed_in(app, app.test_client(), advisor)
    browser.get(path(mandate, carpool))
    response = browser.submit(path(mandate, carpool), {"decision": "allow", "scope": ["email"]})
    assert response.status_code == 303
    return mandate


def text_of(browser: Browser, url: str, language: str) -> str:
    response = browser.client.get(url, headers={"Accept-Language": language})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def confirmed_on(mandate: Mandate, app: Flask, language: str) -> str:
    with app.test_request_context(headers={"Accept-Language": language}):
        return local_date(mandate.confirmed_at)


WORDS = {
    "en": {"proof": "Given with the help of Nadia Benali, {centre}, on the phone, under the "
                    "mandate of {date}.",
           "history": "Your agreement was given to a platform (National carpool). Done by "
                      "Nadia Benali at {centre} on your behalf.",
           "granted": "You allowed a platform (National carpool). Done by Nadia Benali at "
                      "{centre} on your behalf.",
           "mandate": "You allowed an advisor to help you. The advisor is Nadia Benali, at "
                      "{centre}."},
    "fr": {"proof": "Donné avec l’aide de Nadia Benali, {centre}, au téléphone, dans le "
                    "cadre du mandat du {date}.",
           "history": "Votre accord a été donné à une plateforme (National carpool). Fait "
                      "par Nadia Benali, de {centre}, pour vous.",
           "granted": "Fait par Nadia Benali, de {centre}, pour vous.",
           "mandate": "Vous avez permis à un conseiller de vous aider. Le conseiller est "
                      "Nadia Benali, de {centre}."},
}


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_proof_says_who_helped_how_and_under_which_mandate(
        app: Flask, logged_in: Browser, given: Mandate, carpool: Platform,
        language: str) -> None:
    text = text_of(logged_in, f"/account/platforms/{carpool.client_id}/proof", language)

    date = confirmed_on(given, app, language)
    assert WORDS[language]["proof"].format(centre=CENTRE, date=date) in text


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_history_says_the_advisor_did_it_on_the_traveller_s_behalf(
        logged_in: Browser, given: Mandate, language: str) -> None:
    for url in ("/account/platforms", "/account/data"):
        text = " ".join(text_of(logged_in, url, language).split())
        for key in ("history", "granted", "mandate"):
            assert WORDS[language][key].format(centre=CENTRE) in text, (url, key)
    assert audit.verify().ok


@pytest.mark.parametrize("language", ["en", "fr"])
def test_an_advisor_no_longer_known_is_said_so(logged_in: Browser, user: Traveller,
                                               carpool: Platform, language: str) -> None:
    gone = Assistance("adv_00000000000000ff", "Someone", "Somewhere", "gone", IN_PERSON)
    records.give(user.model, carpool.model, None, ["openid", "email"], ["sub", "email"], [],
                 [], "en", assistance=gone)
    db.session.commit()

    history = " ".join(text_of(logged_in, "/account/platforms", language).split())
    proof = text_of(logged_in, f"/account/platforms/{carpool.client_id}/proof", language)

    words = {"en": ("Done by an advisor who no longer works here, on your behalf.",
                    "Given with the help of an advisor who no longer works here, in person."),
             "fr": ("Fait par un conseiller qui ne travaille plus ici, pour vous.",
                    "Donné avec l’aide d’un conseiller qui ne travaille plus ici, en "
                    "personne.")}[language]
    assert words[0] in history and words[1] in proof
    assert "Someone" not in history + proof


def test_the_copy_of_the_data_has_the_mandates_and_assisted_acts(
        logged_in: Browser, in_english: None, given: Mandate, advisor: Advisor,
        carpool: Platform) -> None:
    data = export_of(logged_in)

    [mandate] = data["mandates"]
    assert mandate["mandate_id"] == given.mandate_id
    assert (mandate["advisor"], mandate["centre"]) == ("Nadia Benali", CENTRE)
    assert mandate["actions"] == ["consent"] and mandate["platforms"] == [carpool.client_id]
    assert mandate["confirmed_at"] and mandate["stopped_at"] is None
    kinds = [a["event_type"] for a in data["assisted_actions"]]
    assert kinds == ["mandate:granted", "consent:granted", "assisted:consent_given"]
    assert all(a["advisor"] == "Nadia Benali" and a["mandate_id"] == given.mandate_id
               for a in data["assisted_actions"])
    assert "Nadia Benali" not in json.dumps(data["history"])  # the audit log keeps no name
    assert keys_in(data) - set(GLOSSARY) == set()

    text = " ".join(logged_in.get("/account/data").get_data(as_text=True).split())
    assert ">People who help you</h2>" in text and ">What advisors did for you</h2>" in text
    assert "Nadia Benali, at Plateforme mobilité Charente" in text
    assert "agree for you to share your details with some platforms: National carpool" in text
    for key in keys_in(data):
        assert f'<code lang="en">{key}</code>' in text
