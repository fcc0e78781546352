"""What keeps the suite fast must not make it lie: a template changed on disk is never
served from the run's template cache, a URL builder shared between apps builds what
werkzeug's own would, and each pytest-xdist worker gets databases that no other worker
uses."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from jinja2 import Environment, FileSystemLoader
from werkzeug.routing import Map, Rule
from werkzeug.routing.converters import NumberConverter

from tests.conftest import (
    TemplateCache,
    _compile_url_builder,
    _shared_url_builder,
    worker_postgres_url,
)
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


def test_every_route_builds_the_url_werkzeug_builds(app: Flask) -> None:
    """Each rule of a real app, with its path's values and an unknown one for the query."""
    assert Rule._compile_builder is _shared_url_builder
    for rule in app.url_map.iter_rules():
        values = {name: 7 if isinstance(rule._converters[name], NumberConverter) else "a b/é"
                  for name in rule.arguments - set(rule.defaults or {})}
        for append_unknown in (False, True):
            shared = _shared_url_builder(rule, append_unknown).__get__(rule, None)
            own = _compile_url_builder(rule, append_unknown).__get__(rule, None)
            assert shared(**values, extra="1 2") == own(**values, extra="1 2"), rule.rule


def test_rules_that_differ_get_builders_of_their_own() -> None:
    """Same path, other defaults or converters: each builds its own URL."""
    url_map = Map([Rule("/page/<int:number>", endpoint="a", defaults={"number": 1}),
                   Rule("/page/<int:number>", endpoint="b", defaults={"number": 2}),
                   Rule("/page/<int(fixed_digits=3):number>", endpoint="c"),
                   Rule("/page/<number>", endpoint="d")])
    adapter = url_map.bind("idp.test")

    assert [adapter.build(endpoint, {"number": 7}) for endpoint in "cd"] == \
        ["/page/007", "/page/7"]
    assert [adapter.build(endpoint) for endpoint in "ab"] == ["/page/1", "/page/2"]
    # While the same rule in another map (another app's) shares its code.
    again = Map([Rule("/page/<number>", endpoint="d")])
    assert again._rules[0]._build.__func__ is url_map._rules[3]._build.__func__  # type: ignore[attr-defined]


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
