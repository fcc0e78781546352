"""Plain factory functions with keyword overrides."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import count
from typing import Any

from clients.registration import ClientMetadata, register
from idp.accounts.models import User
from idp.accounts.service import create_user
from idp.extensions import db
from idp.oauth.models import Client

_numbers = count(1)
PASSWORD = "a long walk to the carpool meeting point"


@dataclass
class Traveller:
    model: User
    email: str
    password: str


@dataclass
class Platform:
    model: Client
    client_id: str
    secret: str | None
    redirect_uri: str


def make_user(**overrides: Any) -> Traveller:
    n = next(_numbers)
    fields = {"email": f"traveller{n}@example.org", "password": PASSWORD,
              "given_name": "Umberto", "family_name": "Rossi"}
    fields.update(overrides)
    user = create_user(fields.pop("email"), fields.pop("password"),
                       fields.pop("given_name"), fields.pop("family_name"))
    for name, value in fields.items():
        setattr(user, name, value)
    db.session.commit()
    return Traveller(user, user.email, overrides.get("password", PASSWORD))


def make_platform(**overrides: Any) -> Platform:
    n = next(_numbers)
    redirect_uri = overrides.pop("redirect_uri", f"https://carpool{n}.example/callback")
    fields: dict[str, Any] = {
        "client_name": overrides.pop("name", f"Carpool {n}"),
        "redirect_uris": [redirect_uri],
        "scope": "openid profile email phone address offline_access",
        "policy_uri": f"https://carpool{n}.example/privacy",
    }
    if overrides.get("public"):
        fields["scope"] = "openid profile email"
    fields.update(overrides)
    registration = register(ClientMetadata(**fields))
    return Platform(registration.client, registration.client.client_id,
                    registration.client_secret, redirect_uri)
