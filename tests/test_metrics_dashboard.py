"""The Grafana dashboard (docker/grafana/mobility-id.json) asks only for what the provider
exports: a lint of every query's metric names and labels against the metrics that
idp.metrics and consent.metrics define, so that a typo or a renamed metric fails here
rather than as an empty panel in an operator's Grafana."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

import consent.metrics
import idp.metrics
from idp.metrics import StateCollector

DASHBOARD = Path(__file__).resolve().parent.parent / "docker" / "grafana" / "mobility-id.json"
FUNCTIONS = {"sum", "max", "min", "avg", "count", "rate", "irate", "increase",
             "histogram_quantile", "clamp_min", "topk"}
# Added by Prometheus to every series it scrapes.
TARGET_LABELS = {"instance", "job"}
SUFFIXES = {"counter": ("_total", "_created"), "gauge": ("",),
            "histogram": ("_bucket", "_count", "_sum", "_created")}
SELECTOR = re.compile(r"([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}")
MATCHER = re.compile(r"(\w+)\s*(?:=~|!~|!=|=)")
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
IDENTIFIER = re.compile(r"[a-zA-Z_:][\w:]*(\s*\()?")
LABEL_VALUES = re.compile(r"^label_values\((\w+),\s*(\w+)\)$")


@dataclass(frozen=True)
class Family:
    name: str
    kind: str
    labels: frozenset[str]


def exported() -> list[Family]:
    """The metric families the provider defines: counters and histograms of the modules,
    and the gauges its scrape-time collector reads."""
    families = [Family(m._name, m._type, frozenset(m._labelnames))
                for module in (idp.metrics, consent.metrics) for m in metrics_of(module)]
    families += [Family(f.name, f.type, frozenset(getattr(f, "_labelnames", ())))
                 for f in StateCollector().describe()]
    return families


def metrics_of(module: ModuleType) -> list[Any]:
    return [v for v in vars(module).values() if isinstance(v, MetricWrapperBase)]


def sample_labels() -> dict[str, frozenset[str]]:
    """Each series name a query may use, with the labels it carries."""
    names: dict[str, frozenset[str]] = {}
    for family in exported():
        for suffix in SUFFIXES[family.kind]:
            extra = {"le"} if suffix == "_bucket" else set()
            names[family.name + suffix] = family.labels | extra | TARGET_LABELS
    return names


def lint(expr: str, known: dict[str, frozenset[str]]) -> list[str]:
    """What is wrong with one query: unknown metrics, functions or labels."""
    problems: list[str] = []
    used = [name for name, _ in SELECTOR.findall(expr)]
    for name, matchers in SELECTOR.findall(expr):
        labels = set(MATCHER.findall(matchers))
        if name not in known:
            problems.append(f"unknown metric {name}")
        elif labels - known[name]:
            problems.append(f"{name} has no label {sorted(labels - known[name])}")
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\"[^\"]*\"", "", GROUPING.sub("", expr))
    for match in IDENTIFIER.finditer(bare):
        word = match.group(0).rstrip("( ")
        if match.group(1):
            if word not in FUNCTIONS:
                problems.append(f"unknown function {word}")
        elif word not in known:
            problems.append(f"unknown metric {word}")
        else:
            used.append(word)
    available = set().union(*(known.get(name, frozenset()) for name in used))
    for grouping in GROUPING.findall(expr):
        labels = {label.strip() for label in grouping.split(",")}
        if labels - available:
            problems.append(f"grouping by a label no series has: {sorted(labels - available)}")
    if not used:
        problems.append("no metric")
    return problems


def queries(dashboard: dict[str, Any]) -> list[str]:
    return [target["expr"] for panel in dashboard["panels"]
            for target in panel.get("targets", [])]


def lint_dashboard(dashboard: dict[str, Any]) -> list[str]:
    known = sample_labels()
    problems = [f"{expr}: {problem}" for expr in queries(dashboard)
                for problem in lint(expr, known)]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            metric, label = LABEL_VALUES.match(variable["definition"]).groups()  # type: ignore[union-attr]
            if label not in known.get(metric, frozenset()):
                problems.append(f"variable {variable['name']}: {metric} has no {label}")
    return problems


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def test_every_query_uses_only_exported_metrics_and_labels(dashboard: dict[str, Any]) -> None:
    assert lint_dashboard(dashboard) == []


def test_every_exported_metric_is_on_the_dashboard(dashboard: dict[str, Any]) -> None:
    used = {name for expr in queries(dashboard) for name, _ in SELECTOR.findall(expr)}
    shown = {f.name for f in exported()
             if any(f.name + suffix in used for suffix in SUFFIXES[f.kind])}
    assert shown == {f.name for f in exported()}


@pytest.mark.parametrize(("right", "typo", "says"), [
    ("idp_logins_total", "idp_login_total", "unknown metric idp_login_total"),
    ("sum by (grant_type)", "sum by (grant)", "grouping by a label no series has"),
    ('status=~"5..|429"', 'code=~"5..|429"', "has no label ['code']"),
    ("histogram_quantile(0.95", "histogram_quantil(0.95", "unknown function"),
    ("max(idp_outbox_pending_messages", "max(idp_outbox_pending",
     "unknown metric idp_outbox_pending"),
])
def test_the_lint_catches_a_typo(dashboard: dict[str, Any], right: str, typo: str,
                                 says: str) -> None:
    broken = copy.deepcopy(dashboard)
    target = next(t for p in broken["panels"] for t in p.get("targets", [])
                  if right in t["expr"])
    target["expr"] = target["expr"].replace(right, typo, 1)
    assert any(says in problem for problem in lint_dashboard(broken))


def test_panels_are_laid_out_and_use_the_chosen_data_source(dashboard: dict[str, Any]) -> None:
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    for panel in panels:
        assert panel["title"]
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}"
            assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
            assert all(t["refId"] and t["expr"] for t in panel["targets"])


def test_grafana_provisioning_loads_the_dashboard_from_prometheus() -> None:
    """The provisioning files parse, and load the dashboard from the directory their
    comment mounts it into, with a Prometheus data source for its variable."""
    provisioning = DASHBOARD.parent / "provisioning"
    dashboards = yaml.safe_load((provisioning / "dashboards" / "mobility-id.yaml").read_text())
    sources = yaml.safe_load((provisioning / "datasources" / "prometheus.yaml").read_text())
    (provider,) = dashboards["providers"]
    mount = f"{provider['options']['path']}/{DASHBOARD.name}:ro"
    assert provider["type"] == "file"
    assert mount in (provisioning / "dashboards" / "mobility-id.yaml").read_text()
    assert [s["type"] for s in sources["datasources"]] == ["prometheus"]
