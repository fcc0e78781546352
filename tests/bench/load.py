"""Load: a few client threads, each with its own keep-alive connection, sending one kind
of request as fast as answers come, for a fixed number of requests. Every answer is
checked: a bench that counts errors as speed measures nothing."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from tests.bench.procs import Snapshot

# One request of an operation, by a client thread: it raises on a wrong answer.
Operation = Callable[[requests.Session, dict[str, Any]], None]


class WrongAnswer(AssertionError):
    pass


def expect(response: requests.Response, status: int = 200) -> requests.Response:
    if response.status_code != status:
        raise WrongAnswer(f"{response.request.method} {response.url}: "
                          f"{response.status_code} {response.text[:300]}")
    return response


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    latencies: list[float] = field(repr=False)
    server_cpu: float = 0.0
    database_cpu: float = 0.0
    errors: list[str] = field(default_factory=list)

    def row(self, floor: Result | None) -> dict[str, Any]:
        done = max(1, len(self.latencies))
        ordered = sorted(self.latencies) or [0.0]

        def pct(p: float) -> float:
            return 1000 * ordered[min(len(ordered) - 1, int(p * len(ordered)))]
        row: dict[str, Any] = {
            "operation": self.name, "requests": len(self.latencies),
            "errors": len(self.errors),
            "rps": round(len(self.latencies) / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round(1000 * statistics.median(ordered), 2),
            "p95_ms": round(pct(0.95), 2), "p99_ms": round(pct(0.99), 2),
            "server_cpu_ms": round(1000 * self.server_cpu / done, 3),
            "database_cpu_ms": round(1000 * self.database_cpu / done, 3),
        }
        if floor is not None and floor.latencies:
            floor_cpu = 1000 * floor.server_cpu / len(floor.latencies)
            row["cpu_vs_floor"] = round(row["server_cpu_ms"] / floor_cpu, 2) if floor_cpu else None
        return row

    def cpu_per_request(self) -> float:
        return self.server_cpu / len(self.latencies) if self.latencies else 0.0


def merged(results: list[Result]) -> Result:
    """The rounds of one operation as one result: their requests, time and CPU added."""
    first = results[0]
    return Result(first.name, sum(r.requests for r in results),
                  sum(r.seconds for r in results),
                  [latency for r in results for latency in r.latencies],
                  sum(r.server_cpu for r in results), sum(r.database_cpu for r in results),
                  [error for r in results for error in r.errors])


def round_ratios(rounds: list[Result], floors: list[Result]) -> list[float]:
    """Each round's CPU per request over the floor's of the same round: the machine's
    mood changes between rounds, far less within one."""
    return [r.cpu_per_request() / f.cpu_per_request()
            for r, f in zip(rounds, floors, strict=True)
            if r.latencies and f.cpu_per_request()]


def run(name: str, operation: Operation, states: list[dict[str, Any]], total: int,
        master: int, make_session: Callable[[], requests.Session]) -> Result:
    """``total`` requests of ``operation`` shared by one thread per state."""
    per_thread = max(1, total // len(states))
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client(state: dict[str, Any]) -> None:
        session = make_session()
        mine = []
        try:
            for _ in range(per_thread):
                start = time.perf_counter()
                try:
                    operation(session, state)
                except Exception as error:  # noqa: BLE001 - counted and shown, never speed
                    with lock:
                        errors.append(f"{type(error).__name__}: {error}")
                    return
                mine.append(time.perf_counter() - start)
        finally:
            session.close()
            with lock:
                latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(state,)) for state in states]
    before = Snapshot.take(master)
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    server_cpu, database_cpu = Snapshot.take(master).since(before)
    return Result(name, per_thread * len(states), seconds, latencies, server_cpu,
                  database_cpu, errors)

