"""gunicorn settings for Mobility ID: ``gunicorn -c python:idp.gunicorn_conf idp.wsgi:app``.

Every value comes from the environment, with defaults fit for a container of two CPUs
behind a buffering reverse proxy (README, "Production"). The app is loaded once in the
master (``preload_app``): settings are checked and signing keys decrypted before any
worker starts, and each fork inherits them; the database connections used for that are
dropped before forking, so no two processes share a socket."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from gunicorn.glogging import Logger

from idp import logs
from idp.access_log import loggable_path
from idp.settings import ConfigError, choose_log_format


def number(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"error: {name} must be a whole number, not {raw!r}.") from None
    if value < 0:
        raise SystemExit(f"error: {name} must not be negative.")
    return value


bind = os.environ.get("IDP_BIND", "0.0.0.0:8000").split(",")
# Threads let a worker wait on the database or an outbound fetch (a platform's JWKS,
# 3 s at most) while serving others; argon2 releases the GIL. Chosen by measurement
# (tests/bench --servers, tests/bench/RESULTS.md): beside sync workers and granian,
# gthread spent the least server CPU on the provider's requests and answered soonest.
worker_class = os.environ.get("IDP_WORKER_CLASS", "gthread")
workers = number("IDP_WORKERS", max(2, 2 * (os.cpu_count() or 1)))
threads = number("IDP_THREADS", 4)
timeout = number("IDP_WORKER_TIMEOUT", 30)
# On SIGTERM (a rolling deploy) requests in flight get this long to finish.
graceful_timeout = number("IDP_GRACEFUL_TIMEOUT", 30)
keepalive = number("IDP_KEEPALIVE", 5)
# A worker is replaced after about this many requests, at staggered times.
max_requests = number("IDP_MAX_REQUESTS", 2000)
max_requests_jitter = number("IDP_MAX_REQUESTS_JITTER", max_requests // 10)
# Room for a signed request object in a query string (RFC 9101), as nginx allows (8 KiB).
limit_request_line = 8190
preload_app = True
# The heartbeat file in memory: a container's overlay disk can stall it. gunicorn makes
# it with mkstemp (a fresh name, mode 0600), so a shared directory is safe.
SHM = "/dev/shm"  # noqa: S108
worker_tmp_dir = os.environ.get("IDP_WORKER_TMP_DIR") or (SHM if os.path.isdir(SHM) else None)
# Metrics (idp.metrics): each worker writes its counts to files that the worker serving
# a scrape sums (prometheus_client's multiprocess mode). The directory must be named
# before prometheus_client is first imported (the app imports it); unless the operator
# names one, a private one (mode 0700) is made for this run and removed when the master
# exits, even on a failed start (atexit; the workers, forked, inherit the handler).
def remove_metrics_dir(path: str, master: int) -> None:
    if os.getpid() == master:
        shutil.rmtree(path, ignore_errors=True)


if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(
        prefix="idp-metrics-", dir=SHM if os.path.isdir(SHM) else None)
    atexit.register(remove_metrics_dir, os.environ["PROMETHEUS_MULTIPROC_DIR"], os.getpid())
# Forwarded headers are the app's business (IDP_TRUSTED_PROXIES), in one place only.
forwarded_allow_ips = ""
proxy_allow_ips = ""

accesslog = os.environ.get("IDP_ACCESS_LOG", "-") or None
errorlog = "-"
loglevel = os.environ.get("IDP_LOG_LEVEL", "info").lower()
# No client address, no referrer (it holds the previous page's query), no query string.
access_log_format = ('%(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms request=%(rid)s '
                     'client=%(client)s traveller=%(traveller)s')
try:
    log_format = choose_log_format(os.environ.get("IDP_LOG_FORMAT", ""),
                                   os.environ.get("IDP_ENV", "development"))
except ConfigError as error:
    raise SystemExit(f"error: {error}") from None


class AccessLogger(Logger):
    """Only these fields reach the access log, whatever format an operator sets: the
    path is the matched route (idp.access_log), never the path or query as sent. In JSON,
    the line is an object of the same fields (idp.logs)."""

    def setup(self, cfg: Any) -> None:
        """gunicorn's handlers (new at each reload) get the request id and the redaction;
        in JSON, our formatter too (its text lines keep their look)."""
        super().setup(cfg)
        for handler in (*self.error_log.handlers, *self.access_log.handlers):
            logs.prepare(handler, "json" if log_format == "json" else None)

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any],
              request_time: Any) -> dict[str, Any]:
        full = super().atoms(resp, req, environ, request_time)
        path = loggable_path(environ)
        kept = {name: full[name] for name in ("t", "s", "m", "H", "b", "B", "T", "D", "M",
                                              "L", "p")}
        kept["U"] = path
        kept["r"] = f"{full['m']} {path} {full['H']}"
        kept["rid"] = environ.get(logs.REQUEST_ID, "-")
        kept["client"] = environ.get(logs.CLIENT_ID, "-")
        kept["traveller"] = environ.get(logs.TRAVELLER, "-")
        return kept

    def access(self, resp: Any, req: Any, environ: dict[str, Any],
               request_time: Any) -> None:
        if log_format != "json" or self.cfg.accesslog is None:
            super().access(resp, req, environ, request_time)
            return
        atoms = self.atoms(resp, req, environ, request_time)
        self.access_log.info("request", extra={
            "method": atoms["m"], "route": atoms["U"], "protocol": atoms["H"],
            "status": int(atoms["s"]), "bytes": atoms["B"],
            "duration_ms": round(atoms["D"] / 1000, 3), "request_id": atoms["rid"],
            "client_id": environ.get(logs.CLIENT_ID), "traveller": environ.get(logs.TRAVELLER),
        })


def pre_request(worker: Any, req: Any) -> None:
    """Nothing: gunicorn's default writes each request's path as sent at debug level, a
    link's token with it. The access line names the route instead."""


