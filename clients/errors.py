"""The one error of client registration (RFC 7591 3.2.2)."""

from __future__ import annotations


class ClientMetadataError(ValueError):
    """Invalid metadata; ``error`` is the RFC 7591 error code."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
