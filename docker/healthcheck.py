#!/usr/bin/env python3
"""The image's HEALTHCHECK: ``GET /healthz`` on this container's gunicorn, exit 0 on a 200.

The slim image has no curl, and importing the provider would cost a second of CPU per
check: the standard library only. The request names the issuer's host (``IDP_ISSUER`` or
``IDP_ISSUER_FILE``), as the proxy's requests do, so that the trusted-host check
(idp/urls.py) lets it through without adding a name to ``IDP_EXTRA_HOSTS``."""

from __future__ import annotations

import http.client
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

TIMEOUT = 3  # seconds; Docker's own --timeout stops a hung check anyway
WILDCARDS = ("", "0.0.0.0", "::", "[::]")  # noqa: S104 - what gunicorn listens on, not us


def issuer() -> str:
    path = os.environ.get("IDP_ISSUER_FILE")
    if path:
        return Path(path).read_text(encoding="utf-8").strip()
    return os.environ.get("IDP_ISSUER", "http://127.0.0.1:5000")


def address() -> tuple[str, int]:
    """Where gunicorn listens (IDP_BIND's first address, idp/gunicorn_conf.py)."""
    bind = os.environ.get("IDP_BIND", "0.0.0.0:8000").split(",")[0].strip()  # noqa: S104
    host, _, port = bind.rpartition(":")
    return ("127.0.0.1" if host in WILDCARDS else host.strip("[]")), int(port)


def main() -> int:
    host, port = address()
    connection = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
    try:
        connection.request("GET", "/healthz", headers={"Host": urlsplit(issuer()).netloc})
        status = connection.getresponse().status
    except OSError as error:
        print(f"healthcheck: {host}:{port} unreachable ({type(error).__name__})",
              file=sys.stderr)
        return 1
    finally:
        connection.close()
    if status != 200:
        print(f"healthcheck: /healthz answered {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
