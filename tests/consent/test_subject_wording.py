"""The number a platform knows the traveller by, told in one plain wording (issue 12,
item 5: "un numéro qui n'est pas votre nom" was unclear). Every page that speaks of it
says the same two things, in French and in English: that it is you, and that it is a
number, not your name. Never "code": the traveller meets that word for the one-time
codes they type."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from tests.browser import Browser
from tests.consent.test_consent_screen import POLICY, answer, ask
from tests.factories import make_platform

WORDS = {
    "en": {"platforms": "That it is you (a number, not your name)",
           "consent": "Regional carpool gets a number made only for it, not your name.",
           "title": "That it is you",
           "purpose": "A number made only for this platform, not your name."},
    "fr": {"platforms": "Que c’est bien vous (un numéro, pas votre nom)",
           "consent": "Regional carpool reçoit un numéro fait pour elle seule, pas votre nom.",
           "title": "Que c’est bien vous",
           "purpose": "Un numéro fait pour cette plateforme seule, pas votre nom."},
}
# The wordings this replaces, and the unclear one the issue quotes.
OLD = ["code made only", "does not say who you are", "Know that it is you",
       "code fait pour", "ne dit pas qui vous êtes", "numéro qui", "Savoir que c’est vous"]


def visible(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))


@pytest.fixture(params=["fr", "en"])
def language(request: pytest.FixtureRequest, client: FlaskClient) -> str:
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = request.param
    return str(request.param)


def test_every_page_tells_the_platforms_number_the_same_plain_way(
        language: str, logged_in: Browser) -> None:
    words = WORDS[language]
    platform = make_platform(name="Regional carpool", scope_policy=POLICY)
    ask(logged_in, platform, scope="openid email phone")
    consent = visible(logged_in.page.get_data(as_text=True))  # type: ignore[union-attr]
    answer(logged_in, scopes=["email"])
    platforms = visible(logged_in.get("/account/platforms").get_data(as_text=True))
    proof = visible(logged_in.get(f"/account/platforms/{platform.client_id}/proof")
                    .get_data(as_text=True))

    assert words["consent"] in consent
    assert words["platforms"] in platforms
    assert f"{words['title']}: {words['purpose']}" in proof
    for page in (consent, platforms, proof):
        assert [old for old in OLD if old in page] == []
