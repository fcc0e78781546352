"""What a 5xx was: the request that caused it and the exception behind it."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator
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
