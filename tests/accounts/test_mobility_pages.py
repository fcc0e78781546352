"""The travel details, one short page per topic (issue 12, item 7): each page saves and
comes back filled in, the overview says in words what is there, health needs stay on
their own page, the town is found by its name and the official code is never asked."""

from __future__ import annotations

import re
from html import unescape

import pytest

from idp.accounts.models import User
from idp.extensions import db
from tests.browser import AuthorizationRequest, Browser
from tests.factories import Traveller, make_platform

# Each topic, an answer as a traveller sends it, and the claims it must become.
TOPICS = {
    "home": ({"commune_name": "angouleme"},
             {"mob_home_commune": {"name": "Angoulême", "insee_code": "16015"}}),
    "travel": ({"preferred_modes": ["bus", "carpool"]},
               {"mob_preferred_modes": ["bus", "carpool"]}),
    "carpool": ({"carpool_role": "both", "preferences": ["music", "talker"], "luggage_size": "3"},
                {"mob_carpool_role": "both", "mob_carpool_preferences": {
                    "smoking": False, "animals": False, "music": True, "talker": True,
                    "luggage_size": 3}}),
    "car": ({"vehicle_brand": "Renault", "vehicle_model": "Clio", "licence_categories": ["B"]},
            {"mob_vehicle": {"brand": "Renault", "model": "Clio"},
             "mob_driving_licence": {"verified": False, "categories": ["B"]}}),
    "pass": ({"pass_network": "STGA", "pass_product": "Monthly", "pass_valid_until": "2027-01-31"},
             {"mob_transit_passes": [{"network": "STGA", "product": "Monthly",
                                      "valid_until": "2027-01-31"}]}),
    "work": ({"employer_name": "Leroy", "employer_siret": "123 456 789 00012"},
             {"mob_employer": {"name": "Leroy", "siret": "12345678900012"}}),
    "health": ({"needs_mobility": ["wheelchair"], "needs_sensory": ["deaf"]},
               {"mob_accessibility_needs": {"mobility": ["wheelchair"], "sensory": ["deaf"]}}),
}
# What the overview shows for each, in words, once saved.
WORDS = {"home": "Angoulême (16)", "travel": "Carpool", "carpool": "A suitcase",
         "car": "B – car", "pass": "January 31, 2027", "work": "Leroy",
         "health": "I use a wheelchair"}

# What the page shows back when it differs from what was typed: the list's spelling.
RELOADED = {"home": {"commune_name": "Angoulême"},
            "work": {"employer_siret": "12345678900012"}}


def shown(page: str, name: str, value: str) -> bool:
    """Whether the page shows this answer filled in: typed, ticked or selected."""
    for tag in re.findall(rf'<input[^>]*name="{name}"[^>]*>', page):
        ticked = "checked" in tag or not re.search(r'type="(checkbox|radio)"', tag)
        if f'value="{value}"' in tag and ticked:
            return True
    select = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', page, re.S)
    return bool(select) and f'<option selected value="{value}">' in select.group(1)


def mobility(traveller: Traveller) -> dict[str, object]:
    db.session.expire_all()
    return dict(db.session.get(User, traveller.model.id).mobility)


def save(browser: Browser, slug: str, answer: dict[str, object]) -> str:
    browser.get(f"/account/mobility/{slug}")
    response = browser.submit(f"/account/mobility/{slug}", answer)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.location == "/account/mobility"
    return unescape(browser.get(response.location).get_data(as_text=True))


@pytest.mark.parametrize("slug", list(TOPICS))
def test_each_topic_saves_its_claims_and_comes_back_filled_in(
        slug: str, logged_in: Browser, user: Traveller, in_english: None) -> None:
    answer, claims = TOPICS[slug]
    overview = save(logged_in, slug, answer)
    assert mobility(user) == claims
    assert WORDS[slug] in overview
    page = unescape(logged_in.get(f"/account/mobility/{slug}").get_data(as_text=True))
    for name, value in {**answer, **RELOADED.get(slug, {})}.items():
        for one in value if isinstance(value, list) else [value]:
            assert shown(page, name, one), (name, one)