logger_class = AccessLogger


def pre_fork(server: Any, worker: Any) -> None:
    """Warm what every worker needs: the signing keys, decrypted once, in the master.
    If the database is away, the worker loads them itself later: an exception here would
    stop the master, and with it every worker."""
    from idp.extensions import db
    from idp.keys import key_store

    app = server.app.wsgi()
    with app.app_context():
        try:
            key_store().jwks()
        except Exception as error:  # noqa: BLE001 - any failure only skips the warm-up
            server.log.warning("signing keys not warmed before fork: %s",
                               type(error).__name__)
        finally:
            db.session.remove()
            db.engine.dispose()


def post_fork(server: Any, worker: Any) -> None:
    """A worker never uses a connection its parent opened (SQLAlchemy, "Using
    connection pools with multiprocessing"): drop them without closing the parent's."""
    app = server.app.wsgi()
    with app.app_context():
        from idp.extensions import db

        db.engine.dispose(close=False)


def on_starting(server: Any) -> None:
    """The operator's metrics directory exists (a worker could not count otherwise), and
    the counts of an earlier run in it are not this run's."""
    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        if stale.name.startswith(("counter_", "gauge_", "histogram_", "summary_")):
            stale.unlink()


def child_exit(server: Any, worker: Any) -> None:
    """A worker's live gauges leave with it; its counters stay in the sums."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def when_ready(server: Any) -> None:
    """With IDP_METRICS_BIND (e.g. 0.0.0.0:9102), the master serves the workers' summed
    metrics on a port of its own, for a scraper that reaches each instance by its
    address (Prometheus's DNS discovery of the replicas): no trusted-Host check there,
    the same IDP_METRICS_TOKEN."""
    bind = os.environ.get("IDP_METRICS_BIND", "").strip()
    if not bind:
        return
    from idp import metrics

    app = server.app.wsgi()
    if not app.extensions["idp.settings"].metrics_token:
        raise SystemExit("error: IDP_METRICS_BIND needs IDP_METRICS_TOKEN (scrapers send it).")
    try:
        metrics.serve(app, bind)
    except (OSError, ValueError) as error:
        server.log.error("IDP_METRICS_BIND %s: %s", bind, type(error).__name__)
        raise SystemExit(f"error: cannot serve metrics on IDP_METRICS_BIND={bind}.") from None
    server.log.info("metrics at http://%s/metrics", bind)
