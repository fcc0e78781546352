"""The list of French communes behind "Where you live" (idp.communes)."""

from __future__ import annotations

import pytest

from idp import communes


@pytest.mark.parametrize(("typed", "code"), [
    ("Angoulême", "16015"), ("angouleme", "16015"), ("  ANGOULÊME ", "16015"),
    ("st etienne", "42218"), ("Saint-Étienne", "42218"), ("l'isle d'abeau", "38193"),
    ("Paris", "75056"),
])
def test_a_town_is_found_however_its_name_is_typed(typed: str, code: str) -> None:
    assert [c.insee_code for c in communes.find(typed)] == [code]


def test_a_shared_name_gives_every_town_with_its_department() -> None:
    labels = [c.label for c in communes.find("Saint-Denis")]
    assert "Saint-Denis (93)" in labels and "Saint-Denis (974)" in labels


def test_the_postal_code_narrows_the_choice_or_finds_the_town_alone() -> None:
    assert [c.insee_code for c in communes.find("Saint-Denis", "97 400")] == ["97411"]
    assert [c.insee_code for c in communes.find("", "16000")] == ["16015"]
    assert communes.find("Angoulême", "75001") == ()
    assert communes.find("") == ()


def test_the_index_is_built_once() -> None:
    assert communes.index() is communes.index()
    assert len(communes.index().by_code) > 34000


def test_the_shipped_list_stays_small() -> None:
    assert communes.SOURCE.stat().st_size < 1_000_000
