"""A transactional outbox: a message to a platform is written in the transaction of the
change that causes it, so it exists if and only if that change does; it is delivered
outside the request, retried with exponential backoff, and given up after a while.

Delivery runs in a background thread woken after the commit (one per app, one pass at a
time), and in ``idp outbox work`` for production; ``idp outbox drain`` makes one pass.
Several of them may run at once: each claims the messages it sends with a short lease."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from blinker import NamedSignal
from flask import Flask, current_app, has_app_context
from sqlalchemy import ForeignKey, String, Text, event, func, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from idp import outbound
from idp.extensions import db, utcnow
from idp.types import UTCDateTime

# The worker is outside any request: it may wait a while for a free outbound slot.
SLOT_WAIT = 5.0
LEASE = timedelta(seconds=60)  # a claimed message is due again if its drain died
RETRY_BASE = 30  # seconds before the first retry, doubled at each further one
RETRY_CAP = 3600
MAX_ATTEMPTS = 8  # about an hour of attempts, then the message is dead
BATCH = 100
DELIVERED = (200, 204)  # Back-Channel Logout 1.0 2.8 expects 200; some frameworks send 204
QUEUED = "idp.outbox.queued"  # a session.info flag: this transaction added messages


class OutboxMessage(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    client_id: Mapped[str] = mapped_column(
        ForeignKey("client.client_id", ondelete="CASCADE"), index=True
    )
    # Plain values, not a foreign key: deleting the account must not cancel its logouts.
    subject: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(32))
    target_uri: Mapped[str] = mapped_column(String(500))
    # The signed token: short-lived, stored nowhere else, never logged, and cleared once
    # the message is delivered or dead.
    payload: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    # None once delivered or dead, so that the index holds only what is pending.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(200))  # a status or an error class
    dead: Mapped[bool] = mapped_column(default=False)


@dataclass(frozen=True)
class Kind:
    """How to send one kind of message: the form field that carries the payload (or the
    media type of a payload sent as the body), the signal each attempt sends, the
    statuses that mean it arrived, and ``renew``, which returns the payload to send at a
    given time (a token signed afresh if the stored one would arrive expired)."""

    name: str
    field: str | None
    signal: NamedSignal
    renew: Callable[[str, datetime], str]
    # None: a form whose ``field`` carries the payload; else the payload is the whole
    # body, of this media type (a Security Event Token, RFC 8935 2).
    media_type: str | None = None
    # The statuses that mean "received": each protocol has its own.
    delivered: tuple[int, ...] = DELIVERED


class Outbox:
    """Per-app state: the kinds of message and the background worker."""

    def __init__(self) -> None:
        self.kinds: dict[str, Kind] = {}
        self.worker = Worker()


def queue(kind: str, client_id: str, target_uri: str, payload: str, *, subject: str | None,
          reason: str, now: datetime | None = None) -> OutboxMessage:
    """Add a message to the caller's transaction, due at once; nothing is committed here."""
    message = OutboxMessage(kind=kind, client_id=client_id, target_uri=target_uri,
                            payload=payload, subject=subject, reason=reason,
                            next_attempt_at=now or utcnow())
    db.session.add(message)
    db.session.info[QUEUED] = True
    return message


def deliver_due(now: datetime | None = None, session: requests.Session | None = None,
                limit: int = BATCH) -> Counter[str]:
    """One pass: claim the messages due at ``now``, post each one, record each outcome.
    Returns how many were delivered, are retrying, are dead (or failed to be recorded)."""
    now = now or utcnow()
    http = session or outbound.new_session()
    outcomes: Counter[str] = Counter()
    try:
        for message in claim_due(now, limit):
            outcomes[attempt(message, now, http)] += 1
    finally:
        if session is None:
            http.close()
    return outcomes


def claim_due(now: datetime, limit: int) -> Sequence[OutboxMessage]:
    """Take a lease on the due messages, atomically: of two drains, only one gets each.

    On PostgreSQL the due rows are picked with ``FOR UPDATE SKIP LOCKED``: a drain passes
    over the rows another drain is claiming instead of queueing behind its transaction,
    so that several workers share a backlog side by side. SQLite has no row locks (its
    writers take turns on the whole database), so it needs no such clause. On both, the
    update checks again that each row is still due: a row leased in the meantime is not
    taken twice."""
    due = (db.select(OutboxMessage.id).where(OutboxMessage.next_attempt_at <= now)
           .order_by(OutboxMessage.next_attempt_at).limit(limit))
    if db.session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = db.session.scalars(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(due.scalar_subquery()), OutboxMessage.next_attempt_at <= now)
        .values(next_attempt_at=now + LEASE)
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    ).all()
    db.session.commit()
    if not ids:
        return []
    return db.session.scalars(
        db.select(OutboxMessage).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id)
    ).all()


def attempt(message: OutboxMessage, now: datetime, http: requests.Session) -> str:
    """Send one message, then record the outcome and tell the signal's listeners, in one
    transaction. If that fails, the attempt still counts, so that a message that always
    fails ends dead instead of coming back at every lease."""
    message_id, client_id = message.id, message.client_id
    try:
        outcome, number, detail = send(message, now, http)
        db.session.commit()
    except Exception as exc:
        db.session.rollback()
        # The class name only: a database error's text would quote the token it stored.
        error = type(exc).__name__
        current_app.logger.error("outbox: message %s to %s not recorded (%s)",
                                 message_id, client_id, error)
        count_failure(message_id, now, error)
        return "failed"
    current_app.logger.info("outbox: message %s to %s %s at attempt %s (%s)",
                            message_id, client_id, outcome, number, detail)
    return outcome


