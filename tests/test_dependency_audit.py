"""``make audit`` works without the internet: pip-audit asks the local OSV service
(tests/osv_local.py), which reads advisories kept on disk."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.version import Version

from tests.osv_local import in_range, query

PIP_AUDIT = Path(sys.executable).with_name("pip-audit")


def advisory(ident: str, package: str, events: list[dict[str, str]]) -> dict[str, object]:
    return {"schema_version": "1.4.0", "id": ident, "modified": "2026-12-01T00:00:00Z",
            "summary": f"{ident} (made by the test)",
            "affected": [{"package": {"ecosystem": "PyPI", "name": package},
                          "ranges": [{"type": "ECOSYSTEM", "events": events}]}]}


@pytest.mark.parametrize(("events", "affected"), [
    ([{"introduced": "0"}], True),
    ([{"introduced": "0"}, {"fixed": "2.0"}], True),
    ([{"introduced": "0"}, {"fixed": "1.5"}], False),
    ([{"introduced": "1.6"}], False),
    ([{"introduced": "1.0"}, {"last_affected": "1.5"}], True),
    ([{"introduced": "1.0"}, {"last_affected": "1.4"}], False),
    ([{"introduced": "0"}, {"fixed": "1.2"}, {"introduced": "1.4"}, {"fixed": "1.6"}], True),
])
def test_ranges_follow_the_osv_schema(events: list[dict[str, str]], affected: bool) -> None:
    assert in_range(Version("1.5"), events) is affected


def test_query_matches_names_as_pypi_does() -> None:
    index = {"flask-wtf": [advisory("TEST-1", "Flask_WTF", [{"introduced": "0"}])]}
    assert query(index, {"package": {"name": "Flask-WTF", "ecosystem": "PyPI"},
                         "version": "1.2.1"})["vulns"][0]["id"] == "TEST-1"
    assert query(index, {"package": {"name": "flask", "ecosystem": "PyPI"},
                         "version": "1.2.1"}) == {}


def run_audit(db: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.osv_local", "--db", str(db), "--", str(PIP_AUDIT),
         "--skip-editable", "--progress-spinner", "off", "--format", "json",
         "--cache-dir", str(tmp_path / "cache")],
        capture_output=True, text=True, timeout=300, check=False)


def test_audit_reports_an_installed_vulnerable_version_offline(tmp_path: Path) -> None:
    installed = version("itsdangerous")
    db = tmp_path / "advisories"
    db.mkdir()
    (db / "TEST-HIT.json").write_text(json.dumps(advisory(
        "TEST-HIT", "itsdangerous", [{"introduced": "0"}, {"fixed": installed + ".post99"}])))
    (db / "TEST-MISS.json").write_text(json.dumps(advisory(
        "TEST-MISS", "itsdangerous", [{"introduced": "0"}, {"fixed": installed}])))
    result = run_audit(db, tmp_path)
    assert result.returncode == 1, result.stderr
    found = {(d["name"], v["id"]) for d in json.loads(result.stdout)["dependencies"]
             for v in d.get("vulns", [])}
    assert found == {("itsdangerous", "TEST-HIT")}


def test_audit_refuses_to_pass_without_advisories(tmp_path: Path) -> None:
    result = run_audit(tmp_path / "missing", tmp_path)
    assert result.returncode == 2
    assert "make audit-refresh" in result.stderr
