"""Documents fetched from platforms (their JWKS), kept per process: a success for a few
minutes, a failure for one, and at most one fetch per address at a time (single flight).

Anyone can name a client in an assertion sent to ``/token``, so each such request must
not fetch: otherwise a platform with a slow or dead ``jwks_uri`` would hold a worker per
request. While a fetch is in flight, the others use the previous keys if there are any,
or fail at once; they never wait for it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from flask import current_app

from idp.outbound import Busy, FetchError

SUCCESS_SECONDS = 300  # as long as our own /jwks.json may be cached
FAILURE_SECONDS = 60  # a failing address is asked again after this, not at every request

T = TypeVar("T")


@dataclass
class Entry(Generic[T]):
    at: float  # wall-clock seconds: a clock jump only ends an entry early or late
    value: T | None = None
    error: str | None = None  # the reason of a failure, for the logs

    def is_fresh(self, now: float) -> bool:
        lifetime = FAILURE_SECONDS if self.error else SUCCESS_SECONDS
        return now - self.at < lifetime


@dataclass
class Documents(Generic[T]):
    entries: dict[str, Entry[T]] = field(default_factory=dict)
    in_flight: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, uri: str, load: Callable[[str], T]) -> T:
        """The document at ``uri``, from the cache or from ``load`` (one caller at a time
        per address). Raises ``FetchError``: the cached failure, or ``Busy``."""
        with self.lock:
            entry = self.entries.get(uri)
            if entry is not None and entry.is_fresh(time.time()):
                return answer(entry)
            if uri in self.in_flight:
                if entry is not None and entry.error is None:
                    return answer(entry)  # the previous keys, while new ones come
                raise Busy()
            self.in_flight.add(uri)
        try:
            value = load(uri)
        except Busy:
            raise  # our own slots were full: nothing is known about the platform
        except Exception as exc:
            self.store(uri, Entry(time.time(), error=getattr(exc, "reason", None)
                                  or type(exc).__name__))
            raise
        else:
            self.store(uri, Entry(time.time(), value=value))
            return value
        finally:
            with self.lock:
                self.in_flight.discard(uri)

    def store(self, uri: str, entry: Entry[T]) -> None:
        with self.lock:
            self.entries[uri] = entry


def answer(entry: Entry[T]) -> T:
    if entry.error is not None:
        raise FetchError(entry.error)
    assert entry.value is not None
    return entry.value


def documents(name: str) -> Documents[T]:
    """The app's cache called ``name`` (one app per process in production)."""
    key = f"idp.documents.{name}"
    found: Documents[T] | None = current_app.extensions.get(key)
    return found or current_app.extensions.setdefault(key, Documents())