def send(message: OutboxMessage, now: datetime,
         http: requests.Session) -> tuple[str, int, str]:
    kind: Kind = current_app.extensions["idp.outbox"].kinds[message.kind]
    if message.payload is None:
        raise ValueError("a pending message without its payload")
    message.payload = kind.renew(message.payload, now)
    status, error = post(http, message.target_uri, kind, message.payload)
    outcome = record(message, now, error)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    kind.signal.send(app, message_id=message.id, client_id=message.client_id,
                     subject=message.subject, reason=message.reason, outcome=outcome,
                     status=status, attempt=message.attempts, at=now)
    return outcome, message.attempts, error or str(status)


def count_failure(message_id: int, now: datetime, error: str) -> None:
    try:
        message = db.session.get(OutboxMessage, message_id)
        if message is not None and message.next_attempt_at is not None:
            record(message, now, error)
            db.session.commit()
    except Exception:  # the database itself fails: the lease brings the message back
        db.session.rollback()


def post(http: requests.Session, uri: str, kind: Kind,
         payload: str) -> tuple[int | None, str | None]:
    """POST the payload through the outbound guard (``idp.outbound``: no internal
    address, no redirect, bounded time); return the status and, unless delivered, a short
    error for the operator (never sent back to the platform)."""
    try:
        if kind.media_type is None:
            status = outbound.post_form(uri, {str(kind.field): payload}, session=http,
                                        wait=SLOT_WAIT)
        else:
            status = outbound.post_body(uri, payload, kind.media_type, session=http,
                                        wait=SLOT_WAIT)
    except outbound.FetchError as error:
        return None, error.reason
    if status in kind.delivered:
        return status, None
    return status, f"HTTP {status}"


def record(message: OutboxMessage, now: datetime, error: str | None) -> str:
    message.attempts += 1
    message.last_error = error[:200] if error else None
    if error is not None and message.attempts < MAX_ATTEMPTS:
        message.next_attempt_at = now + backoff(message.attempts)
        return "retrying"
    # Delivered or dead: nothing more will be sent, so the token is not kept.
    message.next_attempt_at, message.payload = None, None
    if error is None:
        message.delivered_at = now
        return "delivered"
    message.dead = True
    return "dead"


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failure: 30 s, 1 min, 2 min... at most an hour."""
    return timedelta(seconds=min(RETRY_BASE * 2 ** (attempts - 1), RETRY_CAP))


def next_due(now: datetime) -> float | None:
    """Seconds until the next pending message is due (0 if one is), None if none is."""
    first = db.session.scalar(db.select(func.min(OutboxMessage.next_attempt_at)))
    if first is None:
        return None
    return max((first - now).total_seconds(), 0.0)


class Worker:
    """The app's background drainer. Woken after a commit that queued messages, it makes
    a pass, waits until the next retry is due, and ends when nothing is pending. The
    lock keeps one thread, hence one pass, at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self, app: Flask) -> None:
        self._wake.set()
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, args=(app,),
                                                name="idp-outbox", daemon=True)
                self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the current thread, if any, to end (shutdown, tests)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self, app: Flask) -> None:
        while True:
            self._wake.clear()
            pause = self._pass(app)
            if pause is not None:
                self._wake.wait(pause)
                continue
            with self._lock:
                if not self._wake.is_set():
                    self._thread = None
                    return

    @staticmethod
    def _pass(app: Flask) -> float | None:
        with app.app_context():
            try:
                deliver_due()
                return next_due(utcnow())
            except Exception as exc:  # the thread ends; the next commit starts another
                app.logger.error("outbox: background pass failed (%s)", type(exc).__name__)
                return None


def wake() -> None:
    """Start the background delivery, unless turned off (``OUTBOX_WORKER``)."""
    outbox: Outbox | None = current_app.extensions.get("idp.outbox")
    if outbox is not None and current_app.config["OUTBOX_WORKER"]:
        outbox.worker.wake(current_app._get_current_object())  # type: ignore[attr-defined]


@event.listens_for(Session, "after_commit")
def _wake_after_commit(session: Session) -> None:
    # Only once the messages are committed: a rolled-back change tells no platform.
    if session.info.pop(QUEUED, False) and has_app_context():
        wake()


@event.listens_for(Session, "after_rollback")
def _forget_on_rollback(session: Session) -> None:
    session.info.pop(QUEUED, None)


def register_kind(app: Flask, kind: Kind) -> None:
    app.extensions["idp.outbox"].kinds[kind.name] = kind


def init_app(app: Flask) -> None:
    # Like Flask-Mail's suppression in tests: tests drain explicitly, with their own clock.
    app.config.setdefault("OUTBOX_WORKER", not app.testing)
    app.extensions["idp.outbox"] = Outbox()
    from idp.outbox_cli import outbox_cli

    app.cli.add_command(outbox_cli)
