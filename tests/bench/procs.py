"""CPU time and memory of processes, read from /proc (Linux): a server's master and every
worker under it, and PostgreSQL's backends, counted apart."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
PROC = Path("/proc")


def _stat(pid: int) -> list[str] | None:
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) is in parentheses and may hold spaces.
    return raw[raw.rindex(")") + 2:].split()


def cpu_seconds(pid: int) -> float:
    """User and system time of the process itself (its threads included)."""
    fields = _stat(pid)
    if fields is None:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14, 15)


def rss_bytes(pid: int) -> int:
    fields = _stat(pid)
    return 0 if fields is None else int(fields[21]) * PAGE  # rss (field 24)


def children(pid: int) -> list[int]:
    """Every process under ``pid``, at any depth (gunicorn's workers under its master,
    granian's under its own)."""
    parents: dict[int, int] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None:
                parents[int(entry.name)] = int(fields[1])  # ppid (field 4)
    found: list[int] = []
    level = [pid]
    while level:
        level = [child for child, parent in parents.items() if parent in level]
        found += level
    return found


def named(command: str) -> list[int]:
    """Processes whose command name is ``command`` (e.g. postgres)."""
    found = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == command:
                    found.append(int(entry.name))
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue
    return found


@dataclass
class Snapshot:
    """CPU seconds per process at one moment; the difference of two is the cost between.
    Processes that ended in between (a recycled worker) are lost: the bench turns
    gunicorn's max-requests off so that none does."""

    server: dict[int, float]
    database: dict[int, float]

    @classmethod
    def take(cls, master: int) -> Snapshot:
        server = {pid: cpu_seconds(pid) for pid in (master, *children(master))}
        database = {pid: cpu_seconds(pid) for pid in named("postgres")}
        return cls(server, database)

    def since(self, before: Snapshot) -> tuple[float, float]:
        """(server, database) CPU seconds spent since ``before``."""
        def spent(now: dict[int, float], then: dict[int, float]) -> float:
            return sum(value - then.get(pid, 0.0) for pid, value in now.items())
        return spent(self.server, before.server), spent(self.database, before.database)


def worker_rss(master: int) -> list[int]:
    return sorted(rss_bytes(pid) for pid in children(master))


def rss_by_worker(master: int) -> dict[int, int]:
    return {pid: rss_bytes(pid) for pid in children(master)}
