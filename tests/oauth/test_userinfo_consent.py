"""Userinfo reads the token and the consent in force in one query (issue 13): what the
platform gets still follows the consent of this very moment, whether it is in force,
narrowed, ended or outdated."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask

from consent import records
from consent.models import ConsentRecord
from idp.accounts.models import User
from idp.extensions import db, utcnow
from tests.browser import Browser
from tests.factories import Platform, Traveller
from tests.tokens import issue_tokens, userinfo


def history(platform: Platform) -> list[str]:
    return [r.event_type for r in db.session.scalars(
        db.select(ConsentRecord).where(ConsentRecord.client_id == platform.client_id)
        .order_by(ConsentRecord.id))]


def traveller(user: Traveller) -> User:
    return db.session.get(User, user.model.id)


def test_the_consent_in_force_releases_its_claims(logged_in: Browser,
                                                  platform: Platform, user: Traveller) -> None:
    tokens = issue_tokens(logged_in, platform, scope="openid email")
    answer = userinfo(logged_in.client, tokens["access_token"])
    assert answer.status_code == 200 and answer.get_json()["email"] == user.email


def test_a_scope_withdrawn_after_the_token_is_no_longer_released(
        logged_in: Browser, platform: Platform, user: Traveller) -> None:
    tokens = issue_tokens(logged_in, platform, scope="openid email")
    assert records.narrow(traveller(user), platform.client_id, "email") is not None
    db.session.commit()
    answer = userinfo(logged_in.client, tokens["access_token"])
    assert answer.status_code == 200 and "email" not in answer.get_json()
    assert "sub" in answer.get_json()


def test_an_outdated_consent_releases_nothing_and_its_end_is_recorded(
        app: Flask, logged_in: Browser, platform: Platform, user: Traveller) -> None:
    tokens = issue_tokens(logged_in, platform, scope="openid email")
    record = records.current(traveller(user).id, platform.client_id)
    assert record is not None
    record.valid_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    answer = userinfo(logged_in.client, tokens["access_token"])
    assert answer.status_code == 200 and set(answer.get_json()) == {"sub"}
    assert history(platform) == ["given", "expired"]
    # Once ended, it stays ended: no second "expired" record at the next call.
    assert set(userinfo(logged_in.client, tokens["access_token"]).get_json()) == {"sub"}
    assert history(platform) == ["given", "expired"]
