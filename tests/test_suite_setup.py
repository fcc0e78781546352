"""What keeps the suite fast must not make it lie: a template changed on disk is never
served from the run's template cache, and each pytest-xdist worker gets databases that
no other worker uses."""

from __future__ import annotations

from pathlib import Path

import pytest
from jinja2 import Environment, FileSystemLoader

from tests.conftest import TemplateCache, worker_postgres_url
from tests.servers import worker_redis_url


def render(cache: TemplateCache, folder: Path) -> str:
    """A fresh environment, as each test's app has, sharing the run's cache."""
    environment = Environment(loader=FileSystemLoader(folder), bytecode_cache=cache,
                              autoescape=True)
    return environment.get_template("page.html").render(name="Awa")


def test_apps_share_a_compiled_template(tmp_path: Path) -> None:
    cache = TemplateCache()
    (tmp_path / "page.html").write_text("Bonjour {{ name }}")

    assert render(cache, tmp_path) == render(cache, tmp_path) == "Bonjour Awa"
    assert len(cache.compiled) == 1


def test_a_template_changed_on_disk_is_compiled_again(tmp_path: Path) -> None:
    cache = TemplateCache()
    (tmp_path / "page.html").write_text("Bonjour {{ name }}")
    render(cache, tmp_path)

    (tmp_path / "page.html").write_text("Hello {{ name }}")

    assert render(cache, tmp_path) == "Hello Awa"


@pytest.mark.parametrize(("worker", "expected"), [
    ("", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
    ("gw0", "postgresql+psycopg://postgres@127.0.0.1:5432/test_gw0"),
    ("gw1", "postgresql+psycopg://postgres@127.0.0.1:5432/test_gw1"),
])
def test_each_worker_has_its_own_postgresql_database(worker: str, expected: str) -> None:
    assert worker_postgres_url("postgresql+psycopg://postgres@127.0.0.1:5432/test",
                               worker) == expected


@pytest.mark.parametrize(("configured", "worker", "expected"), [
    ("redis://127.0.0.1:6379/0", "", "redis://127.0.0.1:6379/0"),
    ("redis://127.0.0.1:6379/0", "gw1", "redis://127.0.0.1:6379/1"),
    ("redis://127.0.0.1:6379", "gw1", "redis://127.0.0.1:6379/1"),
    ("redis://127.0.0.1:6379/12 redis://127.0.0.1:6379/6", "gw0", "redis://127.0.0.1:6379/12"),
    ("redis://127.0.0.1:6379/12 redis://127.0.0.1:6379/6", "gw1", "redis://127.0.0.1:6379/6"),
])
def test_each_worker_has_its_own_redis_database(configured: str, worker: str,
                                                expected: str) -> None:
    assert worker_redis_url(configured, worker) == expected
