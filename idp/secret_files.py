"""Secrets that do not come from the plain environment: ``IDP_*_FILE`` files, as Docker
and Kubernetes mount secrets, and the development secrets generated once into the
instance folder. (idp.settings turns ``SecretFileError`` into its ConfigError.)"""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path


class SecretFileError(ValueError):
    """A ``*_FILE`` variable that cannot be used; the message names it, never a content."""


def generate_key() -> str:
    """32 random bytes, urlsafe base64 without padding: a secret key or a KEK."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def read_secret_files(environ: Mapping[str, str], variables: Iterable[str]) -> Mapping[str, str]:
    """Each of ``variables`` may come as ``<variable>_FILE``, the path of a file holding
    the value: the secret then stays out of the process environment (``docker
    inspect``, ``/proc/<pid>/environ``). One trailing newline is dropped. Errors name
    the variable and the path, never the content."""
    given = {var: environ[f"{var}_FILE"] for var in variables if environ.get(f"{var}_FILE")}
    if not given:
        return environ
    both = [var for var in given if environ.get(var)]
    if both:
        raise SecretFileError("Set either the variable or its _FILE form, not both: "
                              + ", ".join(f"{var} and {var}_FILE" for var in both) + ".")
    return {**environ, **{var: read_secret_file(var, path) for var, path in given.items()}}


def read_secret_file(var: str, path: str) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SecretFileError(f"{var}_FILE: cannot read {path} "
                              f"({exc.strerror or type(exc).__name__}).") from exc
    except UnicodeDecodeError as exc:
        raise SecretFileError(f"{var}_FILE: cannot read {path} (not UTF-8 text).") from exc
    return text.removesuffix("\n").removesuffix("\r")


def development_secrets(instance_path: Path) -> tuple[str, str]:
    """The secret key and KEK of a development instance: generated once into its folder,
    readable by the owner only, and read back afterwards."""
    path = instance_path / "secrets.json"
    stored: dict[str, str] = {}
    if path.exists():
        stored = json.loads(path.read_text())
    if not stored.get("secret_key") or not stored.get("key_encryption_key"):
        stored = {"secret_key": generate_key(), "key_encryption_key": generate_key()}
        instance_path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(stored, fh)
    return stored["secret_key"], stored["key_encryption_key"]
