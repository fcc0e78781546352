"""Prometheus metrics: what the provider does (requests, sign-ins, tokens, back-channel
deliveries) counted as it happens, and what it holds (the outbox, the signing keys) read
from the database at each scrape.

Counts come from signals, never from views: Flask's ``request_started`` and
``request_finished``, ``idp.signals``, and the ORM's events (``consent.metrics``). A
count tied to a change (a back-channel attempt, a consent) is made once its transaction
commits: a rolled-back change happened to nobody.

Under gunicorn each worker writes its counts to files in ``PROMETHEUS_MULTIPROC_DIR``
(prometheus_client's multiprocess mode, which ``idp.gunicorn_conf`` sets up), and a
scrape served by any worker sums them all. ``/metrics`` answers only a request bearing
``IDP_METRICS_TOKEN`` (RFC 6750 2.1): the traffic and the platforms' names are the
operator's business. Labels are bounded: an endpoint is the Flask endpoint's name
(never the path, which may hold a code), a method one of ``METHODS``."""

from __future__ import annotations

import hmac
import os
import threading
import time
from collections import Counter as Tally
from collections.abc import Iterable, Iterator
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    g,
    request,
    request_finished,
    request_started,
)
from flask.typing import ResponseReturnValue
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import Connection, event, func
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from idp.extensions import db, utcnow
from idp.health import probe_engine
from idp.keys import ACTIVE, NEXT, REMOVED, RETIRED, SigningKey, key_store
from idp.outbox import OutboxMessage
from idp.prepared import ISSUED
from idp.signals import backchannel_attempted, sign_in_attempted

bp = Blueprint("metrics", __name__)

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
TOKEN_ENDPOINT = "endpoints.token"
PENDING = "idp.metrics.pending"  # a session.info key: counts waiting for the commit
STARTED = "idp_metrics_started"  # a ``g`` attribute: when the request began

REQUESTS = Counter("idp_http_requests", "HTTP requests answered, by Flask endpoint, "
                   "method and status.", ["endpoint", "method", "status"])
LATENCY = Histogram("idp_http_request_duration_seconds", "Time to answer a request, by "
                    "Flask endpoint.", ["endpoint"])
LOGINS = Counter("idp_logins", "Sign-in steps by outcome (success, failure, throttled, "
                 "second_step) and factor (password, second-factor).", ["outcome", "factor"])
TOKENS = Counter("idp_tokens_issued", "Token responses issued at the token endpoint, by "
                 "grant type.", ["grant_type"])
BACKCHANNEL = Counter("idp_backchannel_attempts", "Back-channel logout deliveries "
                      "attempted, by outcome: delivered, retrying (failed, tried again "
                      "later), dead (failed, given up).", ["outcome"])


def count_on_commit(counter: Any, session: Session | None = None) -> None:
    """Increment ``counter`` (a labelled child) when the session's transaction commits."""
    (session or db.session()).info.setdefault(PENDING, []).append(counter)


@event.listens_for(Session, "after_commit")
def _count_committed(session: Session) -> None:
    for counter in session.info.pop(PENDING, []):
        counter.inc()


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(PENDING, None)


def start_timer(sender: Flask, **_: Any) -> None:
    setattr(g, STARTED, time.perf_counter())


def observe_request(sender: Flask, response: Response, **_: Any) -> None:
    """One request answered: its endpoint, method and status, its duration; at the token
    endpoint, a 200 is a token response (only a supported grant gets one, so the grant
    type is one of the server's, never a string of the client's choosing)."""
    endpoint = request.endpoint or "unmatched"
    method = request.method if request.method in METHODS else "other"
    started = g.get(STARTED)
    count_request(endpoint, method, str(response.status_code),
                  None if started is None else time.perf_counter() - started)
    if endpoint == TOKEN_ENDPOINT and response.status_code == 200:
        TOKENS.labels(request.form.get("grant_type", "")).inc()


def count_prepared(endpoint: str, method: str, status: str, seconds: float,
                   environ: dict[str, Any]) -> None:
    """An answer ``idp.prepared`` gave: as Flask's, a token it issued included."""
    count_request(endpoint, method, status, seconds)
    if ISSUED in environ:
        TOKENS.labels(environ[ISSUED]).inc()


# Each series' child, by its labels: ``labels()`` checks and looks them up under a lock
# at every call, for the same few dozen series (endpoints, methods, statuses). It hands
# out the same child each time, and nothing here removes one, so keeping it is the same.
_COUNTED: dict[tuple[str, str, str], Any] = {}
_TIMED: dict[str, Any] = {}


def count_request(endpoint: str, method: str, status: str, seconds: float | None) -> None:
    """Flask's answers (``observe_request``), and those ``idp.prepared`` replays."""
    labels = (endpoint, method, status)
    counter = _COUNTED.get(labels)
    if counter is None:
        counter = _COUNTED.setdefault(labels, REQUESTS.labels(*labels))
    counter.inc()
    if seconds is not None:
        timer = _TIMED.get(endpoint)
        if timer is None:
            timer = _TIMED.setdefault(endpoint, LATENCY.labels(endpoint))
        timer.observe(seconds)


def count_sign_in(sender: Flask, *, outcome: str, factor: str, **_: Any) -> None:
    LOGINS.labels(outcome, factor).inc()