def test_a_topic_leaves_the_other_topics_as_they_were(logged_in: Browser, user: Traveller) -> None:
    for slug in ("car", "health", "home"):
        save(logged_in, slug, TOPICS[slug][0])
    save(logged_in, "car", {"vehicle_brand": "Peugeot"})
    saved = mobility(user)
    assert saved["mob_vehicle"] == {"brand": "Peugeot"}
    assert "mob_driving_licence" not in saved
    assert saved["mob_accessibility_needs"] == TOPICS["health"][1]["mob_accessibility_needs"]
    assert saved["mob_home_commune"]["insee_code"] == "16015"


def test_the_photo_page_keeps_a_web_address(logged_in: Browser, user: Traveller) -> None:
    save(logged_in, "photo", {"picture": "https://example.org/me.jpg"})
    db.session.expire_all()
    assert db.session.get(User, user.model.id).picture == "https://example.org/me.jpg"


def test_health_needs_are_on_their_own_page_only(logged_in: Browser) -> None:
    health = logged_in.get("/account/mobility/health").get_data(as_text=True)
    assert 'name="needs_mobility"' in health
    assert "vehicle_brand" not in health and "commune_name" not in health
    for slug in set(TOPICS) - {"health"}:
        page = logged_in.get(f"/account/mobility/{slug}").get_data(as_text=True)
        assert "needs_" not in page, slug


def test_the_official_code_of_the_town_is_never_asked(logged_in: Browser) -> None:
    page = logged_in.get("/account/mobility/home").get_data(as_text=True)
    assert "INSEE" not in page and "commune_code" not in page


def test_a_town_several_places_share_is_chosen_in_a_list(
        logged_in: Browser, user: Traveller, in_english: None) -> None:
    logged_in.get("/account/mobility/home")
    asked = logged_in.submit("/account/mobility/home", {"commune_name": "Saint Denis"})
    page = unescape(asked.get_data(as_text=True))
    assert asked.status_code == 400
    assert "Choose yours in the list" in page
    assert "Saint-Denis (93)" in page and "Saint-Denis (974)" in page
    assert 'type="radio"' in page and "mob_home_commune" not in mobility(user)
    done = logged_in.submit("/account/mobility/home",
                            {"commune_name": "Saint Denis", "commune": "97411"})
    assert done.status_code == 302
    assert mobility(user)["mob_home_commune"] == {"name": "Saint-Denis", "insee_code": "97411"}
    # Back on the page, the choice is shown as made.
    again = logged_in.get("/account/mobility/home").get_data(as_text=True)
    assert shown(again, "commune", "97411") and not shown(again, "commune", "93066")


def test_the_postal_code_picks_one_of_the_towns(logged_in: Browser, user: Traveller) -> None:
    save(logged_in, "home", {"commune_name": "Saint-Denis", "postal_code": "93200"})
    assert mobility(user)["mob_home_commune"] == {"name": "Saint-Denis", "insee_code": "93066"}


@pytest.mark.parametrize(("answer", "field", "message"), [
    ({"commune_name": "Nowhereville"}, "commune_name", "We did not find this town"),
    ({"commune_name": "Angoulême", "postal_code": "75001"}, "commune_name",
     "this name and this postal code"),
    ({"postal_code": "00000"}, "postal_code", "with this postal code"),
    ({"commune_name": "Angoulême", "postal_code": "16"}, "postal_code", "5 digits"),
])
def test_a_town_not_found_gets_a_friendly_error(
        answer: dict[str, str], field: str, message: str, logged_in: Browser, user: Traveller,
        in_english: None) -> None:
    logged_in.get("/account/mobility/home")
    response = logged_in.submit("/account/mobility/home", answer)
    page = unescape(response.get_data(as_text=True))
    assert response.status_code == 400
    assert message in page and f'href="#{field}"' in page
    assert mobility(user) == {}


