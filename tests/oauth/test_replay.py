"""Single-use values (DPoP proofs, request objects' jti) are remembered in the database;
the expired ones are deleted at most once a minute per process, not at every use."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest
from joserfc import jws
from time_machine import TimeMachineFixture

from idp.extensions import db, utcnow
from idp.oauth.dpop import UsedProof
from idp.oauth.replay import PURGE_INTERVAL
from tests.browser import Browser
from tests.factories import Platform
from tests.oauth.test_dpop import (
    TOKEN_URL,
    USERINFO_URL,
    bound_tokens,
    make_proof,
    new_key,
    userinfo,
)
from tests.oauth.test_public_refresh import make_mobile_app


@pytest.fixture
def mobile_app(app: Any) -> Platform:
    return make_mobile_app()


def add_expired_proof(name: str) -> None:
    db.session.add(UsedProof(proof_hash=name, expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()


def remaining(name: str) -> bool:
    db.session.expire_all()
    return db.session.scalar(db.select(UsedProof).where(UsedProof.proof_hash == name)) \
        is not None


def test_expired_proofs_are_purged_at_most_once_a_minute(
        logged_in: Browser, mobile_app: Platform, time_machine: TimeMachineFixture) -> None:
    key = new_key()
    add_expired_proof("stale-1")
    token = bound_tokens(logged_in, mobile_app, key)["access_token"]  # the first proof
    assert not remaining("stale-1")
    time_machine.move_to(time.time(), tick=False)  # signing keys exist: stop the clock
    add_expired_proof("stale-2")
    for _ in range(3):
        proof = make_proof(key, "GET", USERINFO_URL, token)
        assert userinfo(logged_in.client, token, proof).status_code == 200
    assert remaining("stale-2")  # no DELETE on these proofs' path
    time_machine.shift(PURGE_INTERVAL)
    proof = make_proof(key, "GET", USERINFO_URL, token)
    assert userinfo(logged_in.client, token, proof).status_code == 200
    assert not remaining("stale-2")


def test_a_replay_is_still_refused_between_purges(
        logged_in: Browser, mobile_app: Platform) -> None:
    key = new_key()
    token = bound_tokens(logged_in, mobile_app, key)["access_token"]
    proof = make_proof(key, "GET", USERINFO_URL, token)
    assert userinfo(logged_in.client, token, proof).status_code == 200
    assert userinfo(logged_in.client, token, proof).status_code == 401


def test_a_proof_whose_jti_is_not_text_is_refused(logged_in: Browser) -> None:
    # A lone surrogate, as JSON may escape it: refused, not a failure to hash it.
    key = new_key()
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=False)}
    claims = {"jti": "\ud800", "htm": "POST", "htu": TOKEN_URL, "iat": int(time.time())}
    proof = jws.serialize_compact(header, json.dumps(claims).encode(), key)
    response = logged_in.client.post("/token", headers={"DPoP": proof},
                                     data={"grant_type": "refresh_token", "refresh_token": "x"})
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_dpop_proof"
