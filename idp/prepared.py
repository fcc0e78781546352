"""Discovery and JWKS answered as prepared bytes (issue 13, part 5).

Both documents are the same for every request until the keys change, yet a plain GET of
either went through all of Flask: the request context, the guard, the hooks, the ETag
machinery, the security headers, about 0.3 ms of CPU above a bare Flask "hello", where
node-oidc-provider serves discovery for half of that "hello".

``PreparedResponses`` sits under every other WSGI layer (the proxy fix and the request
id wrap it), and keeps the answer Flask last gave, byte for byte: status, headers and
body. It replays it only for a request Flask would answer the same way:

- a GET of the route's own path, no query string, no body, no Authorization or Cookie
  header, no conditional or range header (those go to Flask, which answers 304 or 412);
- a Host and scheme for which Flask already gave this answer (so an untrusted Host still
  gets Flask's 400: nothing here decides which hosts are trusted);
- the same version of the document: discovery never changes within a process; the JWKS
  carries its ETag, and the key store says whether its cache is still fresh without a
  database round trip (``KeyStore.fresh_etag``). When it is not, or after a rotation in
  this process (``KeyStore.invalidate``), the request goes to Flask, whose answer
  replaces the kept one.

Only ``Date`` is written anew. The replay still counts in the metrics (same endpoint,
method and status) and stamps the route for the access log, as Flask's hooks would. A
view opts in with ``offer``: nothing else is ever kept, nor an answer that sets a
cookie or varies by request (``Set-Cookie``, ``Vary``).

A route may also be *computed* (``serve_computed``): its body is made here for each
request, and only the status and headers are the ones Flask kept (``Content-Length``
and ``Date`` written anew). Userinfo is one (``idp.oauth.userinfo_direct``): each answer
is one traveller's, yet the headers of every 200 are the same. The route says which
requests it takes (``accepts``), and its ``compute`` may still leave any of them to
Flask by returning None: whatever it does not answer, Flask answers, as before.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask import Flask, request
from werkzeug.http import http_date

from idp.access_log import ROUTE

OFFER = "idp.prepared.offer"  # the environ key a view leaves its document's version in
# Headers after which Flask's answer may differ from the kept one.
SENT_TO_FLASK = ("QUERY_STRING", "CONTENT_TYPE", "HTTP_AUTHORIZATION", "HTTP_COOKIE",
                 "HTTP_IF_NONE_MATCH", "HTTP_IF_MATCH", "HTTP_IF_MODIFIED_SINCE",
                 "HTTP_IF_UNMODIFIED_SINCE", "HTTP_IF_RANGE", "HTTP_RANGE")
# An answer with one of these is somebody's own, or differs by request or by the
# minute (RFC 9449 8's nonce, when the operator turns nonces on): never kept.
PERSONAL = frozenset({"set-cookie", "vary", "dpop-nonce"})

Version = Callable[[], str | None]  # the document's version now, None to ask Flask
Accepts = Callable[[dict[str, Any]], bool]  # whether a request may be answered here
Compute = Callable[[dict[str, Any]], bytes | None]  # a computed 200's body, None: Flask
# endpoint, method, status, seconds, and the request's environ
Observer = Callable[[str, str, str, float, dict[str, Any]], None]
# Where a computed answer that issued a token leaves its grant type, for the metrics.
ISSUED = "idp.prepared.issued"
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class Served:
    """A route answered from here: its Flask endpoint (for the metrics) and how to read
    its document's version. Its rule has no variable part: the rule is the path. A
    computed one makes its body per request."""
    endpoint: str
    version: Version
    accepts: Accepts
    compute: Compute | None = None


@dataclass(frozen=True)
class Kept:
    version: str
    status: str
    headers: list[tuple[str, str]]  # without Date
    body: bytes  # empty for a computed route: nobody's answer is kept
    length_at: int = -1  # a computed route's Content-Length, by its place in headers


class PreparedResponses:
    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self.served: dict[str, Served] = {}  # by path, which is the route's rule
        self.kept: dict[tuple[str, str, str], Kept] = {}  # path, host, scheme
        self.observe: Observer | None = None  # set by idp.metrics
        self.replayed = 0  # how many answers came from here: for the tests
        self._date = (0, "")

    def serve(self, path: str, served: Served) -> None:
        self.served[path] = served

    def __call__(self, environ: dict[str, Any],
                 start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        served = self.served.get(path)
        if served is None or not served.accepts(environ):
            return self.app(environ, start_response)
        started = time.perf_counter()
        where = (path, environ.get("HTTP_HOST", ""), environ.get("wsgi.url_scheme", ""))
        kept = self.kept.get(where)
        version = served.version()
        if kept is None or version is None or kept.version != version:
            return self.keep(where, served, environ, start_response)
        if served.compute is None:
            body = kept.body
            headers = [*kept.headers, ("Date", self.date())]
        else:
            computed = served.compute(environ)
            if computed is None:
                return self.app(environ, start_response)
            body = computed
            headers = [*kept.headers, ("Date", self.date())]
            headers[kept.length_at] = ("Content-Length", str(len(body)))
        start_response(kept.status, headers)
        environ[ROUTE] = path  # the matched rule, as idp.access_log stamps it
        self.replayed += 1
        if self.observe is not None:
            self.observe(served.endpoint, environ["REQUEST_METHOD"], kept.status[:3],
                         time.perf_counter() - started, environ)
        return [body]

    def keep(self, where: tuple[str, str, str], served: Served, environ: dict[str, Any],
             start_response: Callable[..., Any]) -> Iterable[bytes]:
        """Flask answers; a 200 its view offered is kept for the next request the route
        accepts (of a computed route, the status and headers only)."""
        answer: list[Any] = []

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answer[:] = [status, headers]
            return start_response(status, headers, exc_info)

        body = self.app(environ, start)
        offer = environ.get(OFFER)
        if (offer is None or not answer or not answer[0].startswith("200 ")
                or any(name.lower() in PERSONAL for name, _ in answer[1])):
            return body
        headers = [(name, value) for name, value in answer[1] if name.lower() != "date"]
        if served.compute is not None:
            names = [name.lower() for name, _ in headers]
            if "content-length" in names:  # else a streamed answer: nothing to keep
                self.kept[where] = Kept(offer, answer[0], headers, b"",
                                        names.index("content-length"))
            return body
        try:
            content = b"".join(body)
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        self.kept[where] = Kept(offer, answer[0], headers, content)
        return [content]

    def date(self) -> str:
        """The Date header, formatted once per second."""
        second = int(time.time())
        if self._date[0] != second:
            self._date = (second, http_date(second))
        return self._date[1]


def plain(environ: dict[str, Any]) -> bool:
    """A GET that sends nothing Flask's answer could depend on."""
    return (environ.get("REQUEST_METHOD") == "GET"
            and not any(environ.get(key) for key in SENT_TO_FLASK)
            and environ.get("CONTENT_LENGTH") in (None, "", "0"))


