"""The production WSGI application: ``gunicorn -c python:idp.gunicorn_conf idp.wsgi:app``.

The settings come from the ``IDP_*`` environment (and ``IDP_*_FILE`` files); an unsafe or
incomplete configuration stops the server with one line saying what to set."""

from __future__ import annotations

import sys

from idp import create_app
from idp.settings import ConfigError

try:
    app = create_app()
except ConfigError as error:
    sys.stderr.write(f"error: {error}\n")
    raise SystemExit(2) from None
