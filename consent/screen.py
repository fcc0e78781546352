"""What the consent screen shows: for each scope asked for, who wants it, why, the
traveller's own values, and whether it is required. Also the digest of each text shown,
which the consent record keeps (shared/SCOPES.md)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from consent.scopes import Scope, describe, preview, preview_claim
from idp.accounts.models import User
from idp.oauth.claims import claims_for_scopes
from idp.oauth.models import Client

# Each of these claims can be unticked on its own (shared/SCOPES.md, scope "profile").
SPLIT_SCOPES = ("profile",)


@dataclass
class Line:
    scope: Scope
    required: bool
    reason: str | None
    shown: list[str]
    claims: list[tuple[str, str | None]] = field(default_factory=list)  # (claim, preview)

    @property
    def text(self) -> str:
        """The exact words shown for this purpose; their SHA-256 goes in the record."""
        return " ".join(str(p) for p in (self.scope.title, self.scope.purpose, self.reason) if p)


def platform_reason(client: Client, scope: str) -> str | None:
    purpose = (client.scope_policy or {}).get(scope, {}).get("purpose") or {}
    language = str(get_locale())
    return purpose.get(language) or next(iter(purpose.values()), None)


def is_required(client: Client, scope: str) -> bool:
    # A sensitive scope can never be required (shared/SCOPES.md), whatever was registered.
    policy = (client.scope_policy or {}).get(scope, {})
    return bool(policy.get("required")) and not describe(scope).sensitive


def build_lines(user: User, client: Client, scopes: list[str]) -> list[Line]:
    lines = []
    for name in scopes:
        if name == "openid":
            continue
        line = Line(describe(name), is_required(client, name), platform_reason(client, name),
                    preview(user, name))
        if name in SPLIT_SCOPES:
            line.claims = [(c, preview_claim(user, c)) for c in claims_for_scopes([name])
                           if c != "updated_at"]
        lines.append(line)
    return lines


def shown_record(lines: list[Line]) -> dict[str, Any]:
    """What goes into the pending interaction, to check the answer and record it."""
    return {
        "language": str(get_locale()),
        "offered": [line.scope.name for line in lines],
        "required": [line.scope.name for line in lines if line.required],
        "claims": {line.scope.name: [c for c, _ in line.claims] for line in lines
                   if line.claims},
        "purposes": [
            {"id": line.scope.name, "version": line.scope.version,
             "sha256": hashlib.sha256(line.text.encode()).hexdigest()}
            for line in lines
        ],
    }


CLAIM_LABELS = {
    "given_name": _l("First name"),
    "family_name": _l("Last name"),
    "gender": _l("Gender"),
    "birthdate": _l("Date of birth"),
    "locale": _l("Preferred language"),
}
