"""The bench's smoke (issue 13): every operation of ``python -m tests.bench`` runs against
the production command on PostgreSQL and answers right, under two servers, at two sizes
of seeded data, then through the memory mode. It fails on errors, never on speed: speed
is read from ``make bench`` on a quiet machine, as ratios (tests/bench/RESULTS.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import POSTGRES_URL
from tests.servers import REDIS_URL, ROOT

OPERATIONS = {"hello", "hello_db", "discovery", "jwks", "userinfo", "introspection", "refresh",
              "client_credentials", "code_flow_no_password", "code_flow"}
SERVERS = ["gunicorn-gthread", "granian"]
SIZES = [20, 60]


def test_every_operation_of_the_bench_answers_right(tmp_path: Path) -> None:
    # A database of its own beside the tests' (the bench drops its schema first).
    url = sa.make_url(POSTGRES_URL)
    bench_url = url.set(database=f"{url.database}_bench").render_as_string(hide_password=False)
    out, markdown = tmp_path / "bench.json", tmp_path / "RESULTS.md"
    done = subprocess.run(
        [sys.executable, "-m", "tests.bench", "--servers", ",".join(SERVERS),
         "--travellers", ",".join(map(str, SIZES)), "--requests", "6", "--rounds", "2",
         "--flows", "2",
         "--memory", "8", "--memory-warm", "4", "--database-url", bench_url,
         "--redis-url", REDIS_URL, "--json", str(out), "--markdown", str(markdown)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode == 3:
        pytest.skip(done.stderr[-500:])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(out.read_text())
    runs = {(run["server"], run["travellers"]): run for run in report["runs"]}
    assert set(runs) == {(server, size) for server in SERVERS for size in SIZES}
    for (server, size), run in runs.items():
        rows = {row["operation"]: row for row in run["rows"]}
        assert set(rows) == OPERATIONS, (server, size)
        for name, row in rows.items():
            assert row["errors"] == 0 and row["requests"] > 0, (server, size, name, row)
            assert row["server_cpu_ms"] >= 0 and row["p50_ms"] > 0, (server, size, name, row)
        assert len(run["worker_rss_mib"]) == report["settings"]["workers"], run
        memory = run["memory"]
        assert memory["errors"] == 0 and memory["requests"] >= 8, memory
        assert len(memory["rss_mib_after"]) == report["settings"]["workers"], memory
    for heading in ("Servers side by side", "Growth 20 -> 60 travellers", "Memory"):
        assert heading in done.stdout and heading in markdown.read_text(), heading
    assert "cpu_vs_floor" in done.stdout
    # Two rounds, taking turns with the floor: each operation's ratio is their median,
    # and their range is shown beside it (a round whose floor spent less than the
    # clock's tick of CPU, likely with so few requests, has no ratio).
    assert report["settings"]["rounds"] == 2 and "vs_floor_range" in done.stdout
    for run in report["runs"]:
        rows = {row["operation"]: row for row in run["rows"]}
        # 2 rounds of 3 requests: 1 from each of the 2 client threads.
        assert rows["hello"]["requests"] == 4, rows["hello"]
        for row in run["rows"]:
            if "vs_floor_range" in row:
                low, high = map(float, row["vs_floor_range"].split("-"))
                assert low <= row["cpu_vs_floor"] <= high, row


def test_the_in_process_bench_answers_right() -> None:
    """``python -m tests.bench.inprocess``: every operation answered right (a wrong
    answer stops it), and a table of CPU per request beside the bare Flask request."""
    url = sa.make_url(POSTGRES_URL)
    bench_url = url.set(database=f"{url.database}_inprocess").render_as_string(
        hide_password=False)
    done = subprocess.run(
        [sys.executable, "-m", "tests.bench.inprocess", "--requests", "5", "--rounds", "2",
         "--database-url", bench_url],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = {line.split("|")[0].strip(): line for line in done.stdout.splitlines()
             if "|" in line}
    assert set(lines) == {"operation", "hello", "userinfo", "introspection",
                          "client_credentials", "refresh"}, done.stdout
