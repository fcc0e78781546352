"""Secrets from files: every ``IDP_*`` variable may come as ``IDP_*_FILE``, the path of
a file holding the value, as Docker and Kubernetes secrets are mounted."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from idp.settings import ENV_NAMES, ConfigError, Settings, load_settings
from tests.conftest import KEK, SECRET_KEY
from tests.test_settings import PRODUCTION, without

ROOT = Path(__file__).resolve().parent.parent


def secret(tmp_path: Path, name: str, content: str) -> str:
    path = tmp_path / name
    path.write_text(content)
    path.chmod(0o400)
    return str(path)


def test_production_reads_its_secrets_from_files(tmp_path: Path) -> None:
    environ = without(PRODUCTION, "IDP_SECRET_KEY", "IDP_KEY_ENCRYPTION_KEY", "IDP_SMTP_URL")
    environ |= {
        "IDP_SECRET_KEY_FILE": secret(tmp_path, "secret_key", SECRET_KEY + "\n"),
        "IDP_KEY_ENCRYPTION_KEY_FILE": secret(tmp_path, "kek", KEK),
        "IDP_SMTP_URL_FILE": secret(tmp_path, "smtp", "smtp://idp:pw@mail:587\r\n"),
    }

    settings = load_settings(tmp_path / "instance", environ=environ)

    assert settings.secret_key == SECRET_KEY  # the trailing newline dropped
    assert settings.key_encryption_key == KEK
    assert settings.smtp_url == "smtp://idp:pw@mail:587"
    assert not (tmp_path / "instance" / "secrets.json").exists()


def test_only_one_trailing_newline_is_dropped(tmp_path: Path) -> None:
    environ = {"IDP_MAIL_FROM_FILE": secret(tmp_path, "from", "  Mobility ID  \n\n")}

    assert load_settings(tmp_path, environ=environ).mail_from == "  Mobility ID  \n"


@pytest.mark.parametrize("variable", sorted(ENV_NAMES.values()))
def test_every_setting_has_a_file_form(tmp_path: Path, variable: str) -> None:
    """The file's content takes the variable's place, converted the same way."""
    plain = load_settings(tmp_path, environ={variable: example(variable)})
    from_file = load_settings(tmp_path, environ={
        f"{variable}_FILE": secret(tmp_path, "value", example(variable) + "\n")})

    assert from_file == plain


def example(variable: str) -> str:
    """A valid value, not the default, for each variable (in development)."""
    special = {"IDP_ENV": "testing", "IDP_ISSUER": "https://id.example",
               "IDP_KEY_ENCRYPTION_KEY": KEK, "IDP_TIMEZONE": "Europe/Lisbon",
               "IDP_TRUSTED_PROXY_ADDRESSES": "10.0.0.0/8", "IDP_LOG_LEVEL": "warning",
               "IDP_LOG_FORMAT": "json", "IDP_HELP_EMAIL": "aide@mobilite.example",
               "IDP_HELP_PHONE": "+33 1 99 00 12 34", "IDP_HELP_URL": "https://aide.example",
               "IDP_INTERACTION_LIFETIME": "3000",
               "IDP_SMS_URL": "brevo://xkeysib-example@api.brevo.com?sender=MobilityID"}
    name = next(name for name, var in ENV_NAMES.items() if var == variable)
    kind = str(TYPES[name])
    if variable in special:
        return special[variable]
    if kind == "int":
        return "70"  # above every setting's own minimum (IDP_DPOP_NONCE_WINDOW: 10)
    if kind == "bool":
        return "1"
    if kind.startswith("tuple"):
        return "localhost,idp"
    return "value-of-" + variable.lower()


TYPES = {f.name: f.type for f in fields(Settings)}


def test_a_variable_and_its_file_together_are_refused_naming_both(tmp_path: Path) -> None:
    environ = {"IDP_SECRET_KEY": SECRET_KEY,
               "IDP_SECRET_KEY_FILE": secret(tmp_path, "secret_key", SECRET_KEY)}

    with pytest.raises(ConfigError, match="IDP_SECRET_KEY and IDP_SECRET_KEY_FILE"):
        load_settings(tmp_path, environ=environ)


@pytest.mark.parametrize("problem", ["missing", "directory", "unreadable", "binary"])
def test_an_unusable_file_is_refused_naming_variable_and_path_only(tmp_path: Path,
                                                                   problem: str) -> None:
    path = tmp_path / "kek"
    if problem == "directory":
        path.mkdir()
    elif problem == "unreadable":
        path.write_text(KEK)
        path.chmod(0)
    elif problem == "binary":
        path.write_bytes(b"\xff\xfe" + KEK.encode())
    if problem == "unreadable" and _can_read(path):
        pytest.skip("running as root: every file is readable")

    with pytest.raises(ConfigError) as refused:
        load_settings(tmp_path, environ={"IDP_KEY_ENCRYPTION_KEY_FILE": str(path)})

    message = str(refused.value)
    assert message.startswith(f"IDP_KEY_ENCRYPTION_KEY_FILE: cannot read {path} (")
    assert KEK not in message and KEK[:8] not in message


def _can_read(path: Path) -> bool:
    try:
        path.read_bytes()
    except OSError:
        return False
    return True


def test_an_empty_file_variable_is_ignored(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={"IDP_ISSUER": "https://id.example",
                                                "IDP_ISSUER_FILE": ""})

    assert settings.issuer == "https://id.example"


def test_the_idp_command_reports_a_missing_secret_file_in_one_line(tmp_path: Path) -> None:
    idp = Path(sys.executable).parent / "idp"
    missing = tmp_path / "nowhere" / "secret_key"
    environ = without(PRODUCTION, "IDP_SECRET_KEY") | {"IDP_SECRET_KEY_FILE": str(missing),
                                                      "PYTHONPATH": str(ROOT)}

    done = subprocess.run([str(idp), "clients", "list"], env=environ, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)

    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: IDP_SECRET_KEY_FILE: cannot read {missing} (No such file or directory)."]