def count_backchannel(sender: Flask, *, outcome: str, **_: Any) -> None:
    count_on_commit(BACKCHANNEL.labels(outcome))


class StateCollector:
    """What the database holds, read at each scrape (in the scraping request): pending
    outbox messages and the age of the oldest, and the signing keys by state and alg."""

    def describe(self) -> Iterable[Metric]:
        return self.families()

    def collect(self) -> Iterable[Metric]:
        # The readiness probe's engine: short timeouts, no pool, not the request's session.
        try:
            with probe_engine().connect() as connection:
                return self.families(self.outbox(connection), self.keys(connection))
        except SQLAlchemyError:
            return []  # the counters are still worth serving while the database is away

    @staticmethod
    def families(outbox: tuple[int, float] = (0, 0.0),
                 keys: Tally[tuple[str, str]] | None = None) -> list[Metric]:
        pending = GaugeMetricFamily("idp_outbox_pending_messages",
                                    "Outbox messages waiting to be delivered.")
        pending.add_metric([], outbox[0])
        age = GaugeMetricFamily("idp_outbox_oldest_pending_age_seconds",
                                "Age of the oldest outbox message still waiting (0: none).")
        age.add_metric([], outbox[1])
        states = GaugeMetricFamily("idp_signing_keys", "Signing keys by state and alg.",
                                   labels=["state", "alg"])
        for (state, alg), count in sorted((keys or Tally()).items()):
            states.add_metric([state, alg], count)
        return [pending, age, states]

    @staticmethod
    def outbox(connection: Connection) -> tuple[int, float]:
        count, oldest = connection.execute(
            db.select(func.count(OutboxMessage.id), func.min(OutboxMessage.created_at))
            .where(OutboxMessage.next_attempt_at.is_not(None))).one()
        age = (utcnow() - oldest).total_seconds() if oldest is not None else 0.0
        return int(count), max(0.0, age)

    @staticmethod
    def keys(connection: Connection) -> Tally[tuple[str, str]]:
        rows = connection.execute(db.select(SigningKey.kid, SigningKey.alg,
                                            SigningKey.activates_at,
                                            SigningKey.removed_at)).all()
        states = key_store().states(rows)  # type: ignore[arg-type]
        tally: Tally[tuple[str, str]] = Tally(
            {(state, alg): 0 for alg in {r.alg for r in rows}
             for state in (NEXT, ACTIVE, RETIRED, REMOVED)})
        tally.update((states[row.kid].state, row.alg) for row in rows)
        return tally


class ProcessCollector:
    """This process's own metrics (outside gunicorn: ``flask run``, the tests)."""

    def collect(self) -> Iterator[Metric]:
        return iter(REGISTRY.collect())


def scrape_registry() -> CollectorRegistry:
    """Every worker's counts when they write to ``PROMETHEUS_MULTIPROC_DIR``, this
    process's otherwise; then the state read now."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(ProcessCollector())
    registry.register(StateCollector())
    return registry


@bp.get("/metrics")
def scrape() -> ResponseReturnValue:
    if not current_app.extensions["idp.settings"].metrics_token:
        abort(404)  # the provider's own not-found page: nothing to see here
    return exposition(request.headers.get("Authorization", ""))


def exposition(authorization: str) -> Response:
    """The scrape answer, for ``/metrics`` and for the outbox worker's own port: 404
    unless a token is configured; 401 unless the request bears it (RFC 6750 2.1, the
    scheme's case aside), compared in constant time."""
    token = current_app.extensions["idp.settings"].metrics_token
    if not token:
        return Response("", 404)
    scheme, _, given = authorization.partition(" ")
    bearer = scheme.lower() == "bearer"
    if not bearer or not hmac.compare_digest(given.encode(), token.encode()):
        # RFC 6750 3.1: a bearer token that was sent and is not the one: invalid_token.
        error = ', error="invalid_token"' if bearer and given else ""
        return Response("", 401, {"WWW-Authenticate": f'Bearer realm="metrics"{error}'})
    return Response(generate_latest(scrape_registry()),
                    headers={"Content-Type": CONTENT_TYPE_LATEST})


class QuietHandler(WSGIRequestHandler):
    """No line per scrape (it would name the scraper's address)."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return None


class ScrapeServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def serve(app: Flask, bind: str) -> WSGIServer:
    """The scrape answer on a port of its own, for a process that serves no HTTP: the
    outbox worker, whose back-channel counts live in its own memory. ``GET /metrics``
    only, with the same token as the provider's; answered in a daemon thread."""
    host, _, port = bind.rpartition(":")

    def application(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/metrics" or environ["REQUEST_METHOD"] != "GET":
            response = Response("", 404)
        else:
            with app.app_context():
                response = exposition(environ.get("HTTP_AUTHORIZATION", ""))
        return response(environ, start_response)

    server = make_server(host.strip("[]") or "0.0.0.0", int(port), application,  # noqa: S104
                         server_class=ScrapeServer, handler_class=QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server


def init_app(app: Flask) -> None:
    request_started.connect(start_timer, sender=app, weak=False)
    request_finished.connect(observe_request, sender=app, weak=False)
    app.extensions["idp.prepared"].observe = count_prepared
    sign_in_attempted.connect(count_sign_in, sender=app, weak=False)
    backchannel_attempted.connect(count_backchannel, sender=app, weak=False)
    app.register_blueprint(bp)

