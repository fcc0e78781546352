"""The entrypoint's long-running roles besides serve, as real processes: the scheduler's
pass (prunes, then a key rotation only when due) and its stop; the outbox worker."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.docker.processes import container_environ, entrypoint, run
from tests.servers import free_port

DEADLINE = 60.0


def read_until(process: subprocess.Popen[str], marker: str) -> list[str]:
    """Lines of output up to the one containing ``marker`` (a deadline, not a sleep)."""
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        lines.append(line)
        if marker in line:
            return lines
    raise AssertionError(f"no {marker!r} in:\n{''.join(lines)}")


def stop(process: subprocess.Popen[str], signum: int) -> tuple[int, str, float]:
    began = time.monotonic()
    process.send_signal(signum)
    rest, _ = process.communicate(timeout=30)
    return process.returncode, rest, time.monotonic() - began


def migrated(database_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    environ = container_environ(database_url, free_port(), tmp_path / "secrets", **extra)
    done = run("migrate", environ, tmp_path)
    output, _ = done.communicate(timeout=120)
    assert done.returncode == 0, output
    return environ


def test_the_scheduler_prunes_and_rotates_only_when_due_then_stops_at_once(
        fresh_postgres: str, tmp_path: Path) -> None:
    # A day between passes: the test sees one pass, then stops the scheduler mid-wait.
    environ = migrated(fresh_postgres, tmp_path, IDP_SCHEDULER_INTERVAL="86400",
                       IDP_KEY_ROTATION_DAYS="90")
    scheduler = subprocess.Popen(entrypoint("scheduler"), env=environ, cwd=tmp_path,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        first_pass = "".join(read_until(scheduler, "no rotation: ES256"))
    finally:
        code, rest, took = stop(scheduler, signal.SIGTERM)

    assert "ended 0 expired session(s)" in first_pass
    assert "removed 0 unconfirmed sign-up(s)" in first_pass
    assert "0 mandate(s) lapsed" in first_pass
    # The keys made on first use are new: nothing to rotate before 90 days.
    assert "no rotation: RS256 key" in first_pass and "less than 90 days" in first_pass
    assert "failed" not in first_pass
    assert (code, rest.strip()) == (0, "scheduler: stopped")
    assert took < 5  # not after the day's wait


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_the_worker_drains_the_outbox_until_stopped(fresh_postgres: str, tmp_path: Path,
                                                    stop_signal: signal.Signals) -> None:
    environ = migrated(fresh_postgres, tmp_path)
    worker = subprocess.Popen(entrypoint("worker", "--interval", "0.2"), env=environ,
                              cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        # Printed once its signal handlers are in place: from here a stop is clean.
        read_until(worker, "delivering every 0.2 s")
    finally:
        # Docker and Kubernetes stop it with SIGTERM; Ctrl-C in a terminal.
        code, rest, _ = stop(worker, stop_signal)

    assert code == 0, rest
    assert rest.strip().endswith("stopped")
    assert "Traceback" not in rest
