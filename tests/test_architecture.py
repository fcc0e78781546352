"""One dependency direction: ``consent`` and ``clients`` build on ``idp``, never the reverse.
The only exception is ``idp.create_app``, the one place that wires them (shared/STYLE.md)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

IDP = Path(__file__).resolve().parents[1] / "idp"
BUILT_ON_IDP = {"consent", "clients"}


def imported_packages(tree: ast.AST) -> Iterator[tuple[ast.stmt, str]]:
    """Each absolute import in ``tree``, with the top-level package it names."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node, node.module.split(".")[0]


def wiring_place(tree: ast.Module) -> set[int]:
    """The nodes inside ``create_app``'s body, where the wiring is allowed."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "create_app":
            return {id(inner) for stmt in node.body for inner in ast.walk(stmt)}
    return set()


def violations(path: Path, source: str) -> list[str]:
    tree = ast.parse(source, filename=str(path))
    allowed = wiring_place(tree) if path == IDP / "__init__.py" else set()
    return [f"{path.relative_to(IDP.parent)}:{node.lineno} imports {package}"
            for node, package in imported_packages(tree)
            if package in BUILT_ON_IDP and id(node) not in allowed]


def test_idp_never_imports_consent_or_clients() -> None:
    found = [v for path in sorted(IDP.rglob("*.py"))
             for v in violations(path, path.read_text(encoding="utf-8"))]

    assert found == []


def test_create_app_is_where_consent_and_clients_are_wired() -> None:
    tree = ast.parse((IDP / "__init__.py").read_text(encoding="utf-8"))
    allowed = wiring_place(tree)

    wired = {package for node, package in imported_packages(tree) if id(node) in allowed}

    assert wired >= BUILT_ON_IDP


@pytest.mark.parametrize("source", [
    "import consent",
    "import clients.registration as registration",
    "from consent.models import Grant",
    "from clients import demo",
    "def helper():\n    import consent\n",
    "def create_app():\n    pass\n\ndef other():\n    from clients import cli\n",
])
def test_the_walk_catches_an_import_outside_create_app(source: str) -> None:
    assert violations(IDP / "__init__.py", source)
    assert violations(IDP / "oauth" / "server.py", source)


def test_the_walk_ignores_lookalike_and_relative_imports() -> None:
    source = "from . import clients_form\nfrom .consent import step\nimport consentful\n"

    assert violations(IDP / "accounts" / "views.py", source) == []
