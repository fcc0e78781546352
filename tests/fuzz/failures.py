"""What a 5xx was: the request that caused it, the exception behind it, and whether it is
one of the classes known to be open (being fixed elsewhere) when this test was written."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

PACKAGES = ("idp", "consent", "clients")


@dataclass(frozen=True)
class Sent:
    method: str
    path: str
    query: str
    body: bytes
    headers: dict[str, str]
    address: str

    def describe(self) -> str:
        headers = {name: value[:150] for name, value in self.headers.items()}
        return (f"{self.method} {self.path[:300]}?{self.query[:300]}\n"
                f"headers: {headers!r}\nbody: {self.body[:600]!r}")


class Captured(logging.Handler):
    """The exception the provider logged (or that escaped every handler)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.exception: BaseException | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            self.exception = record.exc_info[1]

    def record(self, error: BaseException) -> None:
        self.exception = error


@contextmanager
def capture() -> Iterator[Captured]:
    handler = Captured()
    loggers = [logging.getLogger(name) for name in ("idp", "consent", "clients")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


@dataclass(frozen=True)
class Failure:
    sent: Sent
    status: int
    exception: BaseException | None

    def frames(self) -> list[traceback.FrameSummary]:
        if self.exception is None or self.exception.__traceback__ is None:
            return []
        return traceback.extract_tb(self.exception.__traceback__)

    def last_frame(self, ours: bool = False) -> str:
        """The traceback's last frame, or the last one in the project's packages."""
        frames = [f for f in self.frames()
                  if not ours or any(f"/{p}/" in f.filename for p in PACKAGES)]
        if not frames:
            return "no exception logged" if not self.frames() else "none"
        return f"{frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name}"

    def text(self) -> str:
        return "" if self.exception is None else repr(self.exception)

    def describe(self) -> str:
        name = type(self.exception).__name__ if self.exception else "-"
        return (f"{self.status} for {self.sent.describe()}\n{name}: {self.text()[:500]}\n"
                f"last frame: {self.last_frame()}\nlast of ours: {self.last_frame(ours=True)}")


@dataclass(frozen=True)
class KnownOpen:
    """A class of 5xx being fixed in another branch of issue 9."""

    name: str
    matches: Callable[[Failure], bool]


def raised_in(failure: Failure, *functions: str) -> bool:
    return any(frame.name in functions for frame in failure.frames())


def says(failure: Failure, *words: str) -> bool:
    return any(word in failure.text() for word in words)


# TEMPORARY: the classes of 5xx that other branches of issue 9 fix, as named in its
# brief. Every entry goes once they are merged; a 5xx that matches none fails the test.
KNOWN_OPEN: list[KnownOpen] = [
    KnownOpen("(a) /authorize: redirect_uri or response_type with quotes, backslashes, "
              "control or non-ASCII characters",
              lambda f: f.sent.path.startswith("/authorize")
              and isinstance(f.exception, ValueError | UnicodeError)),
    # Also an Authorization header of one word ("Bearer ", "x"): the same Authlib
    # function, extract_basic_authorization, fails on it before any base64.
    KnownOpen("(b) Basic credentials that are not base64 of UTF-8",
              lambda f: isinstance(f.exception, ValueError)  # binascii.Error, UnicodeError
              and raised_in(f, "extract_basic_authorization")),
    KnownOpen("(c) NUL bytes reaching PostgreSQL",
              lambda f: says(f, "cannot contain NUL (0x00) bytes")),
    KnownOpen("(d) lone surrogates in /register JSON",
              lambda f: f.sent.path.startswith("/register")
              and isinstance(f.exception, UnicodeEncodeError) and says(f, "surrogates")),
    KnownOpen("(e) deeply nested JSON in /register",
              lambda f: f.sent.path.startswith("/register")
              and isinstance(f.exception, RecursionError)),
    KnownOpen("(f) http://[127.0.0.1]/-like URIs in registration",
              lambda f: f.sent.path.startswith("/register") and says(f, "IPv6")),
    KnownOpen("(h) CR/LF in /language?next=",
              lambda f: f.sent.path.startswith("/language/") and says(f, "newline")),
]


def known_open(failure: Failure) -> KnownOpen | None:
    return next((known for known in KNOWN_OPEN if known.matches(failure)), None)
