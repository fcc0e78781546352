"""Several outbox workers on one PostgreSQL database (issue 11, part 3): each message is
delivered exactly once, and a worker never waits for the rows another one is claiming
(``idp.outbox.claim_due``: ``FOR UPDATE SKIP LOCKED``). PostgreSQL only: SQLite's
writers take turns on the whole file, so there is no race to win there.

The workers run ``idp outbox work`` as an operator would, with IDP_ENV=development:
production refuses to post to loopback addresses (``idp.outbound``), and the platform
listening here is on loopback."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from idp import outbox
from idp.extensions import db, utcnow
from idp.oauth.backchannel import KIND, create_logout_token
from idp.outbox import OutboxMessage
from tests import factories
from tests.outbox_listener import listener
from tests.servers import BIN, ROOT, production_environ

MESSAGES = 300  # three batches of idp.outbox.BATCH
DEADLINE = 60.0
POLL = 0.05


@pytest.fixture
def postgresql_only(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("row locks and concurrent workers are PostgreSQL's; SQLite has neither")


def queue_messages(base: str, count: int) -> list[str]:
    """``count`` due logout messages, each to a path of its own; their paths."""
    traveller = factories.make_user()
    platform = factories.make_platform()
    token = create_logout_token(traveller.model, platform.model)
    paths = [f"/logout/{n}" for n in range(count)]
    for path in paths:
        outbox.queue(KIND, platform.client_id, base + path, token,
                     subject=traveller.model.subject, reason="logout")
    db.session.commit()
    return paths


def test_a_drain_passes_over_rows_another_is_claiming(app: Flask, postgresql_only: None) -> None:
    """Another transaction holds two due rows (a drain in the middle of its claim): this
    drain takes the others at once instead of waiting for it (it would time out)."""
    queue_messages("http://127.0.0.1:9", 5)
    ids = db.session.scalars(sa.select(OutboxMessage.id).order_by(OutboxMessage.id)).all()
    db.session.commit()
    with db.engine.connect() as other:
        other.execute(sa.select(OutboxMessage.id).where(OutboxMessage.id.in_(ids[:2]))
                      .with_for_update())
        db.session.execute(sa.text("SET LOCAL lock_timeout = '2s'"))
        claimed = outbox.claim_due(utcnow() + timedelta(seconds=1), 100)
        other.rollback()

    assert [message.id for message in claimed] == ids[2:]


@pytest.fixture
def workers(app: Flask, database_url: str, postgresql_only: None,
            tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Two ``idp outbox work`` processes, running (their first line printed)."""
    environ = production_environ(database_url, 0, IDP_ENV="development",
                                 PYTHONUNBUFFERED="1")
    environ.pop("IDP_BIND")
    processes = []
    for name in ("one", "two"):
        with (tmp_path / f"{name}.log").open("wb") as out:
            processes.append(subprocess.Popen(
                [str(BIN / "idp"), "outbox", "work", "--interval", "0.1"], env=environ,
                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
    try:
        for name in ("one", "two"):
            log = tmp_path / f"{name}.log"
            wait_for(partial(printed, log, "delivering every"), f"worker {name} did not start")
        yield processes
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def printed(log: Path, line: str) -> bool:
    return line in log.read_text()


def wait_for(condition: Callable[[], bool], message: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(POLL)


def delivered_by(log: Path) -> int:
    return sum(int(n) for n in re.findall(r"delivered=(\d+)", log.read_text()))


def test_two_workers_deliver_each_message_exactly_once(
        app: Flask, workers: list[subprocess.Popen[bytes]], tmp_path: Path) -> None:
    with listener() as (base, deliveries):
        paths = queue_messages(base, MESSAGES)
        wait_for(lambda: db.session.scalar(sa.select(sa.func.count(OutboxMessage.id))
                                           .where(OutboxMessage.delivered_at.is_not(None)))
                 == MESSAGES, "the messages were not all delivered")
        for process in workers:
            process.send_signal(signal.SIGINT)
            assert process.wait(15) == 0
    counts = [delivered_by(tmp_path / f"{name}.log") for name in ("one", "two")]

    assert deliveries.paths == dict.fromkeys(paths, 1)
    assert sum(counts) == MESSAGES
    assert min(counts) > 0, counts  # both took part: they raced over the same rows
    assert "Traceback" not in (tmp_path / "one.log").read_text() + (
        tmp_path / "two.log").read_text()
