"""What the container tests start: the entrypoint as a real process, with the ``idp`` and
``gunicorn`` commands of this interpreter's virtualenv and this checkout's code, in
production mode with its secrets given as files, on a scratch PostgreSQL database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from tests.conftest import KEK, POSTGRES_URL, SECRET_KEY

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
ENTRYPOINT = DOCKER / "entrypoint.sh"
REDIS_URL = os.environ.get("IDP_TEST_REDIS_URL", "redis://127.0.0.1:6379/1")


def scratch_url() -> str:
    """A database of its own, emptied by each test: migrations start from nothing there
    (the suite's database is migrated once per session). IDP_TEST_POSTGRES_SCRATCH_URL,
    else the suite's database name with ``_scratch`` appended."""
    configured = os.environ.get("IDP_TEST_POSTGRES_SCRATCH_URL")
    if configured:
        return configured
    return sa.make_url(POSTGRES_URL).set(
        database=f"{sa.make_url(POSTGRES_URL).database}_scratch").render_as_string(False)


def write_secrets(folder: Path) -> dict[str, str]:
    """The secrets as files, as compose's ``secrets:`` mounts them: ``*_FILE`` variables."""
    folder.mkdir(exist_ok=True)
    values = {"IDP_SECRET_KEY": SECRET_KEY, "IDP_KEY_ENCRYPTION_KEY": KEK}
    for name, value in values.items():
        (folder / name.lower()).write_text(value + "\n")
    return {f"{name}_FILE": str(folder / name.lower()) for name in values}


def production_environ(database_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The container's environment: production, the issuer on loopback http (behind a
    local TLS proxy, explicitly allowed), and nothing of the test process's IDP_ or FLASK_
    variables."""
    environ = {name: value for name, value in os.environ.items()
               if not name.startswith(("IDP_", "FLASK_"))}
    environ.update({
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{environ.get('PATH', '')}",
        "PYTHONPATH": str(ROOT),
        "IDP_ENV": "production",
        "IDP_ISSUER": "https://id.mobility.example",
        "IDP_DATABASE_URL": database_url.replace("postgresql://", "postgresql+psycopg://"),
        "IDP_REDIS_URL": REDIS_URL,
        "IDP_SMTP_URL": "smtp://127.0.0.1:1025",
    })
    environ.update(write_secrets(tmp_path / "secrets"))
    environ.update(extra)
    return environ


def start(role: str, environ: dict[str, str], cwd: Path, *args: str) -> subprocess.Popen[str]:
    """The entrypoint with ``sh``, as the image's ENTRYPOINT runs it."""
    return subprocess.Popen(["/bin/sh", str(ENTRYPOINT), role, *args], env=environ, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