def offer(version: str) -> None:
    """Called by a view whose answer is the same for every plain GET of its route while
    ``version`` holds."""
    request.environ[OFFER] = version


def install(app: Flask) -> PreparedResponses:
    """Under every other WSGI layer: call before anything else wraps ``app.wsgi_app``."""
    prepared = PreparedResponses(app.wsgi_app)
    app.wsgi_app = prepared  # type: ignore[method-assign]
    app.extensions["idp.prepared"] = prepared
    return prepared


def serve(app: Flask, endpoint: str, version: Version) -> None:
    """Answer this endpoint's plain GETs from the kept bytes while ``version`` holds."""
    _serve(app, endpoint, Served(endpoint, version, plain))


COMPUTED = "headers"  # a computed route's version: its headers do not change


def serve_computed(app: Flask, endpoint: str, accepts: Accepts, compute: Compute) -> None:
    """Answer the requests of this endpoint that ``accepts`` takes with the body
    ``compute`` makes (Flask's answer when it returns None), under the status and
    headers of Flask's last 200 to such a request, which its view offered with
    ``offer(COMPUTED)``."""
    _serve(app, endpoint, Served(endpoint, lambda: COMPUTED, accepts, compute))


def _serve(app: Flask, endpoint: str, served: Served) -> None:
    prepared: PreparedResponses = app.extensions["idp.prepared"]
    for rule in app.url_map.iter_rules(endpoint):
        if rule.arguments:
            raise ValueError(f"{endpoint}: a rule with a variable part ({rule.rule})")
        prepared.serve(rule.rule, served)
