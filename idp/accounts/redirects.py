"""Where a page may send the traveller next: only a path on this site, never an open
redirect (OWASP ASVS 5.1.5, CWE-601).

Every ``next`` parameter goes through ``safe_next``. It is strict on purpose: our own
pages only ever pass a percent-encoded ASCII path (``request.full_path``), so anything
else is refused rather than repaired. Browsers drop tab, CR and LF inside URLs and read
a backslash as a slash (WHATWG URL), so ``/\\t/host`` or ``/\\host`` would leave the site;
CR or LF would also split the Location header.

Encoded forms: the path (not the query, where our own ``next`` values legitimately
carry ``%2F`` and ``%20``) is also checked after percent-decoding, until it no longer
changes. A path that decodes to ``//host``, a backslash or a control character is
refused: a proxy or a server that decodes the path once more must not turn a local path
into a network-path reference, and none of our paths needs such characters."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

MAX_LENGTH = 2048  # as the authorization request's own bound
FORBIDDEN = frozenset("\\") | {chr(c) for c in range(0x21)} | {"\x7f"}


def is_local_path(path: str) -> bool:
    """A path that starts with exactly one slash and holds no backslash, whitespace or
    control character."""
    return (path.startswith("/") and not path.startswith("//")
            and not FORBIDDEN.intersection(path))


def decoded_forms(path: str) -> list[str]:
    """``path`` percent-decoded again and again until it no longer changes."""
    forms = [path]
    while len(forms) < 5 and (decoded := unquote(forms[-1])) != forms[-1]:
        forms.append(decoded)
    return forms


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a path on this site, else None."""
    if not target or len(target) > MAX_LENGTH or not target.isascii():
        return None
    try:
        parts = urlsplit(target)
    except ValueError:
        return None
    if parts.scheme or parts.netloc or not is_local_path(target):
        return None
    return target if all(is_local_path(form) for form in decoded_forms(parts.path)) else None
