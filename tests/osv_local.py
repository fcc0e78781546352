"""An OSV query service on loopback, over advisories kept on disk, so that ``make audit``
runs ``pip-audit`` without reaching the internet (CI has no network but the package
registries, and PyPI's JSON API is not one of them).

The advisories are OSV documents (https://ossf.github.io/osv-schema/): a folder of
``.json`` or ``.yaml`` files (the PyPA advisory database is such a folder) or a ``.zip``
of ``.json`` files (OSV's PyPI export). ``make audit-refresh`` fetches a new copy; the
README's Security section says how. The service answers pip-audit's one request per
package, ``POST /v1/query {"package": {"name", "ecosystem"}, "version"}``, with the
advisories that affect that version.

    python -m tests.osv_local --db DIR_OR_ZIP -- pip-audit [ARGS...]

runs pip-audit with ``--vulnerability-service osv --osv-url`` pointing here and exits
with its status; without advisories it refuses to run, since an audit against nothing
would always pass."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import threading
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

Advisory = dict[str, Any]


def normalize(name: str) -> str:
    """PEP 503: names compare lower-cased with runs of -_. as one dash."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_documents(db: Path) -> Iterator[Advisory]:
    """Every advisory in a folder (``.json``, ``.yaml``, and ``.zip`` files) or a zip."""
    for path in [db] if db.is_file() else sorted(db.rglob("*")):
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                for name in archive.namelist():
                    if name.endswith(".json"):
                        yield json.loads(archive.read(name))
        elif path.suffix == ".json":
            yield json.loads(path.read_text())
        elif path.suffix in (".yaml", ".yml"):
            import yaml  # the PyPA database is YAML; the audit extra installs PyYAML

            yield yaml.safe_load(path.read_text())


def load(db: Path) -> dict[str, list[Advisory]]:
    """Advisories by normalised PyPI package name."""
    index: dict[str, list[Advisory]] = defaultdict(list)
    for document in read_documents(db):
        for affected in document.get("affected", []):
            package = affected.get("package", {})
            if package.get("ecosystem") == "PyPI" and package.get("name"):
                index[normalize(package["name"])].append(document)
    return index


def in_range(version: Version, events: list[dict[str, str]]) -> bool:
    """OSV ECOSYSTEM range: affected from each ``introduced`` until the next ``fixed``
    (excluded) or ``last_affected`` (included)."""
    affected = False
    for event in sorted(events, key=lambda e: _parse(next(iter(e.values())))):
        kind, value = next(iter(event.items()))
        bound = _parse(value)
        if kind == "introduced" and version >= bound:
            affected = True
        elif (kind == "fixed" and version >= bound
              or kind == "last_affected" and version > bound):
            affected = False
    return affected


def _parse(value: str) -> Version:
    return Version("0") if value == "0" else Version(value)


def affects(document: Advisory, name: str, version: str) -> bool:
    try:
        parsed = Version(version)
    except InvalidVersion:
        return False
    for affected in document.get("affected", []):
        package = affected.get("package", {})
        if package.get("ecosystem") != "PyPI" or normalize(package.get("name", "")) != name:
            continue
        if version in affected.get("versions", []):
            return True
        for rng in affected.get("ranges", []):
            if rng.get("type") == "ECOSYSTEM" and in_range(parsed, rng.get("events", [])):
                return True
    return False


def query(index: dict[str, list[Advisory]], body: dict[str, Any]) -> dict[str, Any]:
    name = normalize(body.get("package", {}).get("name", ""))
    version = str(body.get("version", ""))
    vulns = [doc for doc in index.get(name, []) if affects(doc, name, version)]
    return {"vulns": vulns} if vulns else {}


def serve(index: dict[str, list[Advisory]]) -> ThreadingHTTPServer:
    """Start the service on a free loopback port, in a daemon thread."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
            length = int(self.headers.get("Content-Length") or 0)
            answer = json.dumps(query(index, json.loads(self.rfile.read(length)))).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = [c for c in args.command if c != "--"]
    if not args.db.exists():
        print(f"audit: no advisories at {args.db}: run `make audit-refresh` where the "
              "network reaches them (README, Security)", file=sys.stderr)
        return 2
    index = load(args.db)
    if not index:
        print(f"audit: {args.db} holds no PyPI advisory", file=sys.stderr)
        return 2
    server = serve(index)
    url = f"http://127.0.0.1:{server.server_address[1]}/v1/query"
    print(f"audit: {sum(map(len, index.values()))} advisories for {len(index)} packages "
          f"from {args.db}", file=sys.stderr)
    try:
        return subprocess.call([*command, "--vulnerability-service", "osv", "--osv-url", url])
    finally:
        server.shutdown()


if __name__ == "__main__":
    sys.exit(main())
