"""docker/ checked statically (no container engine runs here): the image is multi-stage,
slim, without compilers, runs as a non-root user with a health check; the compose stack
has its services, two replicas, secrets as files and the proxy trusted by address. Each
check is also shown to catch a wrong file."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from idp.proxies import parse_networks
from idp.settings import decode_key, load_settings
from tests.docker.lint import compose_problems, dockerfile_problems
from tests.docker.processes import DOCKER

DOCKERFILE = (DOCKER / "Dockerfile").read_text()
CADDYFILE = (DOCKER / "Caddyfile").read_text()


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    return data


def test_the_dockerfile_is_right() -> None:
    assert dockerfile_problems(DOCKERFILE) == []


FINAL = "FROM python:${PYTHON_VERSION}-slim-bookworm AS final"


@pytest.mark.parametrize(("old", "new", "problem"), [
    (FINAL, "FROM python:${PYTHON_VERSION}-bookworm AS final", "not a slim Python"),
    (FINAL, "FROM builder AS final", "starts from the builder"),
    ("WORKDIR /app\nUSER", "RUN apt-get update && apt-get install -y gcc\nWORKDIR /app\nUSER",
     "installs compilers"),
    ("pybabel -q compile -d idp/translations", "true", "compiles the translations"),
    ("USER 10001:10001", "", "non-root USER"),
    ("USER 10001:10001", "USER root", "non-root USER"),
    ("HEALTHCHECK --interval", "# HEALTHCHECK --interval", "no HEALTHCHECK"),
    ('CMD ["python", "/usr/local/bin/idp-healthcheck"]', 'CMD ["curl", "localhost"]',
     "does not run docker/healthcheck.py"),
    ('ENTRYPOINT ["/usr/local/bin/idp-entrypoint"]', "ENTRYPOINT /usr/local/bin/idp-entrypoint",
     "ENTRYPOINT"),
    ("EXPOSE 8000", "", "EXPOSE 8000"),
])
def test_a_wrong_dockerfile_is_caught(old: str, new: str, problem: str) -> None:
    assert old in DOCKERFILE
    wrong = DOCKERFILE.replace(old, new)

    assert any(problem in found for found in dockerfile_problems(wrong)), \
        dockerfile_problems(wrong)


def test_a_single_stage_dockerfile_is_caught() -> None:
    final_only = DOCKERFILE[DOCKERFILE.index(FINAL):]

    assert dockerfile_problems(final_only) == ["the Dockerfile is not multi-stage"]


def test_the_image_leaves_out_the_local_state() -> None:
    ignored = set((DOCKER / "Dockerfile.dockerignore").read_text().split())

    assert {".git", ".venv", "instance", "docker/secrets", "**/__pycache__",
            ".pytest_cache"} <= ignored


def test_the_compose_stack_is_right() -> None:
    assert compose_problems(compose(), CADDYFILE) == []


def drop(path: str) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = data
        for part in parents:
            node = node[part]
        del node[last]
    return change


def setting(service: str, var: str, value: str) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data["services"][service]["environment"][var] = value
    return change


@pytest.mark.parametrize(("change", "problem"), [
    (drop("services.mailpit"), "no service mailpit"),
    (drop("services.scheduler"), "no service scheduler"),
    (drop("services.idp.deploy"), "2 replicas"),
    (drop("services.worker.depends_on.migrate"), "worker does not wait for the migration"),
    (drop("services.scheduler.healthcheck"), "keeps the image's HTTP health check"),
    (setting("idp", "IDP_WORKER", "3"), "sets IDP_WORKER, which nothing reads"),
    (setting("worker", "IDP_SECRET_KEY", "x" * 40), "not as a secret file"),
    (setting("idp", "IDP_SMTP_URL_FILE", "/run/secrets/smtp"), "not a secret it mounts"),
    (setting("idp", "IDP_TRUSTED_PROXY_ADDRESSES", "172.28.0.0/16"), "proxy's fixed address"),
    (setting("idp", "IDP_ISSUER", "https://localhost"), "does not serve the issuer"),
    (drop("services.mailpit.ports"), "8025"),
])
def test_a_wrong_compose_file_is_caught(change: Callable[[dict[str, Any]], None],
                                        problem: str) -> None:
    wrong = copy.deepcopy(compose())
    change(wrong)

    problems = compose_problems(wrong, CADDYFILE)

    assert any(problem in found for found in problems), problems


def generated_secrets(tmp_path: Path) -> Path:
    """docker/secrets/generate.sh run for real, in a copy of the folder."""
    folder = tmp_path / "secrets"
    folder.mkdir()
    shutil.copy(DOCKER / "secrets" / "generate.sh", folder)
    done = subprocess.run(["/bin/sh", str(folder / "generate.sh")], capture_output=True,
                          text=True, timeout=30, check=True)
    # Every secret compose mounts, and nothing else.
    assert sorted(re.findall(r"generated docker/secrets/(\S+)", done.stdout)) == sorted(
        Path(entry["file"]).name for entry in compose()["secrets"].values())
    return folder


@pytest.mark.parametrize("service", ["idp", "migrate", "worker", "scheduler"])
def test_the_compose_settings_load_in_production(tmp_path: Path, service: str) -> None:
    """Each provider service's environment, with the generated secrets where compose
    mounts them, is a complete production configuration."""
    folder = generated_secrets(tmp_path)
    environment = {var: value.replace("/run/secrets/", f"{folder}/") for var, value in
                   compose()["services"][service]["environment"].items()}

    settings = load_settings(tmp_path / "instance", environ=environment)

    assert settings.is_production and settings.issuer == "https://localhost:8443"
    assert settings.database_url.startswith("postgresql+psycopg://idp:")
    assert len(decode_key(settings.key_encryption_key)) == 32
    assert parse_networks(settings.trusted_proxy_addresses)


def test_generating_the_secrets_again_keeps_them(tmp_path: Path) -> None:
    folder = generated_secrets(tmp_path)
    before = {path.name: path.read_text() for path in folder.iterdir()}

    again = subprocess.run(["/bin/sh", str(folder / "generate.sh")], capture_output=True,
                           text=True, timeout=30, check=True)

    assert again.stdout.count("kept") == len(compose()["secrets"])
    assert {path.name: path.read_text() for path in folder.iterdir()} == before
    assert (folder.stat().st_mode & 0o777) == 0o700


def test_prometheus_scrapes_every_metrics_port_with_the_token() -> None:
    """docker/prometheus.yml against compose: the replicas (by DNS) and the worker, on
    the port IDP_METRICS_BIND opens, with the token file compose mounts for it."""
    scrape = yaml.safe_load((DOCKER / "prometheus.yml").read_text())["scrape_configs"]
    services = compose()["services"]
    port = int(services["idp"]["environment"]["IDP_METRICS_BIND"].rsplit(":", 1)[1])
    token = services["idp"]["environment"]["IDP_METRICS_TOKEN_FILE"]

    dns = [entry for job in scrape for entry in job.get("dns_sd_configs", [])]
    static = [target for job in scrape for entry in job.get("static_configs", [])
              for target in entry["targets"]]

    assert [(entry["names"], entry["port"]) for entry in dns] == [(["idp"], port)]
    assert static == [f"worker:{port}"]
    assert services["worker"]["environment"]["IDP_METRICS_BIND"].endswith(f":{port}")
    assert {job["authorization"]["credentials_file"] for job in scrape} == {token}
    assert Path(token).name in services["prometheus"]["secrets"]
