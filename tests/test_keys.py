"""Signing key rotation: a new key is published before it signs, the old one stays
published until its tokens have expired, then leaves the JWKS. Time is injected."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from idp.extensions import db, utcnow
from idp.keys import SigningKey, derive_states, key_store, retention
from tests.browser import AuthorizationRequest, Browser, query_of
from tests.factories import Platform, Traveller
from tests.oauth.test_code_flow import log_in_and_allow
from tests.tokens import redeem, verify_id_token

HOUR = timedelta(hours=1)


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(app: Flask) -> Iterator[Clock]:
    """The key store's clock, moved by the test; the session's keys are put back after."""
    store = key_store()
    store.ensure_keys()
    columns = [c.name for c in SigningKey.__table__.columns]
    saved = [{name: getattr(row, name) for name in columns}
             for row in db.session.scalars(db.select(SigningKey))]
    clock = Clock(utcnow())
    store.clock = clock
    yield clock
    db.session.rollback()
    db.session.execute(db.delete(SigningKey))
    if saved:
        db.session.execute(db.insert(SigningKey), saved)
    db.session.commit()


def rotate(runner: FlaskCliRunner, *options: str) -> dict[str, Any]:
    result = runner.invoke(args=["keys", "rotate", *options, "--json"])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def listed(runner: FlaskCliRunner) -> dict[str, dict[str, Any]]:
    result = runner.invoke(args=["keys", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    return {row["kid"]: row for row in rows}


def published(client: FlaskClient) -> set[str]:
    return {key["kid"] for key in client.get("/jwks.json").get_json()["keys"]}


def id_token_of(browser: Browser, user: Traveller, platform: Platform) -> str:
    """An ID token: login and consent the first time, straight back to the platform after."""
    request = AuthorizationRequest(platform.client_id, platform.redirect_uri)
    response = browser.authorize(request)
    if response.status_code != 302:
        response = log_in_and_allow(browser, user, request)
    tokens = redeem(browser.client, platform, query_of(response.location)["code"],
                    request.verifier)
    token: str = tokens.get_json()["id_token"]
    return token


def test_a_rotated_key_is_published_before_it_signs(client: FlaskClient,
                                                    runner: FlaskCliRunner,
                                                    clock: Clock) -> None:
    old = key_store().signing_key("RS256")
    etag = client.get("/jwks.json").headers["ETag"]

    new = rotate(runner, "--alg", "RS256", "--publish-delay", "3600")

    assert new["state"] == "next" and new["replaces"] == old.kid
    assert {old.kid, new["kid"]} <= published(client)
    assert client.get("/jwks.json").headers["ETag"] != etag
    clock.now += HOUR - timedelta(seconds=1)
    assert key_store().signing_key("RS256").kid == old.kid  # not yet
    clock.now += timedelta(seconds=1)
    assert key_store().signing_key("RS256").kid == new["kid"]
    assert key_store().signing_key("ES256").kid != new["kid"]  # other algs untouched
    assert {old.kid, new["kid"]} <= published(client)


def test_the_default_publish_delay_comes_from_the_settings(runner: FlaskCliRunner,
                                                          clock: Clock) -> None:
    new = rotate(runner, "--alg", "ES256")
    delay = datetime.fromisoformat(new["activates_at"]) - clock.now
    assert delay == timedelta(seconds=24 * 3600)  # IDP_KEY_PUBLISH_DELAY's default
    refused = runner.invoke(args=["keys", "rotate", "--alg", "ES256"])
    assert refused.exit_code == 1
    assert "already waiting" in refused.output


def test_tokens_signed_before_a_rotation_still_verify(browser: Browser, user: Traveller,
                                                      platform: Platform,
                                                      runner: FlaskCliRunner,
                                                      clock: Clock) -> None:
    before = id_token_of(browser, user, platform)
    old_kid = verify_id_token(browser.client, before)["_header"]["kid"]

    new = rotate(runner, "--publish-delay", "0")
    assert new["state"] == "active"
    after = id_token_of(browser, user, platform)

    assert verify_id_token(browser.client, after)["_header"]["kid"] == new["kid"]
    assert verify_id_token(browser.client, before)["_header"]["kid"] == old_kid
    assert listed(runner)[old_kid]["state"] == "retired"


def test_a_retired_key_is_removed_once_its_tokens_have_expired(client: FlaskClient,
                                                               app: Flask,
                                                               runner: FlaskCliRunner,
                                                               clock: Clock) -> None:
    old = key_store().signing_key("RS256")
    new = rotate(runner, "--publish-delay", "60")
    retired_at = clock.now + timedelta(seconds=60)
    keep = retention(app.extensions["idp.settings"])
    assert keep == HOUR  # the test settings' longest token lifetime

    clock.now = retired_at + keep - timedelta(seconds=1)
    assert old.kid in published(client)
    assert listed(runner)[old.kid]["retired_at"] == retired_at.isoformat()

    clock.now = retired_at + keep
    assert old.kid not in published(client)
    assert new["kid"] in published(client)
    row = listed(runner)[old.kid]
    assert row["state"] == "removed"
    assert row["removed_at"] == (retired_at + keep).isoformat()
    stored = db.session.scalar(db.select(SigningKey).where(SigningKey.kid == old.kid))
    assert stored is not None and stored.private_key_encrypted == b""  # never signs again
    key_store().invalidate()  # another process reads the recorded state: still gone
    assert old.kid not in published(client)


def test_keys_list_shows_each_key_and_its_state(runner: FlaskCliRunner, clock: Clock) -> None:
    new = rotate(runner, "--alg", "ES256", "--publish-delay", "600")
    rows = listed(runner)

    assert rows[new["kid"]]["state"] == "next"
    assert {row["alg"] for row in rows.values() if row["state"] == "active"} == {
        "RS256", "ES256"}
    assert set(rows[new["kid"]]) >= {"kid", "alg", "state", "created_at", "activates_at",
                                     "retired_at"}
    text = runner.invoke(args=["keys", "list"]).stdout
    line = next(line for line in text.splitlines() if line.startswith(new["kid"]))
    assert line.split("\t")[:3] == [new["kid"], "ES256", "next"]


@dataclass(frozen=True)
class Times:
    kid: str
    alg: str
    activates_at: datetime
    removed_at: datetime | None = None


def test_states_follow_from_the_times_alone() -> None:
    start = utcnow()
    keys = [Times("a", "RS256", start), Times("b", "RS256", start + HOUR),
            Times("c", "ES256", start)]

    def states(at: datetime) -> dict[str, str]:
        return {kid: s.state for kid, s in derive_states(keys, at, HOUR).items()}

    assert states(start) == {"a": "active", "b": "next", "c": "active"}
    assert states(start + HOUR) == {"a": "retired", "b": "active", "c": "active"}
    assert states(start + 2 * HOUR) == {"a": "removed", "b": "active", "c": "active"}


def test_a_scheduled_rotation_happens_only_once_the_active_key_is_old(
        client: FlaskClient, runner: FlaskCliRunner, clock: Clock) -> None:
    """``idp keys rotate --if-older-than DAYS``, as the container's scheduler runs it
    every hour: nothing while the active key is young or a new key is waiting."""
    fresh = rotate(runner, "--alg", "ES256", "--publish-delay", "0")
    clock.now += timedelta(days=30) - timedelta(seconds=1)

    young = rotate(runner, "--alg", "ES256", "--if-older-than", "30")
    assert young == young | {"kid": fresh["kid"], "state": "active", "rotated": False}
    assert key_store().signing_key("ES256").kid == fresh["kid"]

    clock.now += timedelta(seconds=1)
    new = rotate(runner, "--alg", "ES256", "--if-older-than", "30")
    assert new["state"] == "next" and new["replaces"] == fresh["kid"]
    assert new["kid"] in published(client)

    waiting = runner.invoke(args=["keys", "rotate", "--alg", "ES256", "--if-older-than", "30"])
    assert waiting.exit_code == 0  # not an error: the rotation is under way
    assert waiting.stdout == f"no rotation: ES256 key {new['kid']} is waiting to activate\n"
    assert {row["kid"] for row in listed(runner).values() if row["state"] == "next"} == {
        new["kid"]}


def test_a_scheduled_rotation_says_why_it_waits(runner: FlaskCliRunner, clock: Clock) -> None:
    fresh = rotate(runner, "--alg", "RS256", "--publish-delay", "0")

    result = runner.invoke(args=["keys", "rotate", "--if-older-than", "90"])

    assert result.exit_code == 0
    assert result.stdout == (f"no rotation: RS256 key {fresh['kid']} has signed since "
                             f"{fresh['activates_at']}, less than 90 days\n")


@pytest.mark.parametrize("days", ["0", "-3", "ninety"])
def test_a_scheduled_rotation_needs_a_positive_number_of_days(runner: FlaskCliRunner,
                                                               days: str) -> None:
    result = runner.invoke(args=["keys", "rotate", "--if-older-than", days])

    assert result.exit_code == 2
    assert "--if-older-than" in result.output
