"""Readable data (issue 12, item 9): "Download my data" is a page by topic with the JSON
one link away and every key of the JSON explained; the proof of an agreement is a page
that says what, when, with whom, and how to check the signature, and the command it
gives does check it; every time on every page is in the settings' zone, named."""

from __future__ import annotations

import base64
import html
import json
import re
import shlex
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from joserfc import jws
from joserfc.jwk import KeySet

from consent.glossary import GLOSSARY, OPAQUE
from consent.models import ConsentRecord
from idp.extensions import db
from tests.browser import Browser, query_of
from tests.consent.test_consent_screen import POLICY, answer, ask
from tests.consent.test_platforms import allowed  # noqa: F401  (fixture)
from tests.factories import Platform, Traveller, make_platform
from tests.tokens import redeem
from tests.totp import enrol, freeze_at_step_start


def keys_in(value: Any, opaque: bool = False) -> set[str]:
    """Every key of every object in the export, however deep (not inside OPAQUE)."""
    if isinstance(value, dict):
        found = set() if opaque else set(value)
        for key, inner in value.items():
            found |= keys_in(inner, opaque or key in OPAQUE)
        return found
    if isinstance(value, list):
        return set().union(*(keys_in(item, opaque) for item in value)) if value else set()
    return set()


def export_of(browser: Browser) -> dict[str, Any]:
    response = browser.get("/account/export")
    assert response.status_code == 200
    return json.loads(response.get_data(as_text=True))  # type: ignore[no-any-return]


def page_text(browser: Browser, url: str, language: str) -> str:
    response = browser.client.get(url, headers={"Accept-Language": language})
    assert response.status_code == 200, response.location
    return response.get_data(as_text=True)


def test_the_data_page_shows_each_topic_and_links_the_file(
        logged_in: Browser, user: Traveller, allowed, in_english) -> None:  # type: ignore[no-untyped-def]
    platforms = logged_in.get("/account/platforms").get_data(as_text=True)
    assert 'href="/account/data"' in platforms

    text = logged_in.get("/account/data").get_data(as_text=True)

    for heading in ("My details", "My agreements with platforms", "Devices signed in",
                    "Two-step verification", "Access passes given to platforms", "History",
                    "What the file’s words mean"):
        assert f">{heading}</h2>" in text
    assert 'href="/account/export"' in text and user.email in text
    assert "Regional carpool" in text and "Your email address" in text
    assert "You allowed a platform" in text


@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_key_of_the_file_is_explained_on_the_page(
        logged_in: Browser, allowed, time_machine, language: str) -> None:  # type: ignore[no-untyped-def]
    freeze_at_step_start(time_machine)
    enrol(logged_in)  # two-step on: its keys and an account event in the history
    platform, _ = allowed
    logged_in.submit(f"/account/platforms/{platform.client_id}/scopes/phone/withdraw", {},
                     logged_in.get("/account/platforms").get_data(as_text=True))
    data = export_of(logged_in)
    assert data["history"] and data["history"][-1]["data"]  # events with details

    missing = keys_in(data) - set(GLOSSARY)
    assert not missing, f"keys the glossary does not explain: {sorted(missing)}"

    text = page_text(logged_in, "/account/data", language)
    assert f'<html lang="{language}">' in text
    for key in keys_in(data):
        assert f'<code lang="en">{key}</code>' in text


def test_a_key_the_glossary_does_not_know_is_caught() -> None:
    assert keys_in({"profile": {"email": "a", "shoe_size": 42}}) - set(GLOSSARY) \
        == {"shoe_size"}
    assert keys_in({"mobility": {"mob_any_claim": {"deep": 1}}}) == {"mobility"}


def receipt_and_keys(browser: Browser, client_id: str, folder: Path, name: str) -> str:
    receipt = browser.get(f"/account/platforms/{client_id}/receipt").get_data(as_text=True)
    (folder / name).write_text(receipt)
    (folder / "jwks.json").write_text(browser.client.get("/jwks.json").get_data(as_text=True))
    return receipt


def run_shown_command(command: str, folder: Path) -> subprocess.CompletedProcess[str]:
    """The page's command as a traveller's helper would type it, our Python for python3."""
    args = shlex.split(command)
    assert args[0] == "python3"
    return subprocess.run([sys.executable, *args[1:]], cwd=folder, capture_output=True,
                          text=True, timeout=60, check=False)


