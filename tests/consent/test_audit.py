"""The audit log: each consent event chained to the one before by a hash, so that the
operator can prove what happened and sees at once when someone rewrote history."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from flask import Flask

from consent import audit
from consent.audit import GENESIS, AuditEvent, record
from idp.extensions import db
from tests import factories
from tests.factories import Traveller

START = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
CLIENT_ID = "carpool-42"


class Clock:
    """The audit log's clock, frozen; a test moves it on by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    frozen = Clock(START)
    monkeypatch.setattr(audit, "utcnow", frozen)
    return frozen


def on_postgresql() -> bool:
    return db.engine.dialect.name == "postgresql"


def grant(user: Traveller, scopes: list[str] | None = None) -> AuditEvent:
    return record(audit.CONSENT_GRANTED, user=user.model, client_id=CLIENT_ID,
                  data={"scopes": scopes or ["openid", "email"]})


def a_few_events(user: Traveller, count: int = 3) -> list[AuditEvent]:
    events = [grant(user, ["openid", f"scope{n}"]) for n in range(count)]
    db.session.commit()
    return events


def stored_events() -> list[AuditEvent]:
    return list(db.session.scalars(db.select(AuditEvent).order_by(AuditEvent.id)))


def tamper(sql: str, **params: Any) -> None:
    """What someone with the database owner's rights can still do: switch the append-only
    triggers off, rewrite the table, switch them on again."""
    db.session.commit()
    with db.engine.begin() as conn:
        if on_postgresql():
            conn.execute(sa.text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
        conn.execute(sa.text(sql), params)
        if on_postgresql():
            conn.execute(sa.text("ALTER TABLE audit_event ENABLE TRIGGER USER"))


def invoke(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(args=["audit", *args])


def error_line(result: Result) -> str:
    assert result.exit_code == 1
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ")
    return line


def test_each_event_is_chained_to_the_one_before(user: Traveller) -> None:
    events = a_few_events(user)

    assert [e.prev_hash for e in events] == [GENESIS, events[0].hash, events[1].hash]
    second = events[1]
    content = {"prev_hash": second.prev_hash, "event_type": "consent:granted",
               "occurred_at": second.occurred_at.astimezone(UTC).isoformat(
                   timespec="microseconds"),
               "subject": second.subject, "client_id": CLIENT_ID,
               "data": {"scopes": ["openid", "scope1"]}}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
    assert second.hash == hashlib.sha256(canonical.encode()).hexdigest()


def test_verify_says_ok_for_an_intact_chain(runner: CliRunner, user: Traveller) -> None:
    events = a_few_events(user)

    result = invoke(runner, "verify")
    as_json = invoke(runner, "verify", "--json")

    assert result.exit_code == 0, result.output
    assert result.stdout == "ok: 3 events\n"
    assert json.loads(as_json.stdout) == {"ok": True, "events": 3, "head": events[-1].hash,
                                          "broken_id": None, "reason": None}


def test_verify_says_ok_for_an_empty_log(runner: CliRunner) -> None:
    result = invoke(runner, "verify")

    assert (result.exit_code, result.stdout) == (0, "ok: 0 events\n")


def test_verify_names_a_row_edited_in_the_database(runner: CliRunner, user: Traveller) -> None:
    events = a_few_events(user)
    widened = json.dumps({"scopes": ["openid", "address"]})
    edit = "UPDATE audit_event SET data = :data WHERE id = :id"
    if on_postgresql():
        with pytest.raises(sa.exc.DBAPIError, match="audit_event is append-only"):
            db.session.execute(sa.text(edit), {"data": widened, "id": events[1].id})
        db.session.rollback()

    tamper(edit, data=widened, id=events[1].id)
    result = invoke(runner, "verify")

    assert result.exit_code == 1
    assert result.stdout.startswith(f"broken: event {events[1].id}: hash mismatch")


@pytest.mark.parametrize("statement", [
    "UPDATE audit_event SET client_id = 'someone-else'",
    "DELETE FROM audit_event",
    "TRUNCATE audit_event",
])
def test_postgresql_refuses_to_rewrite_the_log(user: Traveller, statement: str) -> None:
    if not on_postgresql():
        pytest.skip("the database itself guards the log on PostgreSQL only")
    a_few_events(user, 1)

    with pytest.raises(sa.exc.DBAPIError, match="audit_event is append-only"):
        db.session.execute(sa.text(statement))
    db.session.rollback()

    assert len(stored_events()) == 1
    assert audit.verify().ok


def test_the_prune_setting_lets_deletes_through_but_never_updates(user: Traveller) -> None:
    if not on_postgresql():
        pytest.skip("the database itself guards the log on PostgreSQL only")
    a_few_events(user, 1)

    db.session.execute(sa.text("SET LOCAL idp.audit_prune = 'on'"))
    with pytest.raises(sa.exc.DBAPIError, match="append-only: UPDATE refused"):
        db.session.execute(sa.text("UPDATE audit_event SET client_id = 'someone-else'"))
    db.session.rollback()
    db.session.execute(sa.text("SET LOCAL idp.audit_prune = 'on'"))
    db.session.execute(sa.text("DELETE FROM audit_event"))

    assert stored_events() == []


@pytest.mark.parametrize("deleted", [0, 1, 2])
def test_verify_names_the_event_after_a_deleted_one(
    runner: CliRunner, user: Traveller, monkeypatch: pytest.MonkeyPatch, deleted: int
) -> None:
    monkeypatch.setattr(audit, "BATCH_SIZE", 2)  # the gap falls inside and across batches
    events = a_few_events(user, 5)

    tamper("DELETE FROM audit_event WHERE id = :id", id=events[deleted].id)
    result = invoke(runner, "verify", "--json")

    assert result.exit_code == 1
    assert json.loads(result.stdout) == {
        "ok": False, "events": deleted, "head": events[deleted - 1].hash if deleted else None,
        "broken_id": events[deleted + 1].id, "reason": "prev_hash mismatch",
    }


def test_prune_removes_old_events_and_keeps_the_chain_verifiable(
    runner: CliRunner, user: Traveller, clock: Clock
) -> None:
    last_old = a_few_events(user, 2)[-1]
    last_old_id, last_old_hash = last_old.id, last_old.hash
    clock.advance(days=10)
    recent = [event.id for event in a_few_events(user, 2)]

    result = invoke(runner, "prune", "--before", "2025-03-05")

    kept = stored_events()
    checkpoint = kept[-1]
    assert result.exit_code == 0, result.output
    assert result.stdout == (f"pruned 2 events before 2025-03-05 "
                             f"(checkpoint: event {checkpoint.id})\n")
    assert [e.id for e in kept[:-1]] == recent
    assert checkpoint.event_type == "audit:checkpoint"
    assert checkpoint.subject is None
    assert checkpoint.data == {"before": "2025-03-05T00:00:00+00:00", "removed": 2,
                               "last_removed_id": last_old_id, "last_removed_hash": last_old_hash}
    assert invoke(runner, "verify").stdout == "ok: 3 events\n"
    assert [e["id"] for e in audit.export(user.model)] == recent


def test_a_later_prune_chains_to_the_newest_checkpoint(user: Traveller, clock: Clock) -> None:
    a_few_events(user, 2)
    clock.advance(days=10)
    first = audit.prune(START + timedelta(days=5))
    clock.advance(days=10)
    newest = a_few_events(user, 1)[0]

    second = audit.prune(clock.now - timedelta(days=1))

    assert (first.removed, second.removed) == (2, 1)  # the first checkpoint went too
    assert [e.id for e in stored_events()] == [newest.id, second.checkpoint_id]
    assert audit.verify() == audit.ChainReport(2, stored_events()[-1].hash)


def test_prune_with_nothing_old_enough_writes_no_checkpoint(
    runner: CliRunner, user: Traveller, clock: Clock
) -> None:
    a_few_events(user, 2)

    result = invoke(runner, "prune", "--before", "2025-03-01", "--json")

    assert json.loads(result.stdout) == {"removed": 0, "before": "2025-03-01T00:00:00+00:00",
                                         "checkpoint_id": None, "last_removed_hash": None}
    assert len(stored_events()) == 2


def test_prune_refuses_to_erase_a_broken_chain(
    runner: CliRunner, user: Traveller, clock: Clock
) -> None:
    events = a_few_events(user, 2)
    clock.advance(days=10)
    tamper("UPDATE audit_event SET client_id = NULL WHERE id = :id", id=events[0].id)

    result = invoke(runner, "prune", "--before", "2025-03-05")

    assert error_line(result) == (f"error: the chain is broken at event {events[0].id} "
                                  "(hash mismatch); nothing pruned")
    assert len(stored_events()) == 2


@pytest.mark.parametrize(("day", "error"), [
    ("2999-01-01", "error: the cut date is in the future: only past events can be pruned"),
    ("2025-02-30", "error: --before: 2025-02-30 is not a date"),
    ("01/03/2025", "error: --before must be a date written YYYY-MM-DD"),
    ("2025-3-1", "error: --before must be a date written YYYY-MM-DD"),
    ("20250301", "error: --before must be a date written YYYY-MM-DD"),
    ("last year", "error: --before must be a date written YYYY-MM-DD"),
])
def test_prune_refuses_a_future_or_malformed_date(
    runner: CliRunner, user: Traveller, clock: Clock, day: str, error: str
) -> None:
    a_few_events(user, 1)

    result = invoke(runner, "prune", "--before", day)

    assert error_line(result) == error
    assert len(stored_events()) == 1


def test_the_subject_is_a_keyed_pseudonym_never_the_email(user: Traveller) -> None:
    other = factories.make_user()
    grant(user)
    record(audit.CONSENT_REVOKED, subject=user.model.subject, client_id=CLIENT_ID)
    grant(other)
    db.session.commit()

    rows = db.session.execute(sa.text("SELECT * FROM audit_event ORDER BY id")).all()

    stored = " ".join(str(value) for row in rows for value in row)
    for identifying in (user.email, other.email, "Umberto", "Rossi", user.model.subject):
        assert identifying not in stored
    mine, also_mine, theirs = (row.subject for row in rows)
    assert mine == also_mine == audit.subject_pseudonym(user.model)
    assert theirs != mine
    assert mine != hashlib.sha256(user.model.subject.encode()).hexdigest()  # keyed


@pytest.mark.parametrize(("event_type", "options"), [
    ("consent:approved", {}),  # not a tag of the log
    ("audit:checkpoint", {"data": {"last_removed_hash": GENESIS}}),  # prune's alone
    ("consent:granted", {"subject": "also-given"}),  # two travellers?
    ("consent:granted", {"data": {"at": datetime(2025, 1, 1, tzinfo=UTC)}}),  # not JSON
])
def test_record_refuses_what_the_log_cannot_hold(
    user: Traveller, event_type: str, options: dict[str, Any]
) -> None:
    with pytest.raises((ValueError, TypeError)):
        record(event_type, user=user.model, **options)

    assert stored_events() == []


def test_record_refuses_the_travellers_email_in_the_data(user: Traveller) -> None:
    with pytest.raises(ValueError, match="email"):
        record(audit.DATA_EXPORTED, user=user.model,
               data={"sent_to": user.email.upper()})

    assert stored_events() == []


def test_record_leaves_the_commit_to_the_caller(user: Traveller) -> None:
    user.model.nickname = "Bertie"
    event = grant(user)

    assert event.id is not None  # flushed in the caller's transaction...
    with db.engine.connect() as elsewhere:  # ...and seen nowhere else
        assert elsewhere.scalar(sa.text("SELECT count(*) FROM audit_event")) == 0
    db.session.rollback()

    assert stored_events() == []
    assert user.model.nickname is None


def can_take_the_append_lock() -> bool:
    engine = sa.create_engine(db.engine.url, connect_args={"timeout": 0}
                              if db.engine.dialect.name == "sqlite" else {})
    try:
        with engine.connect() as elsewhere:
            if on_postgresql():
                return bool(elsewhere.scalar(sa.select(
                    sa.func.pg_try_advisory_xact_lock(audit.LOCK_KEY))))
            try:
                elsewhere.exec_driver_sql("BEGIN IMMEDIATE")
            except sa.exc.OperationalError:
                return False
            elsewhere.exec_driver_sql("ROLLBACK")
            return True
    finally:
        engine.dispose()


def test_an_append_holds_the_lock_until_the_transaction_ends(user: Traveller) -> None:
    assert can_take_the_append_lock()
    record(audit.DATA_EXPORTED, user=user.model)

    assert not can_take_the_append_lock()  # a second append would chain to the same event
    db.session.commit()
    assert can_take_the_append_lock()


def test_concurrent_appends_keep_a_single_chain(app: Flask, user: Traveller) -> None:
    subject = user.model.subject

    def append_a_few() -> None:
        with app.app_context():
            for _ in range(10):
                record(audit.BACKCHANNEL_ATTEMPT, subject=subject, data={"status": 200})
                db.session.commit()

    workers = [threading.Thread(target=append_a_few) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert audit.verify() == audit.ChainReport(40, stored_events()[-1].hash)


def test_export_prints_a_travellers_events_as_json_lines(
    runner: CliRunner, user: Traveller
) -> None:
    mine = a_few_events(user, 2)
    grant(factories.make_user())
    db.session.commit()

    result = invoke(runner, "export", "--subject", user.email.upper())

    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["id"] for line in lines] == [e.id for e in mine]
    assert lines[1] == {
        "id": mine[1].id, "event_type": "consent:granted",
        "occurred_at": mine[1].occurred_at.isoformat(timespec="microseconds"),
        "subject": audit.subject_pseudonym(user.model), "client_id": CLIENT_ID,
        "data": {"scopes": ["openid", "scope1"]},
        "prev_hash": mine[0].hash, "hash": mine[1].hash,
    }
    assert user.email not in result.stdout
    assert list(audit.export(audit.subject_pseudonym(user.model))) == lines  # after deletion


def test_export_refuses_an_unknown_email(runner: CliRunner) -> None:
    result = invoke(runner, "export", "--subject", "nobody@example.org")

    assert error_line(result) == "error: no traveller has this email address"
