"""The delegation screen's words (issue 14) in plain language, English and French, by
the rules of tests/test_plain_language.py, before they reach the catalogues: FRENCH_WORDS
is what the French catalogue is to hold (the lead merges it), and the catalogue with
them must stay plain."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_plain_language import problems, read_catalogue

ROOT = Path(__file__).resolve().parents[2]
FRENCH_WORDS = {
    "%(actor)s may %(actions)s on %(platform)s for you.":
        "%(actor)s pourra %(actions)s sur %(platform)s pour vous.",
    "%(first)s and %(last)s": "%(first)s et %(last)s",
    "Acting for you on %(platform)s": "Agir pour vous sur %(platform)s",
    "What %(platform)s will see": "Ce que %(platform)s verra",
    "%(platform)s sees a number made only for it, not your name. It sees only what you "
    "tick.": "%(platform)s voit un numéro fait pour lui seul, pas votre nom. Il voit "
             "seulement ce que vous cochez.",
    "This lasts until %(date)s. You can stop it at any time in “My platforms”.":
        "Cela dure jusqu’au %(date)s. Vous pouvez l’arrêter à tout moment dans « Mes "
        "plateformes ».",
    # The readable copy of the data (consent/glossary.py).
    "What this platform may do for you on other platforms.":
        "Ce que cette plateforme peut faire pour vous sur d’autres plateformes.",
    "The address of the other platform's service.":
        "L’adresse du service de l’autre plateforme.",
    "The other platform's number at Mobility ID.":
        "Le numéro de l’autre plateforme chez Mobility ID.",
    "The other platform's name.": "Le nom de l’autre plateforme.",
    "The number the other platform knows you by.":
        "Le numéro sous lequel l’autre plateforme vous connaît.",
    "Whether it may go on when you are not there.":
        "Si elle peut continuer quand vous n’êtes pas là.",
    "What the advisor, or the platform acting for you, may do.":
        "Ce que le conseiller, ou la plateforme qui agit pour vous, peut faire.",
}
SOURCES = ("templates/consent/consent.html", "consent/delegations.py", "consent/glossary.py")


def test_every_word_is_in_the_sources() -> None:
    text = " ".join(" ".join((ROOT / name).read_text().split()) for name in SOURCES)
    assert [m for m in FRENCH_WORDS if m not in text.replace('" "', "")] == []


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_words_keep_the_catalogue_plain(language: str) -> None:
    catalogue = read_catalogue(language)
    for msgid, french in FRENCH_WORDS.items():
        catalogue.add(msgid, french if language == "fr" else "",
                      locations=[("templates/consent/consent.html", 1)])
    assert problems(catalogue, language) == []