def test_the_proof_page_says_what_when_who_and_how_to_check(
        logged_in: Browser, allowed, in_english, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    platform, _ = allowed
    text = logged_in.get("/account/platforms").get_data(as_text=True)
    proof_url = f"/account/platforms/{platform.client_id}/proof"
    assert f'href="{proof_url}"' in text

    text = logged_in.get(proof_url).get_data(as_text=True)

    record = db.session.scalar(db.select(ConsentRecord))
    assert "Proof of your agreement with Regional carpool" in text
    assert "Your email address" in text and "To write to you" in text
    assert "Paris time" in text and record.record_id in text
    assert "/jwks.json</a>" in text
    kid = re.search(r"signed with the key (\S+) \(method RS256\)", text)
    assert kid and f'href="/account/platforms/{platform.client_id}/receipt"' in text

    name = f"consent-{record.record_id}.jws"
    receipt = receipt_and_keys(logged_in, platform.client_id, tmp_path, name)
    keys = KeySet.import_key_set(json.loads((tmp_path / "jwks.json").read_text()))
    token = jws.deserialize_compact(receipt, keys)
    assert token.headers()["kid"] == html.unescape(kid.group(1))
    command = html.unescape(re.search(r'<code id="verify-command"[^>]*>([^<]+)</code>',
                                      text).group(1))  # type: ignore[union-attr]
    checked = run_shown_command(command, tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout) == record.as_receipt()


def test_the_shown_command_refuses_a_changed_proof(
        logged_in: Browser, allowed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    platform, _ = allowed
    record = db.session.scalar(db.select(ConsentRecord))
    name = f"consent-{record.record_id}.jws"
    receipt = receipt_and_keys(logged_in, platform.client_id, tmp_path, name)
    header, payload, signature = receipt.split(".")
    forged = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged["scopes_granted"] = ["openid"]
    body = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    (tmp_path / name).write_text(f"{header}.{body}.{signature}")
    text = logged_in.get(f"/account/platforms/{platform.client_id}/proof").get_data(as_text=True)
    command = html.unescape(re.search(r'<code id="verify-command"[^>]*>([^<]+)</code>',
                                      text).group(1))  # type: ignore[union-attr]

    checked = run_shown_command(command, tmp_path)

    assert checked.returncode != 0 and not checked.stdout


def test_no_proof_page_for_a_platform_never_allowed(logged_in: Browser) -> None:
    assert logged_in.get("/account/platforms/nobody/proof").status_code == 404


# A winter morning to come (signing keys are made now): 09:30 UTC is 10:30 in Paris
# (UTC+1), so a page printing UTC fails.
WINTER_MORNING = datetime(datetime.now(UTC).year + 1, 1, 15, 9, 30, tzinfo=UTC)


def allow_at_frozen_time(browser: Browser, user: Traveller) -> Platform:
    browser.login(user.email, user.password)
    platform = make_platform(name="Regional carpool", scope_policy=POLICY)
    request, _ = ask(browser, platform, scope="openid email phone offline_access")
    code = query_of(answer(browser, scopes=["email", "phone", "offline_access"]).location)
    redeem(browser.client, platform, code["code"], request.verifier)
    return platform


PAGES = ["/account/platforms", "/account/sessions", "/account/data",
         "/account/platforms/{client_id}/proof"]


@pytest.mark.parametrize("url", PAGES)
@pytest.mark.parametrize(("language", "shown", "utc"), [
    ("en", "10:30, Paris time", "09:30"),
    ("fr", "10 h 30", "9 h 30"),
])
def test_every_time_shown_is_paris_time_and_says_so(
        browser: Browser, user: Traveller, time_machine, url: str, language: str,
        shown: str, utc: str) -> None:  # type: ignore[no-untyped-def]
    time_machine.move_to(WINTER_MORNING, tick=False)
    platform = allow_at_frozen_time(browser, user)

    text = page_text(browser, url.format(client_id=platform.client_id), language)

    assert "&lt;time" not in text  # the <time> element is markup, never escaped text
    visible = re.sub(r"<[^>]+>", "", text)
    assert shown in visible
    assert utc not in visible
    assert f'datetime="{WINTER_MORNING.year}-01-15T09:30:00+00:00"' in text


def test_the_proof_says_when_the_words_shown_have_changed_since(
        logged_in: Browser, allowed, in_english) -> None:  # type: ignore[no-untyped-def]
    platform, _ = allowed
    url = f"/account/platforms/{platform.client_id}/proof"
    assert "We have changed these words since" not in logged_in.get(url).get_data(as_text=True)
    record = db.session.scalar(db.select(ConsentRecord))
    record.purposes = [{**p, "version": 0} if p["id"] == "email" else p for p in record.purposes]
    db.session.commit()

    text = logged_in.get(url).get_data(as_text=True)

    assert text.count("We have changed these words since") == 1
