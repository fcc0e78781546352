"""Sector identifiers (OIDC Core 8.1, OpenID Connect Registration 1.0 section 5): one
platform's redirect hosts grouped into one sector, so they all see the same pairwise
`sub`. The platform proves the grouping with a JSON array of its redirect URIs, served
at its ``sector_identifier_uri`` and fetched once, at registration."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from flask import current_app

from idp import outbound
from idp.oauth.subjects import host_of


class SectorError(ValueError):
    """The sector identifier cannot be accepted; the message says why."""


def several_hosts(redirect_uris: Iterable[str]) -> bool:
    return len({host_of(uri) for uri in redirect_uris}) > 1


def fetch_sector_uris(uri: str) -> list[str]:
    """GET the sector_identifier_uri through the outbound guard: a JSON array of strings.
    Neither its content nor the status it answered is echoed back: a platform would
    use them to probe what the provider can reach."""
    try:
        body = outbound.get(uri)
    except outbound.FetchError as error:
        current_app.logger.warning("sector_identifier_uri fetch failed: %s", error.reason)
        raise SectorError("sector_identifier_uri could not be fetched.") from None
    try:
        data: Any = json.loads(body)
    except ValueError:
        raise SectorError("sector_identifier_uri must serve a JSON array of URIs.") from None
    if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
        raise SectorError("sector_identifier_uri must serve a JSON array of URIs.")
    return data


def validate_sector_identifier(uri: str | None, redirect_uris: list[str]) -> None:
    """OIDC Core 8.1: redirect URIs on several hosts need a sector_identifier_uri, and
    the array it serves must list every redirect URI."""
    if uri is None:
        if several_hosts(redirect_uris):
            raise SectorError("redirect URIs on several hosts need a sector_identifier_uri "
                              "listing them (OIDC Core 8.1).")
        return
    listed = set(fetch_sector_uris(uri))
    missing = [u for u in redirect_uris if u not in listed]
    if missing:
        raise SectorError(f"sector_identifier_uri does not list the redirect URI {missing[0]}.")
