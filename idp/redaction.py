"""The log's safety net: what a log line must never hold in full, rewritten before it is
written, whoever wrote the line (our code, a library, gunicorn).

Call sites log ids and event tags, never a token, code, secret, password, one-time code,
email or address (shared/STYLE.md); this filter catches what slips through: values of
sensitive keys (``password=...``, ``"code": "..."``, ``extra={"token": ...}``), bearer
credentials, JWTs, email addresses, and IP addresses, cut to their network prefix
(IPv4 /24, IPv6 /48: the CNIL's advice for audience measurement keeps no more)."""

from __future__ import annotations

import ipaddress
import logging
import re
from typing import Any

REDACTED = "[redacted]"
# Parts of a key's name that mark its value as secret or personal.
SENSITIVE = ("password", "passwd", "secret", "token", "code", "otp", "assertion",
             "authorization", "cookie", "email", "credential", "key", "hint")
KEY = r"[\w-]*(?:" + "|".join(SENSITIVE) + r")[\w-]*"
KEY_VALUE = re.compile(rf"(?i)\b({KEY})(=)([^\s&;,\"']+)")
JSON_PAIR = re.compile(rf"(?i)([\"']{KEY}[\"']\s*:\s*[\"'])([^\"']*)")
SCHEME_CREDENTIAL = re.compile(r"(?i)\b(bearer|basic|dpop)(\s+)[\w.~+/=-]+")
JWT = re.compile(r"\beyJ[\w-]*\.[\w-]*\.[\w-]*")
# Local parts with "/", "=", "?" or "&" exist (RFC 5322) but are rare; leaving those out
# keeps a path or query around an address readable.
EMAIL = re.compile(r"[\w.!#$%'*+^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w./])")
IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:/])")
PREFIX = {4: 24, 6: 48}

# Attributes every LogRecord has: anything else came from ``extra=``.
STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "request_id"}


def is_sensitive(name: str) -> bool:
    lowered = name.lower()
    return any(part in lowered for part in SENSITIVE)


def network_of(match: re.Match[str]) -> str:
    """An address as its network prefix; anything that only looks like one, unchanged."""
    try:
        address = ipaddress.ip_address(match.group(0))
    except ValueError:
        return match.group(0)
    if address.is_unspecified:  # 0.0.0.0 or :: (a listening socket's), never a client's
        return match.group(0)
    network = ipaddress.ip_network(f"{address}/{PREFIX[address.version]}", strict=False)
    return str(network)


def redact(text: str) -> str:
    """``text`` without secrets, emails or full addresses."""
    text = JWT.sub("[jwt]", text)
    text = SCHEME_CREDENTIAL.sub(rf"\1\2{REDACTED}", text)
    text = KEY_VALUE.sub(rf"\1\2{REDACTED}", text)
    text = JSON_PAIR.sub(rf"\1{REDACTED}", text)
    text = EMAIL.sub("[email]", text)
    text = IPV4.sub(network_of, text)
    return IPV6.sub(network_of, text)


def redact_value(name: str, value: Any) -> Any:
    if is_sensitive(name):
        return REDACTED
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, int | float | bool) or value is None:
        return value
    return redact(str(value))


class Redactor(logging.Filter):
    """Rewrites each record in place: its message (arguments merged in) and the values
    given with ``extra=``. Tracebacks are redacted by the formatters (idp.logs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        # Redacting twice gives the same line: a record may pass several handlers.
        record.msg = redact(record.getMessage())
        record.args = None
        for name in set(vars(record)) - STANDARD:
            setattr(record, name, redact_value(name, getattr(record, name)))
        return True
