"""The whole assisted flow in a real browser (issue 12, assisted access), as it happens in
a solidarity-mobility centre: an advisor added by the operator's command sets up their
account and signs in with a code from their app; with a traveller on the phone they create
the traveller's account and a mandate, confirmed with the code the traveller receives by
text message (read from the test sender's outbox); they give the traveller's agreement to
a named platform on the consent screen in assisted mode. The consent record and the
traveller's history say so. The traveller then takes their account over, stops the help on
"People who help you", and the advisor's very next request is refused.

Run twice: the advisor in French and the traveller in English, then the other way round,
so every page of the story is seen in both languages. axe-core and a 320 px width on the
assisted consent screen, the page after it and the traveller's history."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from consent.models import ConsentRecord
from idp.accounts.links import Purpose, generate_link
from idp.accounts.models import User
from idp.advisors.models import Mandate
from idp.advisors.service import UNUSABLE_PREFIX, add_advisor
from idp.extensions import db
from tests.browser_real.layout import scrolls_sideways
from tests.browser_real.test_login_and_consent import serious_violations
from tests.live import LivePlatform, LiveServer
from tests.sms import SmsOutbox, outbox_for

ADVISOR_PASSWORD = "the bus to the job centre leaves at nine"
TRAVELLER_PASSWORD = "a long walk to the carpool meeting point"
TRAVELLER_EMAIL = "umberto.rossi@example.org"
WORDS = {
    "en": {"banner": "Nadia Benali of Mobilité solidaire Lyon is helping you. They read "
                     "this page to you and choose with you.",
           "done_by": "Done by Nadia Benali at Mobilité solidaire Lyon on your behalf."},
    "fr": {"banner": "Nadia Benali, de Mobilité solidaire Lyon, vous aide. Cette personne "
                     "vous lit cette page et choisit avec vous.",
           "done_by": "Fait par Nadia Benali, de Mobilité solidaire Lyon, pour vous."},
}


@pytest.fixture
def outbox(live_server: LiveServer, tmp_path: Path) -> SmsOutbox:
    """The live provider sends its text messages to a file the test reads, like a phone."""
    return outbox_for(live_server.app, tmp_path)


@pytest.fixture
def carpool(live_server: LiveServer) -> LivePlatform:
    return live_server.add_platform(name="Covoiturage national", scope_policy={
        "email": {"required": True, "purpose": {"en": "We send your booking.",
                                                "fr": "Nous envoyons votre réservation."}}})


@pytest.fixture
def contexts(chromium: Browser, live_server: LiveServer) -> Iterator[list[BrowserContext]]:
    """Browser profiles of their own (``open_page`` adds one), closed at the end."""
    opened: list[BrowserContext] = []
    yield opened
    for context in opened:
        context.close()


def open_page(chromium: Browser, live_server: LiveServer, contexts: list[BrowserContext],
              locale: str) -> Page:
    context = chromium.new_context(base_url=live_server.url, locale=locale,
                                   viewport={"width": 1280, "height": 800})
    contexts.append(context)
    context.set_default_timeout(10_000)
    return context.new_page()


def submit(page: Page) -> None:
    """The main form's button, whatever the page's language."""
    page.locator("main form:not(.inline) button[type=submit]").first.click()


def set_up_advisor(page: Page, link: str) -> pyotp.TOTP:
    """The advisor follows the operator's set-up link: a password, then the app."""
    page.goto(link)
    page.locator("#password").fill(ADVISOR_PASSWORD)
    submit(page)
    app = pyotp.TOTP(page.locator("#totp-key").inner_text().replace(" ", ""))
    page.locator("#code").fill(app.now())
    submit(page)
    page.wait_for_url("**/advisor/login")
    return app


def sign_in_advisor(page: Page, email: str, app: pyotp.TOTP) -> None:
    page.locator("#email").fill(email)
    page.locator("#password").fill(ADVISOR_PASSWORD)
    submit(page)
    # The set-up used this step's code; the app's next one (one step of drift is allowed)
    # is not a replay. The real clock: the live server runs in this process's threads.
    page.locator("#code").fill(app.at(time.time() + 30))
    submit(page)
    page.wait_for_url("**/advisor")


def create_traveller(page: Page, carpool: LivePlatform) -> None:
    """With the traveller on the phone: their account, and what they allow."""
    page.goto("/advisor/travellers/new")
    page.locator("#given_name").fill("Umberto")
    page.locator("#family_name").fill("Rossi")
    page.locator("#email").fill(TRAVELLER_EMAIL)
    page.locator("#phone_number").fill("06 12 34 56 78")
    page.locator("input[name=actions][value=consent]").check()
    page.locator(f"input[name=platforms][value='{carpool.client_id}']").check()
    page.locator("input[name=months][value='3']").check()
    page.locator("input[name=method][value=assisted_phone]").check()
    page.locator("input[name=confirmation][value=sms]").check()
    submit(page)
    page.wait_for_url("**/advisor/mandates/*/confirm")


