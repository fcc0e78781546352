"""Static checks of docker/: what the image and the compose stack must be, read from the
files themselves, since no container engine runs where the tests do. Each check returns
the problems it found (an empty list: the file is right), so that tests can also show
that a wrong file is caught."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from idp.settings import ENV_NAMES

ROOT = Path(__file__).resolve().parents[2]
COMPILERS = {"build-essential", "gcc", "g++", "clang", "make", "cpp", "libc6-dev",
             "python3-dev", "musl-dev", "rustc", "cargo"}
ROOTS = {"root", "0", "root:root", "0:0"}
SERVICES = {"idp", "migrate", "worker", "scheduler", "db", "redis", "mailpit", "proxy"}
ROLES = {"idp": ["serve"], "migrate": ["migrate"], "worker": ["worker"],
         "scheduler": ["scheduler"]}
PLAIN_SECRETS = ("IDP_SECRET_KEY", "IDP_KEY_ENCRYPTION_KEY", "IDP_DATABASE_URL")


@dataclass
class Stage:
    image: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def parse_dockerfile(text: str) -> list[Stage]:
    """Instructions by stage; continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(
        line for line in text.splitlines() if not line.lstrip().startswith("#")))
    stages: list[Stage] = []
    for line in joined.splitlines():
        keyword, _, args = line.strip().partition(" ")
        if not keyword:
            continue
        if keyword.upper() == "FROM":
            words = args.split()
            name = words[2] if len(words) > 2 and words[1].upper() == "AS" else ""
            stages.append(Stage(words[0], name))
        elif stages:
            stages[-1].instructions.append((keyword.upper(), args.strip()))
    return stages


def dockerfile_problems(text: str) -> list[str]:
    stages = parse_dockerfile(text)
    if len(stages) < 2:
        return ["the Dockerfile is not multi-stage"]
    final, builders = stages[-1], stages[:-1]
    problems = []
    if not re.fullmatch(r"python:\S*slim\S*", final.image):
        problems.append(f"the final stage is not a slim Python image: {final.image}")
    if final.image in {stage.name for stage in builders}:
        problems.append("the final stage starts from the builder, compilers included")
    if COMPILERS & installed_packages(final):
        problems.append("the final stage installs compilers")
    if not any("pybabel" in run and "compile" in run for s in builders for run in s.args("RUN")):
        problems.append("no builder stage compiles the translations")
    users = final.args("USER")
    if not users or users[-1] in ROOTS:
        problems.append("the final stage does not run as a non-root USER")
    copies = {copy_target(args): copy_source(args) for args in final.args("COPY")}
    problems += entry_problems(final, copies)
    if "8000" not in " ".join(final.args("EXPOSE")).split():
        problems.append("the final stage does not EXPOSE 8000 (IDP_BIND's port)")
    return problems


def entry_problems(final: Stage, copies: dict[str, str]) -> list[str]:
    problems = []
    checks = final.args("HEALTHCHECK")
    if not checks or checks[-1].upper() == "NONE" or "CMD" not in checks[-1].split():
        problems.append("the final stage has no HEALTHCHECK")
    elif not any(copies.get(word) == "docker/healthcheck.py"
                 for word in re.findall(r'"([^"]+)"', checks[-1])):
        problems.append("the HEALTHCHECK does not run docker/healthcheck.py")
    entry = final.args("ENTRYPOINT")
    if not entry or not entry[-1].startswith("[") or \
            copies.get(re.findall(r'"([^"]+)"', entry[-1])[0]) != "docker/entrypoint.sh":
        problems.append("the ENTRYPOINT is not docker/entrypoint.sh in exec form")
    return problems


def installed_packages(stage: Stage) -> set[str]:
    words: set[str] = set()
    for run in stage.args("RUN"):
        for command in re.split(r"&&|;|\|\|", run):
            parts = shlex.split(command)
            if {"install", "add"} & set(parts) and {"apt-get", "apt", "apk"} & set(parts):
                words |= {part for part in parts if not part.startswith("-")}
    return words


