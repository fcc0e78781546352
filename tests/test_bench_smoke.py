"""The bench's smoke (issue 13): every operation of ``python -m tests.bench`` runs against
the production command on PostgreSQL and answers right. It fails on errors, never on
speed: speed is read from ``make bench`` on a quiet machine, as ratios."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import POSTGRES_URL
from tests.servers import REDIS_URL, ROOT

OPERATIONS = {"hello", "discovery", "jwks", "userinfo", "introspection", "refresh",
              "client_credentials", "code_flow_no_password", "code_flow"}


def test_every_operation_of_the_bench_answers_right(tmp_path: Path) -> None:
    # A database of its own beside the tests' (the bench drops its schema first).
    url = sa.make_url(POSTGRES_URL)
    bench_url = url.set(database=f"{url.database}_bench").render_as_string(hide_password=False)
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "tests.bench", "--travellers", "40", "--requests", "20",
         "--flows", "2", "--database-url", bench_url, "--redis-url", REDIS_URL,
         "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode == 3:
        pytest.skip(done.stderr[-500:])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(out.read_text())
    rows = {row["operation"]: row for row in report["rows"]}
    assert set(rows) == OPERATIONS
    for name, row in rows.items():
        assert row["errors"] == 0 and row["requests"] > 0, (name, row)
        assert row["server_cpu_ms"] >= 0 and row["p50_ms"] > 0, (name, row)
    assert report["settings"]["travellers"] == 40
    assert len(report["worker_rss_mib"]) == report["settings"]["workers"]
    assert "operation" in done.stdout and "cpu_vs_floor" in done.stdout
