"""The bench's tables: one per server and size, then the comparisons a run was asked
for (servers side by side, growth from the first size to the last, memory), as text for
the terminal and as Markdown for tests/bench/RESULTS.md."""

from __future__ import annotations

import os
import platform as machine
import sys
from pathlib import Path
from typing import Any

COLUMNS = ["operation", "requests", "errors", "rps", "p50_ms", "p95_ms", "p99_ms",
           "server_cpu_ms", "database_cpu_ms", "cpu_vs_floor", "vs_floor_range"]
GROWTH_LIMIT = 1.2  # issue 13, part 3: p50 grows by at most 20 % from 1k to 1M


def table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    columns = columns or COLUMNS
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    lines = [" | ".join(c.ljust(widths[c]) for c in columns),
             "-|-".join("-" * widths[c] for c in columns)]
    lines += [" | ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(lines)


def heading(run: dict[str, Any]) -> str:
    return f"\n## {run['server']}, {run['travellers']} travellers"


def ratio(after: float, before: float) -> float | None:
    return round(after / before, 2) if before else None


def servers_side_by_side(runs: list[dict[str, Any]], size: int) -> list[dict[str, Any]]:
    """Per operation: each server's CPU ms and its ratio to its own floor."""
    rows: dict[str, dict[str, Any]] = {}
    for run in runs:
        if run["travellers"] != size:
            continue
        for row in run["rows"]:
            line = rows.setdefault(row["operation"], {"operation": row["operation"]})
            line[f"{run['server']} cpu_ms"] = row["server_cpu_ms"]
            line[f"{run['server']} x_floor"] = row.get("cpu_vs_floor", "")
            line[f"{run['server']} p50_ms"] = row["p50_ms"]
    return list(rows.values())


def growth(runs: list[dict[str, Any]], server: str, first: int, last: int) -> list[dict[str, Any]]:
    """Per operation: p50 and server CPU at the first and the last size, and the ratios."""
    def rows_at(size: int) -> dict[str, dict[str, Any]]:
        return next(({row["operation"]: row for row in run["rows"]} for run in runs
                     if run["server"] == server and run["travellers"] == size), {})
    before, after = rows_at(first), rows_at(last)
    # The floor touches no data: its own growth is the machine's noise between the two
    # measurements, which the "vs_floor" column takes out.
    noise = ratio(after["hello"]["p50_ms"], before["hello"]["p50_ms"]) if (
        "hello" in before and "hello" in after) else None
    lines = []
    for name, row in before.items():
        if name not in after:
            continue
        p50 = ratio(after[name]["p50_ms"], row["p50_ms"])
        corrected = round(p50 / noise, 2) if p50 and noise else None
        lines.append({"operation": name, f"p50_ms@{first}": row["p50_ms"],
                      f"p50_ms@{last}": after[name]["p50_ms"], "p50_growth": p50,
                      "p50_growth_vs_floor": corrected,
                      "cpu_growth": ratio(after[name]["server_cpu_ms"], row["server_cpu_ms"]),
                      "db_cpu_growth": ratio(after[name]["database_cpu_ms"],
                                             row["database_cpu_ms"]),
                      "over_20pct": "YES" if p50 and p50 > GROWTH_LIMIT else "",
                      "over_20pct_vs_floor": "YES" if corrected and corrected > GROWTH_LIMIT
                      else ""})
    return lines


def memory(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"server": run["server"], "travellers": run["travellers"],
             "requests": run["memory"]["requests"], "errors": run["memory"]["errors"],
             "rss_mib_after_warm": run["memory"]["rss_mib_after_warm"],
             "rss_mib_after_all": run["memory"]["rss_mib_after"],
             "worst_worker_growth_pct": run["memory"]["growth_pct"]}
            for run in runs if "memory" in run]


def sections(runs: list[dict[str, Any]], sizes: list[int],
             servers: list[str]) -> list[tuple[str, list[dict[str, Any]]]]:
    found = []
    if len(servers) > 1:
        for size in sizes:
            found.append((f"Servers side by side, {size} travellers (server CPU ms per op, "
                          "ratio to the same server's floor, p50 ms)",
                          servers_side_by_side(runs, size)))
    if len(sizes) > 1:
        for server in servers:
            found.append((f"Growth {sizes[0]} -> {sizes[-1]} travellers, {server}",
                          growth(runs, server, sizes[0], sizes[-1])))
    if any("memory" in run for run in runs):
        found.append(("Memory: per-worker RSS (MiB)", memory(runs)))
    return found


def summary(runs: list[dict[str, Any]], sizes: list[int], servers: list[str]) -> str:
    return "".join(f"\n## {title}\n{table(rows, list(rows[0]))}\n"
                   for title, rows in sections(runs, sizes, servers) if rows)


def markdown_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def markdown(document: dict[str, Any], _: str = "") -> str:
    facts = document["machine"]
    out = [f"\n## {document['date']}: `{document['command']}`\n\n",
           f"{facts['cpu']}, {facts['cores']} cores, Python {facts['python']}, "
           f"{facts['system']}. Settings: {document['settings']}.\n"]
    settings = document["settings"]
    for title, rows in sections(document["runs"], settings["travellers"],
                                settings["servers"]):
        if rows:
            out.append(f"\n### {title}\n\n{markdown_table(rows, list(rows[0]))}")
    for run in document["runs"]:
        out.append(f"\n### {run['server']}, {run['travellers']} travellers\n\n"
                   f"{markdown_table(run['rows'], COLUMNS)}")
    return "".join(out)


def machine_facts() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "python": sys.version.split()[0],
            "system": machine.platform()}