def copy_source(args: str) -> str:
    return [word for word in args.split() if not word.startswith("--")][0]


def copy_target(args: str) -> str:
    return args.split()[-1]


def process_variables() -> set[str]:
    """The IDP_* variables read outside the settings: gunicorn's and the entrypoint's."""
    gunicorn = (ROOT / "idp" / "gunicorn_conf.py").read_text()
    entrypoint = (ROOT / "docker" / "entrypoint.sh").read_text()
    return (set(re.findall(r'"(IDP_[A-Z_]+)"', gunicorn))
            | set(re.findall(r"\$\{(IDP_[A-Z_]+)", entrypoint)))


def allowed_variables() -> set[str]:
    names = set(ENV_NAMES.values())
    return names | {f"{name}_FILE" for name in names} | process_variables()


def compose_problems(compose: dict[str, Any], caddyfile: str) -> list[str]:
    services: dict[str, Any] = compose.get("services", {})
    problems = [f"no service {name}" for name in sorted(SERVICES - set(services))]
    if problems:
        return problems
    if services["idp"].get("deploy", {}).get("replicas") != 2:
        problems.append("the provider does not run 2 replicas")
    for name, command in ROLES.items():
        if services[name].get("command") != command:
            problems.append(f"{name} does not run the entrypoint's {command[0]} role")
        if name != "idp" and not services[name].get("healthcheck", {}).get("disable"):
            problems.append(f"{name} keeps the image's HTTP health check")
        if name != "migrate" and (services[name].get("depends_on", {}).get("migrate", {})
                                  .get("condition") != "service_completed_successfully"):
            problems.append(f"{name} does not wait for the migration to complete")
    for name, service in services.items():
        problems += environment_problems(name, service, compose.get("secrets", {}))
    return problems + proxy_problems(services, caddyfile)


def environment_problems(name: str, service: dict[str, Any],
                         declared: dict[str, Any]) -> list[str]:
    environment: dict[str, str] = service.get("environment", {})
    problems = [f"{name} sets {var}, which nothing reads" for var in environment
                if var.startswith("IDP_") and var not in allowed_variables()]
    problems += [f"{name} sets {var} in the environment, not as a secret file"
                 for var in PLAIN_SECRETS if var in environment]
    for var, path in environment.items():
        if var.startswith("IDP_") and var.endswith("_FILE"):
            secret = path.removeprefix("/run/secrets/")
            if secret not in service.get("secrets", []) or secret not in declared:
                problems.append(f"{name}: {var} names {path}, not a secret it mounts")
    return problems


def proxy_problems(services: dict[str, Any], caddyfile: str) -> list[str]:
    environment = services["idp"]["environment"]
    issuer = environment.get("IDP_ISSUER", "")
    problems = []
    if not issuer.startswith("https://"):
        problems.append("the issuer is not https")
    if not re.search(rf"^{re.escape(issuer)} {{", caddyfile, re.M):
        problems.append(f"the Caddyfile does not serve the issuer {issuer}")
    port = issuer.rsplit(":", 1)[-1] if issuer.count(":") == 2 else "443"
    if f"{port}:{port}" not in services["proxy"].get("ports", []):
        problems.append(f"the proxy does not publish the issuer's port {port}")
    addresses = [network.get("ipv4_address") for network in
                 (services["proxy"].get("networks") or {}).values() if network]
    trusted = environment.get("IDP_TRUSTED_PROXY_ADDRESSES", "")
    if environment.get("IDP_TRUSTED_PROXIES") != "1" or not addresses or \
            any(f"{address}/32" not in trusted.split(",") for address in addresses):
        problems.append("IDP_TRUSTED_PROXIES / IDP_TRUSTED_PROXY_ADDRESSES do not name "
                        "the proxy's fixed address")
    if not any(port.endswith(":8025") for port in services["mailpit"].get("ports", [])):
        problems.append("mailpit's web UI (8025) is not published")
    return problems
