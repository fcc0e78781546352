"""Plain language (issue 12, item 7): every text a traveller reads is made of short
sentences and common words, in French and in English (FALC, "facile à lire et à
comprendre"). The test measures the catalogues themselves, so a new page, error, mail or
consent purpose is measured the day it is written.

What is measured: every message of idp/translations/*/LC_MESSAGES/messages.po, the
English msgid and the French msgstr (each plural form), since only the texts a traveller
reads are translated: pages, forms and their errors, mails, text messages, the consent
screen and the scope purposes of consent/scopes.py (the wording of shared/SCOPES.md).
The operator's command line and the log lines are not translated, so not measured.
What is left out: a message whose every source location is a page or module for
operators or advisors (a path with a folder or file named ``operator``, ``operators``,
``advisor`` or ``advisors``), or a command-line module (``cli.py``, ``*_cli.py``).
A message also used by one traveller page is measured.

The rules: at most MAX_WORDS words a sentence, a mean of at most MEAN_WORDS over each
language, and none of the JARGON words. ALLOWED lists the few messages that must keep
a word, each with its reason; an entry no longer needed fails the test, so the list
only shrinks."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from statistics import mean

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

TRANSLATIONS = Path(__file__).resolve().parent.parent / "idp" / "translations"
# The project's bar is 20 words (FALC guides say 15 to 20). The mean is taken over full
# sentences only (ending with . ! ? or :), not over labels of one or two words.
MAX_WORDS = 20
MEAN_WORDS = 10
# Words a traveller far from computers does not know, or that name our machinery
# instead of what it does for them. Matched as whole words, any case.
JARGON = {
    "en": ("INSEE", "SIRET", "URL", "URI", "identifiers?", "pseudonym\\w*",
           "authenticat(e|ed|es|ion)", "tokens?", "OAuth", "OIDC", "OpenID", "clients?",
           "scopes?", "revok\\w*", "revocation", "JSON", "JWS", "JWT", "hash(es)?", "TOTP",
           "API", "endpoints?", "parameters?", "credentials?", "redirect\\w*", "SHA-?256"),
    "fr": ("INSEE", "SIRET", "URL", "URI", "identifiants?", "pseudonym\\w*",
           "authentifi\\w*", "jetons?", "tokens?", "OAuth", "OIDC", "OpenID", "clients?",
           "scopes?", "révo\\w*", "JSON", "JWS", "JWT", "hash(es)?", "TOTP",
           "API", "paramètres?", "redirig\\w*", "SHA-?256"),
}
# Messages allowed to keep a word of JARGON, and why. "authenticator app" is not on the
# list: it is what the app stores call these apps, and the page names examples.
ALLOWED: dict[str, str] = {
    "Download my data (JSON file)": "the name of the file's format, for the person or "
    "service who opens it; the readable page of the same data comes first",
}
LEFT_OUT = re.compile(r"(^|/)(operators?|advisors?)(/|\.|$)|(^|/|_)cli\.py$")
SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n+")
PLACEHOLDER = re.compile(r"%\(\w+\)\w")
FULL_SENTENCE = re.compile(r"[.!?:]\W*$")
WORD = re.compile(r"%\(\w+\)\w|[\w’'-]*\w[\w’'-]*")


def read_catalogue(language: str) -> Catalog:
    with open(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po", "rb") as po:
        return read_po(po, locale=language)


def read_by_travellers(message: Message) -> bool:
    """Whether a traveller sees this message: one location outside the left-out paths."""
    return not message.locations or any(
        not LEFT_OUT.search(PurePosixPath(path).as_posix()) for path, _ in message.locations)


def texts(catalogue: Catalog, language: str) -> Iterator[tuple[str, str]]:
    """(msgid, text read) for each measured message: the French translation, or the
    English source (the English catalogue shows the msgid)."""
    for message in catalogue:
        if not message.id or not read_by_travellers(message):
            continue
        ids = message.id if isinstance(message.id, tuple | list) else (message.id,)
        strings = message.string if isinstance(message.string, tuple | list) else (
            message.string,)
        shown = strings if language == "fr" and any(strings) else ids
        for text in shown:
            yield ids[0], text


def sentences(text: str) -> list[tuple[list[str], bool]]:
    """The words of each sentence, without markup, and whether it is a full sentence
    (not a label); a placeholder is one word."""
    plain = re.sub(r"<[^>]+>", " ", text)
    return [(words, bool(FULL_SENTENCE.search(part.strip())))
            for part in SENTENCE_END.split(plain) if (words := WORD.findall(part))]


def jargon(text: str, language: str) -> list[str]:
    """The jargon words of a text; placeholders and file names (jwks.json) do not count."""
    plain = PLACEHOLDER.sub(" ", text)
    return [m.group(0) for word in JARGON[language]
            for m in re.finditer(rf"(?<![\w.-]){word}(?![\w-])", plain, re.IGNORECASE)]


def problems(catalogue: Catalog, language: str) -> list[str]:
    """Everything that breaks the rules in one catalogue, one line each."""
    found, lengths = [], []
    for msgid, text in texts(catalogue, language):
        for words, full in sentences(text):
            lengths += [len(words)] if full else []
            if len(words) > MAX_WORDS:
                found.append(f"{len(words)} words: {' '.join(words)!r}")
        if msgid not in ALLOWED and (words := jargon(text, language)):
            found.append(f"jargon {words}: {text!r}")
    if lengths and mean(lengths) > MEAN_WORDS:
        found.append(f"mean sentence length {mean(lengths):.1f} > {MEAN_WORDS}")
    return found


@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_text_a_traveller_reads_is_plain(language: str) -> None:
    found = problems(read_catalogue(language), language)
    assert not found, "\n".join(found)


def test_every_allowed_word_is_still_needed() -> None:
    used = {msgid for language in ("fr", "en")
            for msgid, text in texts(read_catalogue(language), language)
            if jargon(text, language)}
    assert set(ALLOWED) <= used, f"no longer needed: {set(ALLOWED) - used}"


def with_message(language: str, msgid: str, string: str = "",
                 location: str = "templates/accounts/profile.html") -> Catalog:
    catalogue = read_catalogue(language)
    catalogue.add(msgid, string, locations=[(location, 1)])
    return catalogue


LONG = ("When you want to share your details with a new platform you must first read the "
        "whole page and then tick every box before you press the button at the bottom.")


@pytest.mark.parametrize(("language", "msgid", "string", "expected"), [
    ("en", LONG, "", "31 words"),
    ("en", "Your details. " + LONG, "", "31 words"),
    ("fr", "Short.", "Une phrase française beaucoup trop longue, avec des mots en plus, encore "
     "des mots, et toujours des mots pour rien du tout.", "22 words"),
    ("en", "Your identifier was revoked.", "", "jargon ['identifier', 'revoked']"),
    ("en", "Copy this URL.", "", "jargon ['URL']"),
    ("fr", "Your commune's code.", "Le code INSEE de votre commune.", "jargon ['INSEE']"),
    ("fr", "Your key.", "Votre jeton d’authentification.", "'authentification', 'jeton'"),
    ("en", "Sign in with your credentials.", "", "jargon ['credentials']"),
    ("fr", "Your code.", "Votre pseudonyme.", "jargon ['pseudonyme']"),
])
def test_a_bad_message_is_caught(language: str, msgid: str, string: str,
                                 expected: str) -> None:
    assert any(expected in problem for problem in
               problems(with_message(language, msgid, string), language))


def test_long_sentences_everywhere_raise_the_mean() -> None:
    catalogue = Catalog(locale="en")
    for n in range(5):
        catalogue.add(f"{n} " + " ".join(["word"] * 14) + ".", locations=[("idp/errors.py", 1)])
    assert problems(catalogue, "en") == ["mean sentence length 15.0 > 10"]


def test_labels_do_not_lower_the_mean() -> None:
    catalogue = Catalog(locale="en")
    catalogue.add(" ".join(["word"] * 14) + ".", locations=[("idp/errors.py", 1)])
    for n in range(20):
        catalogue.add(f"Label {n}", locations=[("idp/errors.py", 1)])
    assert problems(catalogue, "en") == ["mean sentence length 14.0 > 10"]


@pytest.mark.parametrize("location", ["templates/operator/advisors.html",
                                      "idp/advisors/views.py", "idp/accounts/cli.py",
                                      "idp/accounts/sessions_cli.py"])
def test_operator_and_advisor_texts_are_left_out(location: str) -> None:
    catalogue = with_message("en", "Revoke the advisor's OAuth token.", location=location)
    assert not any("OAuth" in problem for problem in problems(catalogue, "en"))


def test_a_text_shared_with_a_traveller_page_is_measured() -> None:
    catalogue = read_catalogue("en")
    catalogue.add("Revoke the token.", locations=[("templates/operator/a.html", 1),
                                                  ("templates/home.html", 2)])
    assert any("token" in problem for problem in problems(catalogue, "en"))
