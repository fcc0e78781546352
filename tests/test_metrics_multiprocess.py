"""Metrics under the production command: gunicorn with two workers, each counting in its
own files (prometheus_client's multiprocess mode); a scrape, whichever worker serves it,
sums them all. A real login and consent over HTTP move the counters."""

from __future__ import annotations

import re
import secrets
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from html import unescape
from pathlib import Path
from urllib.parse import urlencode, urljoin

import pytest
import requests
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.parser import text_string_to_metric_families

from tests.browser import CHECKBOX, AuthorizationRequest, csrf_token, query_of
from tests.factories import Platform, Traveller
from tests.servers import Server, free_port, launch, production_environ, start

# Redis database 3, fixed here: under pytest-xdist every test that uses it runs in
# one worker, one after the other (both backends' included).
pytestmark = pytest.mark.xdist_group("redis-3")

TOKEN = secrets.token_urlsafe(32)
REDIS_URL = "redis://127.0.0.1:6379/3"
REQUESTS = 60
STALE = 1000.0
ACTION = re.compile(r'<form method="post" action="([^"]+)"')


@pytest.fixture
def metrics_dir(tmp_path: Path) -> Path:
    """The operator's directory: not there yet."""
    return tmp_path / "metrics"


@pytest.fixture
def server(request: pytest.FixtureRequest, database_url: str, tmp_path: Path,
           metrics_dir: Path) -> Iterator[Server]:
    param = dict(getattr(request, "param", {}))
    if param.pop("stale", False):
        stale_counts(metrics_dir)
    port = free_port()
    environ = production_environ(database_url, port, IDP_METRICS_TOKEN=TOKEN,
                                 IDP_REDIS_URL=REDIS_URL,
                                 PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
                                 **param)
    running = start(environ, tmp_path / "gunicorn.log")
    yield running
    running.stop()


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(server: Server) -> Samples:
    response = requests.get(f"{server.url}/metrics", timeout=10,
                            headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.status_code
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.text)
            for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return sum(v for (n, found), v in samples.items()
               if n == name and set(labels.items()) <= found)


@pytest.mark.parametrize("server", [{"IDP_WORKER_CLASS": "sync", "IDP_MAX_REQUESTS": "20",
                                     "stale": True}], indirect=True)
def test_a_scrape_sums_the_counts_of_every_worker(server: Server, metrics_dir: Path) -> None:
    """Sync workers take one request at a time, so concurrent requests spread over both;
    each is replaced after about 20 requests, and the counts of those that left stay in
    the sums."""
    def probe(_: int) -> int:
        return requests.get(f"{server.url}/healthz", timeout=10).status_code

    def probes(samples: Samples) -> tuple[float, float]:
        return (value(samples, "idp_http_requests_total", endpoint="health.liveness",
                      status="200"),
                value(samples, "idp_http_request_duration_seconds_count",
                      endpoint="health.liveness"))

    count, timed = probes(scrape(server))  # start() waited on /healthz
    assert count < STALE  # an earlier run's counts were wiped at start
    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(probe, range(REQUESTS))) == {200}

    # Several scrapes, served by either worker: each sees every request.
    for _ in range(4):
        assert probes(scrape(server)) == (count + REQUESTS, timed + REQUESTS)
    workers = {path.stem.rsplit("_", 1)[1] for path in metrics_dir.glob("counter_*.db")}
    assert len(workers) >= 3, "the requests were served by too few worker processes"
    assert server.stop() == 0


def stale_counts(directory: Path) -> None:
    """What a run before this one left: its count of liveness probes."""
    directory.mkdir()
    stale = MmapedDict(str(directory / "counter_99999999.db"))
    key = mmap_key("idp_http_requests", "idp_http_requests_total",
                   ["endpoint", "method", "status"], ["health.liveness", "GET", "200"],
                   "HTTP requests answered")
    stale.write_value(key, STALE, 0.0)
    stale.close()


def test_a_real_login_and_consent_move_the_counters(server: Server, user: Traveller,
                                                    platform: Platform) -> None:
    before = scrape(server)
    http = requests.Session()
    request = AuthorizationRequest(platform.client_id, platform.redirect_uri,
                                   scope="openid email")
    page = follow(http, server, f"{server.url}/authorize?{urlencode(request.params())}")
    assert "/login" in page.url
    page = follow(http, server, page.url, data={
        "csrf_token": csrf_token(page.text), "email": user.email, "password": user.password})
    assert ACTION.search(page.text), "no consent screen"
    choices: dict[str, list[str]] = {}
    for name, ticked in CHECKBOX.findall(page.text):
        choices.setdefault(name, []).append(unescape(ticked))
    answer = follow(http, server, urljoin(page.url, unescape(ACTION.findall(page.text)[-1])),
                    data={"csrf_token": csrf_token(page.text), "decision": "allow", **choices})
    assert answer.status_code == 302 and "code" in query_of(answer.headers["Location"])

    after = scrape(server)
    moved = {name: value(after, name, **labels) - value(before, name, **labels)
             for name, labels in [("idp_logins_total", {"outcome": "success"}),
                                  ("idp_consents_total", {"event": "given",
                                                          "client_id": platform.client_id})]}
    assert moved == {"idp_logins_total": 1, "idp_consents_total": 1}
    assert server.stop() == 0
    assert "Traceback" not in server.output


def follow(http: requests.Session, server: Server, url: str,
           data: dict[str, object] | None = None) -> requests.Response:
    """Post (or get) and follow the provider's own redirects; stop at one leaving it."""
    headers = {"Referer": url}
    if data is None:
        response = http.get(url, timeout=10, allow_redirects=False)
    else:
        response = http.post(url, data=data, headers=headers, timeout=10,
                             allow_redirects=False)
    while response.is_redirect:
        location = urljoin(response.url, response.headers["Location"])
        if not location.startswith(server.url):
            return response
        response = http.get(location, timeout=10, allow_redirects=False)
    return response


def made_dirs() -> set[Path]:
    return set(Path(gunicorn_conf_shm()).glob("idp-metrics-*"))


def gunicorn_conf_shm() -> str:
    shm = "/dev/shm"  # noqa: S108 - where idp.gunicorn_conf makes its directory
    return shm if Path(shm).is_dir() else tempfile.gettempdir()


def test_without_a_directory_named_one_is_made_for_the_run_and_removed(
        database_url: str, tmp_path: Path) -> None:
    before = made_dirs()
    # No directory named, as a bare production environment (tests.servers.launch gives
    # the other tests' servers theirs, so that no other test's appears in /dev/shm).
    environ = production_environ(database_url, free_port(), IDP_METRICS_TOKEN=TOKEN,
                                 IDP_REDIS_URL=REDIS_URL, PROMETHEUS_MULTIPROC_DIR="")
    server = start(environ, tmp_path / "gunicorn.log")
    try:
        requests.get(f"{server.url}/healthz", timeout=10)
        assert value(scrape(server), "idp_http_requests_total",
                     endpoint="health.liveness") >= 1
        (made,) = made_dirs() - before
        assert made.stat().st_mode & 0o777 == 0o700
    finally:
        assert server.stop() == 0
    assert made_dirs() == before

    failed = launch(environ | {"IDP_SECRET_KEY": "too short"}, tmp_path / "failed.log")
    failed.process.wait(30)
    failed.stop()
    assert failed.process.returncode != 0
    assert made_dirs() == before
