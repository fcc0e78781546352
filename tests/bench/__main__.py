"""The bench (issue 13): the production command on PostgreSQL and Redis, seeded with N
travellers, measured per operation, beside a bare Flask "hello" under the same server
and worker settings (the floor each server's ratios are taken to).

    .venv/bin/python -m tests.bench --travellers 1000 [--requests 2000] [--json out.json]
    --servers gunicorn-sync,gunicorn-gthread,granian   several servers, one after the other
    --travellers 1000,1000000   measure, grow the data inside PostgreSQL, measure again
    --memory 100000             worker RSS after 1,000 and after 100,000 API requests
    --rounds 5                  the floor and each operation take turns, five times
    make bench                  (the same, with BENCH_ARGS)

Server CPU per operation is read from /proc for the server's processes, workers
included; PostgreSQL's backends are counted apart (all of the machine's: run it on a
quiet machine). Figures are for comparing within one run; the machines are shared, and
their speed drifts by 15 % and more within a minute. So the floor server runs beside the
provider and the two take turns: each operation is measured in ``--rounds`` rounds, each
round the floor then every operation, and an operation's ratio to the floor is the
median of its rounds' ratios (their range is shown beside it)."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import requests

from idp.extensions import db
from tests.bench import report, seed
from tests.bench.load import Result, expect, merged, round_ratios, run
from tests.bench.operations import first_login, operations, prepare
from tests.bench.procs import rss_by_worker, worker_rss
from tests.bench.servers import SERVERS, start_floor, start_provider, stop
from tests.servers import Server, free_port, production_environ

DATABASE = "postgresql+psycopg://postgres@127.0.0.1:5432/bench"
REDIS = "redis://127.0.0.1:6379/9"
OPERATIONS = ("hello", "hello_db", "discovery", "jwks", "userinfo", "introspection", "refresh",
              "client_credentials", "code_flow_no_password", "code_flow")


def listed(kind: type, choices: tuple[str, ...] | None = None) -> Any:
    def parse(raw: str) -> list[Any]:
        values = [kind(part.strip()) for part in raw.split(",") if part.strip()]
        if not values or (choices and not set(values) <= set(choices)):
            raise argparse.ArgumentTypeError(f"a comma-separated list of {choices or kind}")
        return values
    return parse


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--travellers", type=listed(int), default=[1000],
                        help="one size, or growing sizes measured in turn: 1000,1000000")
    parser.add_argument("--servers", "--server", type=listed(str, SERVERS),
                        default=["gunicorn-gthread"], help=",".join(SERVERS))
    parser.add_argument("--requests", type=int, default=2000, help="per operation")
    parser.add_argument("--rounds", type=int, default=5,
                        help="each operation measured in this many rounds, taking turns "
                             "with the floor: its ratio is the median of the rounds'")
    parser.add_argument("--flows", type=int, default=100,
                        help="code flows with a password check (each costs an argon2id hash)")
    parser.add_argument("--memory", type=int, default=0, metavar="N",
                        help="then N userinfo and introspection requests: each worker's "
                             "RSS after the first --memory-warm and after N")
    parser.add_argument("--memory-warm", type=int, default=1000, metavar="K")
    parser.add_argument("--concurrency", type=int, default=2, help="client threads")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DATABASE))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", REDIS))
    parser.add_argument("--json", type=Path, help="write the results here too")
    parser.add_argument("--markdown", type=Path, help="append the tables here (RESULTS.md)")
    parser.add_argument("--only", nargs="*", choices=OPERATIONS, help="measure only these")
    args = parser.parse_args(argv)
    if args.travellers != sorted(args.travellers) or args.travellers[0] < args.concurrency:
        parser.error("--travellers: growing sizes, the first at least --concurrency")
    if args.rounds < 1:
        parser.error("--rounds: at least 1")
    return args


def server_environ(args: argparse.Namespace, port: int) -> dict[str, str]:
    return production_environ(args.database_url, port, **{
        "IDP_REDIS_URL": args.redis_url,
        "IDP_WORKERS": str(args.workers), "IDP_THREADS": str(args.threads),
        "IDP_MAX_REQUESTS": "0",  # no recycled worker: its CPU time would be lost
        "IDP_ACCESS_LOG": "", "IDP_LOG_LEVEL": "warning", "IDP_TRUSTED_PROXIES": "1",
        "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="bench-metrics-"),
    })


def floor_operation(floor: Server, path: str) -> Any:
    url = f"{floor.url}{path}"

    def hello(http: requests.Session, state: dict[str, Any]) -> None:
        expect(http.get(url, timeout=10))
    return hello


def measure_memory(provider: Server, args: argparse.Namespace, ops: dict[str, Any],
                   states: list[dict[str, Any]]) -> dict[str, Any]:
    """Cheap API requests, userinfo and introspection in turn: the workers' RSS after
    the first ``args.memory_warm`` and after all ``args.memory`` (issue 13, part 7)."""
    def api(http: requests.Session, state: dict[str, Any]) -> None:
        state["turn"] = not state.get("turn")
        ops["userinfo" if state["turn"] else "introspection"](http, state)

    pid = provider.process.pid
    warm = run("memory", api, states, min(args.memory_warm, args.memory), pid,
               requests.Session)
    before = rss_by_worker(pid)
    rest = run("memory", api, states, max(0, args.memory - args.memory_warm), pid,
               requests.Session)
    after = rss_by_worker(pid)
    # Per worker, the same process read twice (a worker that ended counts as no growth
    # read: the bench turns recycling off, so none should).
    growth = [after[p] / before[p] - 1 for p in before if p in after and before[p]]
    return {"requests": len(warm.latencies) + len(rest.latencies),
            "errors": len(warm.errors) + len(rest.errors),
            "rss_mib_after_warm": [round(before[p] / 2**20, 1) for p in sorted(before)],
            "rss_mib_after": [round(after[p] / 2**20, 1) for p in sorted(after)],
            "growth_pct": round(100 * max(growth, default=0.0), 1)}


def measure(server: str, args: argparse.Namespace, prepared: dict[str, Any],
            states: list[dict[str, Any]], logs: Path, port: int,
            running: Server | None = None) -> dict[str, Any]:
    """One server: the provider under it (``running``, when it was started already under
    that server) and its floor, both up, measured in ``args.rounds`` rounds: in each, the
    floor, then every operation chosen, each with its share of the requests. An
    operation's ratio to the floor is the median of its rounds' ratios."""
    chosen = args.only or list(OPERATIONS)
    floor: Server | None = None
    provider = running
    measured: dict[str, Any] = {"server": server}
    try:
        if "hello" in chosen or "hello_db" in chosen:
            floor = start_floor(server, args, logs)
        if provider is None:
            provider = start_provider(server, args, server_environ(args, port), logs, port)
        ops = {name: operation for name, operation in operations(prepared).items()
               if name in chosen}
        if floor is not None:
            floors_chosen = {"hello": "/hello", "hello_db": "/hello-db"}
            ops = {**{name: floor_operation(floor, path)
                      for name, path in floors_chosen.items() if name in chosen}, **ops}
        rounds: dict[str, list[Result]] = {name: [] for name in ops}
        for _ in range(args.rounds):
            for name, operation in ops.items():
                total = args.flows if name == "code_flow" else args.requests
                master = floor if name.startswith("hello") else provider
                assert master is not None
                rounds[name].append(run(name, operation, states,
                                        max(1, total // args.rounds),
                                        master.process.pid, requests.Session))
        floors = rounds.get("hello")
        floor_result = merged(floors) if floors else None
        rows = []
        for name, results in rounds.items():
            result = merged(results)
            row = result.row(floor_result)
            if floors and args.rounds > 1:
                ratios = round_ratios(results, floors)
                if ratios:
                    row["cpu_vs_floor"] = round(statistics.median(ratios), 2)
                    row["vs_floor_range"] = f"{min(ratios):.2f}-{max(ratios):.2f}"
            rows.append(row)
            for error in result.errors[:3]:
                print(f"{server} {name}: {error}", file=sys.stderr)
        measured["worker_rss_mib"] = [round(r / 2**20, 1)
                                      for r in worker_rss(provider.process.pid)]
        if args.memory:
            measured["memory"] = measure_memory(provider, args, operations(prepared), states)
    finally:
        for started in (floor, provider):
            if started is not None:
                stop(started)
    measured["rows"] = rows
    return measured


def grow(prepared: dict[str, Any], to: int) -> float:
    """Clone the first model traveller up to ``to`` travellers; the seconds it took."""
    with prepared["app"].app_context():
        started = time.perf_counter()
        more = to - seed.count_travellers()
        seed.multiply(prepared["travellers"][0][0], more, secrets.token_hex(4))
        db.session.remove()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    logs = Path(tempfile.mkdtemp(prefix="bench-"))
    port = free_port()
    prepared = prepare(server_environ(args, port), args.concurrency)
    # The first server's provider serves the first visits, then the first measurement.
    provider: Server | None = start_provider(args.servers[0], args,
                                             server_environ(args, port), logs, port)
    try:
        states = [first_login(prepared, t) for t in prepared["travellers"]]
        seconds = grow(prepared, args.travellers[0])
    except BaseException:
        assert provider is not None
        stop(provider)
        raise
    runs: list[dict[str, Any]] = []
    for size in args.travellers:
        if size != args.travellers[0]:
            seconds = grow(prepared, size)
        print(f"seeded {size} travellers ({seconds:.1f} s)", file=sys.stderr, flush=True)
        for server in args.servers:
            measured = measure(server, args, prepared, states, logs, port, provider)
            provider = None
            runs.append({"travellers": size, "seed_seconds": round(seconds, 1), **measured})
            print(report.heading(runs[-1]))
            print(report.table(runs[-1]["rows"]), flush=True)
    summary = report.summary(runs, args.travellers, args.servers)
    print(summary)
    document = {"date": date.today().isoformat(), "machine": report.machine_facts(),
                "command": " ".join(["python -m tests.bench", *(argv or sys.argv[1:])]),
                "settings": {"travellers": args.travellers, "servers": args.servers,
                             "requests": args.requests, "rounds": args.rounds,
                             "flows": args.flows,
                             "memory": args.memory, "concurrency": args.concurrency,
                             "workers": args.workers, "threads": args.threads},
                "id_token_on_refresh": any(s.get("id_token_on_refresh") for s in states),
                "runs": runs}
    if args.json:
        args.json.write_text(json.dumps(document, indent=1) + "\n")
    if args.markdown:
        with args.markdown.open("a") as out:
            out.write(report.markdown(document, summary))
    errors = sum(row["errors"] for r in runs for row in r["rows"]) + sum(
        r.get("memory", {}).get("errors", 0) for r in runs)
    if errors:
        print(f"{errors} operation(s) failed; the servers' logs: {logs}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
