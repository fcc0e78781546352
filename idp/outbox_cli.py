"""``idp outbox``: deliver the messages waiting for platforms, once or continuously.

``work`` is what a container runs beside the web servers: it stops between two passes on
SIGTERM (what Docker and Kubernetes send) as on Ctrl-C, so no delivery is cut in half and
the stop is clean, with exit status 0."""

from __future__ import annotations

import signal
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import click
from flask import current_app
from flask.cli import with_appcontext

from idp import outbound
from idp.extensions import db
from idp.outbox import deliver_due

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@click.group("outbox", help="Deliver the messages waiting for platforms.")
def outbox_cli() -> None:
    pass


@outbox_cli.command("drain")
@with_appcontext
def drain() -> None:
    """Make one delivery pass over the messages that are due."""
    click.echo(summary(deliver_due()))


def summary(outcomes: Counter[str]) -> str:
    return " ".join(f"{k}={outcomes[k]}" for k in ("delivered", "retrying", "dead", "failed"))


@outbox_cli.command("work")
@click.option("--interval", type=click.FloatRange(min=0.1), default=5.0, show_default=True,
              help="Seconds between two passes.")
@click.option("--metrics-bind", metavar="HOST:PORT", default=None, envvar="IDP_METRICS_BIND",
              help="Serve this worker's metrics (back-channel deliveries) at "
                   "http://HOST:PORT/metrics, with IDP_METRICS_TOKEN.")
@with_appcontext
def work(interval: float, metrics_bind: str | None) -> None:
    """Deliver continuously until stopped with SIGTERM or Ctrl-C (run one next to the
    web server)."""
    if metrics_bind is not None:
        serve_metrics(metrics_bind)
    stopping = threading.Event()
    with stop_on_signals(stopping), outbound.new_session() as http:
        click.echo(f"delivering every {interval:g} s; Ctrl-C or SIGTERM to stop")
        while not stopping.is_set():
            try:
                outcomes = deliver_due(session=http)
                if outcomes:
                    click.echo(summary(outcomes))
            except Exception as exc:  # a database restart must not stop the worker
                db.session.rollback()
                current_app.logger.error("outbox: pass failed (%s)", type(exc).__name__)
            stopping.wait(interval)
    click.echo("stopped")


def serve_metrics(bind: str) -> None:
    """The worker's own metrics port: its counts are in this process, not the web's."""
    from idp import metrics

    host, _, port = bind.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise click.BadParameter("expected HOST:PORT, e.g. 0.0.0.0:9102",
                                 param_hint="--metrics-bind")
    if not current_app.extensions["idp.settings"].metrics_token:
        raise click.UsageError("--metrics-bind needs IDP_METRICS_TOKEN (scrapers send it).")
    try:
        metrics.serve(current_app._get_current_object(), bind)  # type: ignore[attr-defined]
    except OSError as error:
        raise click.UsageError(f"cannot listen on {bind}: {error.strerror}") from None
    click.echo(f"metrics at http://{bind}/metrics")


@contextmanager
def stop_on_signals(stopping: threading.Event) -> Iterator[None]:
    """SIGTERM and SIGINT set ``stopping``: the pass under way ends, then the loop. The
    previous handlers come back afterwards."""
    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {signum: signal.signal(signum, stop) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