def test_emptying_the_town_removes_it(logged_in: Browser, user: Traveller) -> None:
    save(logged_in, "home", TOPICS["home"][0])
    save(logged_in, "home", {"commune_name": ""})
    assert "mob_home_commune" not in mobility(user)


def test_a_changed_licence_loses_its_check_and_an_unchanged_one_keeps_it(
        logged_in: Browser, user: Traveller) -> None:
    checked = {"verified": True, "categories": ["B"], "verified_at": 1767225600}
    user.model.mobility = {"mob_driving_licence": checked}
    db.session.commit()
    save(logged_in, "car", {"vehicle_brand": "Renault", "licence_categories": ["B"]})
    assert mobility(user)["mob_driving_licence"] == checked
    save(logged_in, "car", {"licence_categories": ["B", "A"]})
    assert mobility(user)["mob_driving_licence"] == {"verified": False, "categories": ["B", "A"]}


def test_an_unknown_topic_is_not_found(logged_in: Browser) -> None:
    assert logged_in.get("/account/mobility/passport").status_code == 404


def test_the_topic_pages_need_a_signed_in_traveller(browser: Browser) -> None:
    response = browser.get("/account/mobility/health")
    assert response.status_code == 302 and response.location.startswith("/login")


@pytest.mark.parametrize(("slug", "answer"), [
    ("car", {"licence_categories": ["B", "Z9"]}),
    ("carpool", {"luggage_size": "9"}),
    ("carpool", {"carpool_role": "pilot"}),
    ("pass", {"pass_network": "STGA", "pass_valid_until": "next year"}),
    ("photo", {"picture": "javascript:alert(1)"}),
    ("work", {"employer_name": "x" * 500}),
    ("home", {"commune_name": "Saint-Denis", "commune": "16015"}),
    ("health", {"needs_mobility": ["flying"]}),
])
def test_bad_answers_get_the_page_again_and_change_nothing(
        slug: str, answer: dict[str, object], logged_in: Browser, user: Traveller) -> None:
    user.model.mobility = {"mob_preferred_modes": ["bus"]}
    db.session.commit()
    logged_in.get(f"/account/mobility/{slug}")
    response = logged_in.submit(f"/account/mobility/{slug}", answer)
    assert response.status_code == 400
    page = unescape(response.get_data(as_text=True))
    assert 'id="error-summary"' in page and '<html lang="fr">' in page
    assert "Not a valid" not in page  # WTForms' own words come in the page's language
    assert mobility(user) == {"mob_preferred_modes": ["bus"]}


def test_the_menu_marks_my_travel_details_on_every_topic_page(
        logged_in: Browser, in_english: None) -> None:
    page = logged_in.get("/account/mobility/car").get_data(as_text=True)
    assert '<a href="/account/mobility" aria-current="true">My travel details</a>' in page


def test_the_consent_screen_shows_the_details_in_the_words_of_their_pages(
        logged_in: Browser, user: Traveller, in_english: None) -> None:
    for slug in ("carpool", "car", "home", "health"):
        save(logged_in, slug, TOPICS[slug][0])
    scopes = "openid carpool driving_licence home_commune accessibility_needs"
    platform = make_platform(scope=scopes, scope_policy={
        name: {"required": False, "purpose": {"en": "To plan your trip."}}
        for name in ("driving_licence", "accessibility_needs")})
    request = AuthorizationRequest(platform.client_id, platform.redirect_uri, scope=scopes)
    page = unescape(logged_in.authorize(request).get_data(as_text=True))
    for words in ("I like music on the way, I like to chat on the way, A suitcase",
                  "B – car", "Angoulême (16)", "I use a wheelchair, Deaf"):
        assert words in page, words
    assert "luggage_size" not in page and "False" not in page
