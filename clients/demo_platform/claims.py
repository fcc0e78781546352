"""What the profile page shows of the claims received: a French label for the usual ones
and values written for people, the claim's own name kept beside them."""

from __future__ import annotations

from typing import Any

LABELS = {
    "sub": "Identifiant chez cette plateforme",
    "nickname": "Pseudo",
    "picture": "Photo",
    "given_name": "Prénom",
    "family_name": "Nom",
    "email": "Adresse e-mail",
    "email_verified": "Adresse e-mail vérifiée",
    "phone_number": "Téléphone",
    "phone_number_verified": "Téléphone vérifié",
    "address": "Adresse",
    "locale": "Langue",
    "updated_at": "Profil mis à jour (horodatage)",
    "mob_home_commune": "Commune de résidence",
    "mob_carpool_role": "Rôle en covoiturage",
    "mob_carpool_preferences": "Préférences de covoiturage",
    "mob_vehicle": "Véhicule",
    "mob_preferred_modes": "Modes de déplacement préférés",
}


def shown(value: Any) -> str:
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, list):
        return ", ".join(shown(item) for item in value)
    if isinstance(value, dict):
        if "name" in value:
            return str(value["name"])
        if "formatted" in value:
            return str(value["formatted"])
        return " ; ".join(f"{key} : {shown(item)}" for key, item in value.items())
    return str(value)


def rows(claims: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(label, claim name, value), the labelled claims first, in the order above."""
    order = list(LABELS)
    names = sorted(claims, key=lambda name: (order.index(name) if name in LABELS
                                             else len(order), name))
    return [(LABELS.get(name, name), name, shown(claims[name])) for name in names]