def set_password_link(live_server: LiveServer, email: str) -> str:
    """The link of the mail that says the account is ready, made as the advisor's page
    makes it. Not read from the mail: the provider sends mail once the answer is closed
    (idp.mail.send_mail_later), and werkzeug's test server now and then never closes it:
    when chromium resets the connection after a redirect, reading what is left of the
    request raises before the answer's close callbacks run."""
    with live_server.app.app_context():
        user = db.session.scalar(db.select(User).where(User.email == email))
        assert user is not None and user.password_hash.startswith(UNUSABLE_PREFIX)
        link = f"{live_server.url}/password/reset/{generate_link(user, Purpose.RESET_PASSWORD)}"
        db.session.commit()
        db.session.remove()
    return link


def check_page(page: Page, tmp_path: Path, name: str) -> None:
    """No serious axe-core violation, and nothing to scroll sideways at 320 px."""
    assert serious_violations(page, tmp_path, name) == []
    page.set_viewport_size({"width": 320, "height": 640})
    assert not scrolls_sideways(page), name
    page.set_viewport_size({"width": 1280, "height": 800})


@pytest.mark.parametrize(("advisor_locale", "traveller_locale"),
                         [("fr-FR", "en-GB"), ("en-GB", "fr-FR")])
def test_an_advisor_helps_a_traveller_who_then_stops_the_help(
        chromium: Browser, live_server: LiveServer, outbox: SmsOutbox,
        carpool: LivePlatform, contexts: list[BrowserContext], tmp_path: Path,
        advisor_locale: str, traveller_locale: str) -> None:
    with live_server.app.app_context():
        _, link = add_advisor("nadia@centre.example", "Nadia Benali",
                              "Mobilité solidaire Lyon")  # what `idp advisors add` runs
        db.session.remove()
    advisor = open_page(chromium, live_server, contexts, advisor_locale)
    traveller = open_page(chromium, live_server, contexts, traveller_locale)
    language = traveller_locale[:2]

    # The advisor sets up their account, signs in, creates the traveller's account.
    app = set_up_advisor(advisor, link)
    sign_in_advisor(advisor, "nadia@centre.example", app)
    create_traveller(advisor, carpool)
    # The traveller reads the code of the text message aloud; the advisor types it.
    advisor.locator("#code").fill(outbox.code(outbox.messages()[-1]["to"]))
    submit(advisor)
    advisor.wait_for_url("**/advisor")

    # The consent screen in assisted mode, from the advisor's list of people they help.
    advisor.locator(f"a[href$='/consent/{carpool.client_id}']").click()
    expect(advisor.locator("#assisted-banner")).to_have_text(
        WORDS[advisor_locale[:2]]["banner"])
    expect(advisor.locator("input[type=checkbox]:checked")).to_have_count(0)
    check_page(advisor, tmp_path, f"assisted-consent-{advisor_locale}")
    advisor.locator("input[name=scope][value=phone]").check()
    advisor.locator("button[name=decision][value=allow]").click()
    advisor.wait_for_url("**/done")
    check_page(advisor, tmp_path, f"assisted-done-{advisor_locale}")

    with live_server.app.app_context():
        record = db.session.scalar(db.select(ConsentRecord))
        assert record is not None and record.client_id == carpool.client_id
        assert record.collection_method == "assisted_phone"
        assert record.helper_id and record.helper_id.startswith("adv_")
        assert record.scopes_granted == ["openid", "email", "phone"]
        mandate = db.session.scalar(db.select(Mandate))
        assert mandate is not None and record.mandate_id == mandate.mandate_id
        consent_url = f"/advisor/travellers/{mandate.mandate_id}/consent/{carpool.client_id}"
        db.session.remove()

    # The traveller takes their account over (the link they were mailed), and reads the
    # history: the assisted consent, done by the advisor on their behalf.
    traveller.goto(set_password_link(live_server, TRAVELLER_EMAIL))
    traveller.locator("#password").fill(TRAVELLER_PASSWORD)
    submit(traveller)
    traveller.goto("/login")
    traveller.locator("#email").fill(TRAVELLER_EMAIL)
    traveller.locator("#password").fill(TRAVELLER_PASSWORD)
    submit(traveller)
    expect(traveller.locator("nav.site-menu")).to_be_visible()
    traveller.goto("/account/platforms")
    expect(traveller.locator("ul.history")).to_contain_text(WORDS[language]["done_by"])
    expect(traveller.locator("main h2").first).to_have_text("Covoiturage national")
    check_page(traveller, tmp_path, f"history-{traveller_locale}")
    traveller.goto(f"/account/platforms/{carpool.client_id}/proof")
    expect(traveller.locator("main")).to_contain_text("Nadia Benali, Mobilité solidaire Lyon")

    # "People who help you": the traveller stops the help.
    traveller.goto("/account/helpers")
    traveller.locator("form[action$='/stop'] button").click()
    traveller.wait_for_url("**/account/helpers")
    expect(traveller.locator("form[action$='/stop']")).to_have_count(0)

    # The advisor's next request is refused at once.
    response = advisor.goto(consent_url)
    assert response is not None and response.status == 403
    with live_server.app.app_context():
        assert db.session.scalar(db.select(db.func.count(ConsentRecord.id))) == 1
        db.session.remove()
